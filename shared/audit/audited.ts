/**
 * The ceremonies and OAuth requests as the routes run them: the domain step, then its audit
 * event (or `ceremony.failed` for a refused verify, the same error rethrown). One call per route,
 * so a handler never sequences storage calls itself.
 */
import type { Context } from 'hono'
import type { Core } from '../core.js'
import { OAuthError } from '../errors.js'
import type { Principal } from '../middleware/bearer.js'
import { completeAuthorization } from '../oauth/authorization/complete.js'
import { authenticateClient } from '../oauth/clientAuth.js'
import { introspect } from '../oauth/introspect.js'
import { revoke, TOKEN_TYPE_HINTS } from '../oauth/revoke.js'
import { completeAuthentication } from '../webauthn/authentication.js'
import { completeRegistration } from '../webauthn/registration.js'
import { ceremonyFailed, recordRegistration, recordSignIn } from './ceremonies.js'
import { auditContext } from './context.js'
import { recordRevocation } from './tokenEvents.js'
import { optionalProof } from '../oauth/dpop.js'
import { header } from '../middleware/body.js'

/** POST /webauthn/registration/verify: the new passkey (and account), audited (the invitation or recovery used too). */
export async function register(core: Core, c: Context, body: Record<string, unknown>, principal?: Principal) {
  // Adding a passkey (a principal) issues no tokens; its bound token's proof was checked already.
  const jkt = principal ? undefined : await proofAt(core, c, 'registration/verify')
  const { enrolment, ...result } = await completeRegistration(core, body, principal, { ...auditContext(c), ...(jkt !== undefined ? { jkt } : {}) }).catch(
    ceremonyFailed(core, c, 'registration', body),
  )
  core.telemetry.count('passkey.ceremonies', { ceremony: 'registration', outcome: 'success' })
  await recordRegistration(core, c, result, principal, enrolment)
  return result
}

/** POST /webauthn/authentication/verify: the tokens of a passkey sign-in, audited. */
export async function signIn(core: Core, c: Context, body: Record<string, unknown>) {
  const jkt = await proofAt(core, c, 'authentication/verify')
  const tokens = await completeAuthentication(core, body, { ...auditContext(c), ...(jkt !== undefined ? { jkt } : {}) }).catch(ceremonyFailed(core, c, 'authentication', body))
  core.telemetry.count('passkey.ceremonies', { ceremony: 'authentication', outcome: 'success' })
  await recordSignIn(core, c, body, tokens)
  return tokens
}

/**
 * RFC 9449 (CONTRACT v2 "DPoP"): the verify's DPoP proof, if one was sent, checked before the
 * ceremony (a refused proof leaves the challenge unused, so the page may retry with a nonce); htu
 * is this endpoint's issuer-derived public URL. 400 problem `invalid_dpop_proof` / `use_dpop_nonce`.
 */
function proofAt(core: Core, c: Context, endpoint: 'registration/verify' | 'authentication/verify'): Promise<string | undefined> {
  return optionalProof(core.dpop, { proof: header(c, 'dpop'), method: 'POST', url: `${core.config.issuer}/webauthn/${endpoint}` }, 'problem')
}

/** POST /oauth2/authorize/complete: where the hosted page sends the browser, the sign-in audited. */
export async function authorize(core: Core, c: Context, body: { request: string; credential: unknown }): Promise<{ redirect_to: string }> {
  const { redirect_to, user, session } = await completeAuthorization(core, body, auditContext(c)).catch(ceremonyFailed(core, c, 'authentication', body))
  core.telemetry.count('passkey.ceremonies', { ceremony: 'authentication', outcome: 'success' })
  await core.audit.record({
    ...auditContext(c),
    type: 'user.signed_in',
    actor: { userId: user.id, username: user.username },
    target: { userId: user.id, username: user.username, sessionId: session.id, ...(session.credentialId ? { credentialId: session.credentialId } : {}) },
    detail: { audience: session.audience, scope: session.scope, amr: session.amr, acr: session.acr, clientId: session.clientId, via: 'authorization_code' },
  })
  return { redirect_to }
}

/** The form's `token` (RFC 7009 §2.1, RFC 7662 §2.1: required). */
function tokenOf(params: Map<string, string>): string {
  const t = params.get('token')
  if (!t) throw new OAuthError('invalid_request', 'token is required')
  return t
}

/**
 * POST /oauth2/revoke (RFC 7009): confidential clients authenticate (private_key_jwt), public
 * clients send client_id, the first-party page sends neither; the revocation is audited.
 */
export async function revocation(core: Core, c: Context, params: Map<string, string>, authorization: string | undefined): Promise<void> {
  const caller = await authenticateClient(core, { params, authorization, endpoint: 'revoke' })
  const token = tokenOf(params)
  const hint = params.get('token_type_hint')
  if (hint && !(TOKEN_TYPE_HINTS as readonly string[]).includes(hint))
    throw new OAuthError('unsupported_token_type', `token_type_hint ${hint} is not supported`)
  const since = core.clock.now()
  await revoke(core, { caller, token })
  await recordRevocation(core, c, token, { clientId: caller.clientId, since })
}

/** POST /oauth2/introspect (RFC 7662), for confidential clients (private_key_jwt). */
export async function introspection(core: Core, params: Map<string, string>, authorization: string | undefined) {
  const caller = await authenticateClient(core, { params, authorization, endpoint: 'introspect' })
  return introspect(core, { caller, token: tokenOf(params) })
}
