/**
 * redirect_uri: present once and registered for the client, compared as exact strings
 * (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3); for a loopback IP literal over http any port matches
 * (RFC 8252 §7.3). An unregistered URI is never redirected to (§4.1.2.1).
 */
import type { ClientRecord } from '../../store/types.js'
import { AuthorizationError, single, type CheckContext } from './types.js'

export function redirectUriRegistered(client: ClientRecord, uri: string): boolean {
  if (client.redirectUris.includes(uri)) return true
  const portless = (u: string) => {
    try {
      const url = new URL(u)
      if (url.protocol !== 'http:' || !(url.hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(url.hostname))) return undefined
      return `http://${url.hostname}${url.pathname}${url.search}`
    } catch {
      return undefined
    }
  }
  const asked = portless(uri)
  return asked !== undefined && !uri.includes('#') && client.redirectUris.some((r) => portless(r) === asked)
}

export function checkRedirectUri(ctx: CheckContext): void {
  const uri = single(ctx, 'redirect_uri', false)
  if (!uri) throw new AuthorizationError('invalid_request', 'redirect_uri is missing', false)
  if (!ctx.client || !redirectUriRegistered(ctx.client, uri))
    throw new AuthorizationError('invalid_request', 'redirect_uri is not registered for this application', false)
  ctx.request.redirectUri = uri
}
