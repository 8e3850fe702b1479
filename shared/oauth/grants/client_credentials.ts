/**
 * grant_type=client_credentials (RFC 6749 §4.4) for confidential machine clients authenticated
 * with private_key_jwt (RFC 7523 §2.2; see ../clientAssertion.ts). No authentication, or any
 * other kind, is 401 invalid_client.
 *
 * The client is its own subject: `sub` = `client_id` = the client id, `roles` its roles (from its
 * principal row), and a session row gives the token a `sid`, so the authorizer and revocation
 * treat it like a user's token. The session lives as long as the access token. No refresh token
 * (§4.4.3), no ID token, and no auth_time/amr/acr: no end-user authenticated (RFC 9068 §2.2.1).
 */
import { OAuthError } from '../../errors.js'
import { CLOCK_SKEW } from '../../tokens/accessToken.js'
import { seconds } from '../../util/clock.js'
import { allowedScopes, requestedScope, scopeRefusal, ungrantable } from '../scopes.js'
import { requestedResource } from '../resource.js'
import { tokenType } from '../../tokens/sessions.js'
import type { GrantHandler } from './types.js'

export const grantType = 'client_credentials'
export const parameters = ['scope', 'resource', 'client_assertion_type', 'client_assertion', 'client_id'] as const

export const handler: GrantHandler = async ({ core, params, client, jkt }) => {
  const { config, store, sessions, tokens, clock } = core
  if (client.method !== 'private_key_jwt')
    throw new OAuthError('invalid_client', 'client_credentials needs client authentication with private_key_jwt (client_assertion)')
  // An agent acts only for people who approve it (CIBA): its roles are their ceiling, never its own grant.
  if (client.client.agent === true)
    throw new OAuthError('unauthorized_client', 'An agent gets tokens only for the people who approve it (urn:openid:params:grant-type:ciba)')
  const scope = requestedScope(params) ?? ''
  // Granted, not echoed: the client's registered scopes (and openid, profile) only.
  const refused = ungrantable(scope, allowedScopes(config, client.client))
  if (refused.length) throw new OAuthError('invalid_scope', scopeRefusal(refused))
  // RFC 8707: `resource` picks one of the configured audiences (default: the first).
  const audience = requestedResource(config, params) ?? config.audiences[0]!
  const principal = await store.getUser(client.clientId)
  if (!principal) throw new OAuthError('invalid_client', 'The client has no principal (registration incomplete)')

  // The signing key must be usable before the session is stored (no session without a token).
  await core.keyRing.signingKey()
  const now = clock.now()
  const { session } = await sessions.create({ user: principal, clientId: client.clientId, audience, scope, amr: [], acr: '', jkt })
  // The session only has to outlive the access token (plus the verifiers' clock allowance).
  session.expiresAt = (seconds(now) + config.accessTokenTtl + CLOCK_SKEW) * 1000
  await store.createSession(session)
  const { token, expiresIn } = await tokens.sign({
    sub: principal.id,
    aud: audience,
    client_id: client.clientId,
    scope,
    roles: principal.roles,
    sid: session.id,
    ...(jkt !== undefined ? { cnf: { jkt } } : {}),
  })
  return { access_token: token, token_type: tokenType(session), expires_in: expiresIn, ...(scope ? { scope } : {}) }
}
