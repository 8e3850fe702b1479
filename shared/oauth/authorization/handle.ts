/**
 * The authorization request between the hosted page and POST …/authorize/complete, as a sealed
 * handle (AES-256-GCM, shared/oauth/seal.ts): nothing in it can be changed or swapped for another
 * client's, redirect URI or PKCE challenge without breaking the seal, and no server state is
 * kept while the user looks for their passkey.
 *
 * The page's handle is first bound to one WebAuthn challenge (POST …/authorize/options): complete
 * accepts only an assertion over that challenge, so an assertion made for one request (or for the
 * first-party sign-in) cannot be spent on another, and the challenge's single use makes the bound
 * handle single use too.
 */
import type { Core } from '../../core.js'
import { openJson, sealJson } from '../seal.js'
import type { AuthorizationRequest } from './types.js'

/** How long the page may wait for the user before the request must start again (ms). */
export const REQUEST_TTL_MS = 15 * 60_000

export interface SealedRequest extends AuthorizationRequest {
  /** Absolute expiry, ms. */
  expiresAt: number
  /** The WebAuthn challenge this handle is bound to (absent until …/options). */
  challenge?: string
}

export function sealRequest(core: Core, request: SealedRequest): Promise<string> {
  return sealJson(core.oauthKey, 'oauth-authorization-request-v1', request)
}

/** The request, or undefined when the handle is not ours, was tampered with, or expired. */
export async function openRequest(core: Core, handle: unknown): Promise<SealedRequest | undefined> {
  const r = await openJson<SealedRequest>(core.oauthKey, 'oauth-authorization-request-v1', handle)
  if (!r || typeof r.expiresAt !== 'number' || core.clock.now() > r.expiresAt) return undefined
  return r
}
