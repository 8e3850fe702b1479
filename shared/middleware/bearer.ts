/**
 * Bearer access tokens on our own endpoints (RFC 6750): signature, typ, iss, aud, exp, and the
 * session must still be live (revocation takes effect at once, not at `exp`).
 */
import type { Context } from 'hono'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { InvalidToken, type AccessTokenClaims } from '../tokens/accessToken.js'

export interface Principal {
  claims: AccessTokenClaims
  userId: string
  sessionId: string
}

function challenge(error: string, description: string): Record<string, string> {
  // RFC 6750 §3: error and error_description in WWW-Authenticate.
  return { 'www-authenticate': `Bearer error="${error}", error_description="${description.replace(/"/g, "'")}"` }
}

/** The Authorization header's bearer token, or undefined when there is none. */
export function bearerToken(c: Context): string | undefined {
  const h = c.req.header('authorization')
  if (!h) return undefined
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(h.trim())
  if (!m) throw new ServiceError('unauthorized', 'Authorization must be "Bearer <token>"', { headers: challenge('invalid_request', 'malformed Authorization header') })
  return m[1]
}

/** Verifies the bearer token; throws `unauthorized` (401) when absent or not valid. */
export async function authenticate(core: Core, c: Context): Promise<Principal> {
  const token = bearerToken(c)
  if (!token) throw new ServiceError('unauthorized', 'A bearer access token is required', { headers: { 'www-authenticate': 'Bearer' } })
  return verifyBearer(core, token)
}

/**
 * A person's token (a passkey sign-in), not a machine client's: client_credentials tokens have
 * `sub` = `client_id` and must not reach passkey or account self-service (a client could
 * otherwise register a passkey on its own principal and mint passkey-level tokens).
 */
export async function authenticateUser(core: Core, c: Context): Promise<Principal> {
  const principal = await authenticate(core, c)
  if (principal.claims.sub === principal.claims.client_id)
    throw new ServiceError('forbidden', 'Machine clients have no passkeys or account; sign in as a person')
  return principal
}

export async function verifyBearer(core: Core, token: string): Promise<Principal> {
  let claims: AccessTokenClaims
  try {
    claims = await core.tokens.verify(token, { audiences: core.config.audiences })
  } catch (e) {
    if (e instanceof InvalidToken)
      throw new ServiceError('unauthorized', `The access token is not valid: ${e.message}`, { headers: challenge('invalid_token', e.message) })
    throw e
  }
  const session = await core.store.getSession(claims.sub, claims.sid)
  if (!session || session.revokedAt)
    throw new ServiceError('unauthorized', 'The session of this token was revoked', { headers: challenge('invalid_token', 'session revoked') })
  return { claims, userId: claims.sub, sessionId: claims.sid }
}
