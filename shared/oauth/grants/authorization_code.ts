/**
 * grant_type=authorization_code (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.5–4.6), for public
 * clients identified by `client_id`. Checks, in order:
 * 1. `code`, `redirect_uri` present; the caller is a registered public client;
 * 2. the code is ours (sealed) and points at a session with a code binding;
 * 3. a code asked for with `dpop_jkt` needs a proof by that key (RFC 9449 §10; checked before
 *    reuse detection, so a replay without the key revokes nothing); a code already used →
 *    invalid_grant, and the session it produced is revoked (§4.1.2);
 * 4. not expired (60 s), issued to this client, `redirect_uri` identical to the authorization
 *    request's (§4.1.3), `code_verifier` matches the S256 challenge (RFC 7636 §4.6);
 *    `resource`, when sent, is the authorization request's (RFC 8707 §2.2; else invalid_target);
 * 5. marked used and given its first refresh token in one etag-guarded write: of two concurrent
 *    exchanges one wins and the other revokes the session.
 * Then access, refresh and (scope `openid`) ID token with the request's `nonce`.
 */
import { OAuthError } from '../../errors.js'
import { ConcurrencyError } from '../../store/types.js'
import { sha256b64u } from '../../util/hash.js'
import { randomId } from '../../util/random.js'
import { openCode } from '../authorization/code.js'
import { verifyPkce } from '../pkce.js'
import { requestedResource } from '../resource.js'
import type { GrantHandler } from './types.js'

export const grantType = 'authorization_code'
export const parameters = ['code', 'redirect_uri', 'client_id', 'code_verifier', 'resource'] as const

export const handler: GrantHandler = async ({ core, params, client, jkt }) => {
  const { store, sessions, clock } = core
  const code = params.get('code')
  const redirectUri = params.get('redirect_uri')
  if (!code) throw new OAuthError('invalid_request', 'code is required')
  if (!redirectUri) throw new OAuthError('invalid_request', 'redirect_uri is required')
  if (client.method !== 'none' || !client.client) {
    if (client.clientId === undefined) throw new OAuthError('invalid_request', 'client_id is required')
    throw new OAuthError('unauthorized_client', 'The authorization code grant is for registered public clients')
  }

  const ref = await openCode(core, code)
  if (!ref) throw new OAuthError('invalid_grant', 'The authorization code is not valid')
  const [session, user] = await Promise.all([store.getSession(ref.userId, ref.sessionId), store.getUser(ref.userId)])
  const binding = session?.authorizationCode
  if (!session || !user || !binding) throw new OAuthError('invalid_grant', 'The authorization code is not valid')
  // RFC 9449 §10: a code asked for with dpop_jkt is exchanged only with a proof by that key.
  // Before reuse detection: a replayed code without that key must not revoke the session it produced.
  if (binding.dpopJkt !== undefined && jkt !== binding.dpopJkt)
    throw new OAuthError('invalid_dpop_proof', 'The authorization request named a DPoP key (dpop_jkt): send a proof signed by it')
  if (binding.usedAt !== undefined) {
    await sessions.revoke(session, 'authorization code reuse')
    throw new OAuthError('invalid_grant', 'The authorization code was already used; the session it produced is revoked')
  }
  if (user.disabledAt !== undefined) throw new OAuthError('invalid_grant', 'The account is disabled')
  if (session.revokedAt) throw new OAuthError('invalid_grant', 'The session of this code was revoked')
  const now = clock.now()
  if (now >= binding.expiresAt) throw new OAuthError('invalid_grant', 'The authorization code expired')
  if (session.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'The authorization code was issued to another client')
  if (redirectUri !== binding.redirectUri)
    throw new OAuthError('invalid_grant', 'redirect_uri is not the one of the authorization request')
  if (!(await verifyPkce({ verifier: params.get('code_verifier'), expectedChallenge: binding.codeChallenge })))
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge (PKCE S256)')
  // RFC 8707 §2.2: the code remembers its resource (the session's audience); only that one.
  requestedResource(core.config, params, { expected: session.audience })
  // …which must still be one of AUDIENCES (they may have changed since the sign-in).
  if (!core.config.audiences.includes(session.audience))
    throw new OAuthError('invalid_target', 'The resource of this code is no longer one of the configured audiences')

  const secret = randomId(32)
  // RFC 9449 §5: the session's tokens are bound to the exchange's proof key.
  const used = { ...session, authorizationCode: { ...binding, usedAt: now }, lastUsedAt: now, refreshHash: await sha256b64u(secret), ...(jkt !== undefined ? { jkt } : {}) }
  // Sign first: a signing failure leaves the code unused, so the client's retry is not "reuse".
  const response = await sessions.respond(user, used, `${ref.userId}.${ref.sessionId}.${secret}`, binding.nonce !== undefined ? { nonce: binding.nonce } : {})
  try {
    await store.updateSession(used)
  } catch (e) {
    if (!(e instanceof ConcurrencyError)) throw e
    const fresh = await store.getSession(ref.userId, ref.sessionId)
    if (fresh) await sessions.revoke(fresh, 'authorization code reuse')
    throw new OAuthError('invalid_grant', 'The authorization code was already used; the session it produced is revoked')
  }
  return response
}
