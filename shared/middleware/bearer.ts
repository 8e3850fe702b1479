/**
 * Bearer access tokens on our own endpoints (RFC 6750): signature, typ, iss, aud, exp, and the
 * session must still be live (revocation takes effect at once, not at `exp`). A DPoP-bound token
 * (`cnf.jkt`, the page's own) is accepted only as `Authorization: DPoP` with a proof by its key
 * for this method and URL (RFC 9449 §7); the URL is the issuer-derived public one, as at the
 * token endpoint (docs/dpop.md).
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { Core } from '../core.js'
import type { AppEnv } from '../env.js'
import { ServiceError } from '../errors.js'
import { InvalidToken, type AccessTokenClaims } from '../tokens/accessToken.js'
import { FIRST_PARTY_CLIENT } from '../tokens/sessions.js'
import { DPoPError, dpopChallenge } from '../oauth/dpop.js'
import { header } from './body.js'

export interface Principal {
  claims: AccessTokenClaims
  userId: string
  sessionId: string
}

function challenge(error: string, description: string): Record<string, string> {
  // RFC 6750 §3: error and error_description in WWW-Authenticate.
  return { 'www-authenticate': `Bearer error="${error}", error_description="${description.replace(/"/g, "'")}"` }
}

/** The Authorization header's token (`Bearer` or `DPoP` scheme), or undefined when there is none. */
export function presentedToken(c: Context): { token: string; dpop: boolean } | undefined {
  const h = c.req.header('authorization')
  if (!h) return undefined
  const m = /^(Bearer|DPoP) +([A-Za-z0-9._~+/-]+=*)$/i.exec(h.trim())
  if (!m) throw new ServiceError('unauthorized', 'Authorization must be "Bearer <token>" or "DPoP <token>"', { headers: challenge('invalid_request', 'malformed Authorization header') })
  return { token: m[2]!, dpop: m[1]!.toLowerCase() === 'dpop' }
}

/** The Authorization header's bearer (or DPoP) token, or undefined when there is none. */
export function bearerToken(c: Context): string | undefined {
  return presentedToken(c)?.token
}

/** Verifies the bearer token; throws `unauthorized` (401) when absent or not valid. */
export async function authenticate(core: Core, c: Context): Promise<Principal> {
  const presented = presentedToken(c)
  if (!presented) throw new ServiceError('unauthorized', 'A bearer access token is required', { headers: { 'www-authenticate': 'Bearer' } })
  const principal = await verifyBearer(core, presented.token)
  const jkt = principal.claims.cnf?.jkt
  if (jkt === undefined) {
    if (presented.dpop) throw new ServiceError('unauthorized', 'This token is not DPoP-bound: send it as Bearer', { headers: challenge('invalid_token', 'token is not DPoP-bound') })
    return principal
  }
  await proveKey(core, c, presented, jkt)
  return principal
}

/** RFC 9449 §7: a bound token's call carries the DPoP scheme and a proof by the bound key. */
async function proveKey(core: Core, c: Context, presented: { token: string; dpop: boolean }, jkt: string): Promise<void> {
  const refuse = (e: DPoPError) =>
    new ServiceError('unauthorized', `DPoP: ${e.message}`, { headers: { 'www-authenticate': dpopChallenge(e), ...(e.nonce ? { 'dpop-nonce': e.nonce } : {}) } })
  if (!presented.dpop) throw refuse(new DPoPError('invalid_dpop_proof', 'This token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof'))
  // The public URL: the issuer's (which ends in /api) and the path under /api.
  const url = `${core.config.issuer}${c.req.path.replace(/^\/api(?=\/|$)/, '')}`
  try {
    await core.dpop.verify({ proof: header(c, 'dpop'), method: c.req.method, url, accessToken: presented.token, jkt })
  } catch (e) {
    if (e instanceof DPoPError) throw refuse(e)
    throw e
  }
}

/**
 * A person's token from our own sign-in (client `passkey-web`): account self-service and adding
 * passkeys change how the account is protected, so neither a machine client's token
 * (client_credentials: `sub` = `client_id`; it could register a passkey on its own principal)
 * nor a token issued to a third-party app through the code flow (it could plant a passkey and
 * take the account over) may reach them.
 */
async function authenticateUser(core: Core, c: Context): Promise<Principal> {
  const principal = await authenticate(core, c)
  if (principal.claims.sub === principal.claims.client_id)
    throw new ServiceError('forbidden', 'Machine clients have no passkeys or account; sign in as a person')
  if (principal.claims.client_id !== FIRST_PARTY_CLIENT)
    throw new ServiceError('forbidden', 'Tokens issued to other applications cannot manage the account; sign in on this service', {
      headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
    })
  return principal
}

/** The env of the handlers after a required bearer: `c.var.principal` is set. */
export type WithPrincipal = AppEnv & { Variables: { principal: Principal } }

export interface BearerOptions {
  /** Only a person's token from our own sign-in (see authenticateUser): account routes. */
  firstParty?: boolean
  /**
   * No Authorization header → on without a principal (registration: signing up); a header that is
   * there must still verify.
   */
  optional?: boolean
}

/**
 * Verifies the bearer token before the handler and publishes its caller as `c.var.principal`.
 * 401 (`unauthorized`, with the RFC 6750 challenge) when absent or not valid; with `firstParty`,
 * 403 for a machine's or another application's token.
 *
 * @example
 * r.get('/', requireBearer(core, { firstParty: true }), (c) => c.json(c.var.principal.claims))
 */
export function requireBearer(core: Core, opts: BearerOptions & { optional: true }): MiddlewareHandler<AppEnv>
export function requireBearer(core: Core, opts?: BearerOptions & { optional?: false }): MiddlewareHandler<WithPrincipal>
export function requireBearer(core: Core, { firstParty = false, optional = false }: BearerOptions = {}): MiddlewareHandler<AppEnv> | MiddlewareHandler<WithPrincipal> {
  const mw: MiddlewareHandler<AppEnv> = async function requireBearer(c, next) {
    if (optional && bearerToken(c) === undefined) return next()
    c.set('principal', firstParty ? await authenticateUser(core, c) : await authenticate(core, c))
    await next()
  }
  return mw
}

/** A first-party user's token or a machine client's own token (administration by clients). */
export function firstPartyOrMachine(principal: Principal): boolean {
  const { sub, client_id } = principal.claims
  return client_id === FIRST_PARTY_CLIENT || sub === client_id
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
