/**
 * redirect_uri: present once and registered for the client, compared as exact strings
 * (CONTRACT "exact redirect_uri match"; RFC 6749 §3.1.2.3, RFC 9700 §4.1.3) — also for loopback
 * URIs, so a native app registers the port it listens on. An unregistered URI is never
 * redirected to (§4.1.2.1).
 */
import type { ClientRecord } from '../../store/types.js'
import { AuthorizationError, single, type CheckContext } from './types.js'

export function redirectUriRegistered(client: ClientRecord, uri: string): boolean {
  return client.redirectUris.includes(uri)
}

export function checkRedirectUri(ctx: CheckContext): void {
  const uri = single(ctx, 'redirect_uri', false)
  if (!uri) throw new AuthorizationError('invalid_request', 'redirect_uri is missing', false)
  if (!ctx.client || !redirectUriRegistered(ctx.client, uri))
    throw new AuthorizationError('invalid_request', 'redirect_uri is not registered for this application', false)
  ctx.request.redirectUri = uri
}
