/**
 * grant_type=urn:openid:params:grant-type:ciba (OpenID CIBA Core 1.0 §10.1, poll mode): the agent
 * polls for the token of a request the person approves (shared/agents/backchannel.ts).
 *
 * Checks, in order:
 * 1. the caller is an agent authenticated with private_key_jwt (`invalid_client`,
 *    `unauthorized_client`); `auth_req_id` is ours, this agent's, with its secret (`invalid_grant`);
 * 2. already issued → `invalid_grant` (single use); past `expires_in` → `expired_token`; denied →
 *    `access_denied`;
 * 3. still pending → `authorization_pending`, or `slow_down` when polled again within `interval`
 *    (RFC 8628 §3.5, on the request row itself, etag-guarded, so every instance sees it);
 * 4. approved → the person still enabled and the approving passkey still there, not revoked
 *    (`access_denied`), the scope still grantable to the agent (`invalid_scope`); then the delegated session is inserted and the request marked issued in one
 *    transaction guarded by the request's etag: of two concurrent polls exactly one gets the token.
 *
 * The token: `sub` the person, `client_id` and `act.sub` the agent, `auth_time`/`amr`/`acr` of the
 * approving assertion, and `authorization_details` when they were asked; a refresh token only for
 * a standing delegation (no `authorization_details`). A per-action session lives as long as its
 * access token.
 */
import { agentOf, requestOf } from '../../agents/backchannel.js'
import { CIBA_GRANT } from '../../schemas/agents.js'
import { OAuthError } from '../../errors.js'
import { CLOCK_SKEW } from '../../tokens/accessToken.js'
import { ConcurrencyError, type BackchannelRequestRecord } from '../../store/types.js'
import { seconds } from '../../util/clock.js'
import { allowedScopes, scopeRefusal, ungrantable } from '../scopes.js'
import { requestedResource } from '../resource.js'
import { tokenType } from '../../tokens/sessions.js'
import type { GrantContext, GrantHandler, TokenEndpointResponse } from './types.js'

export const grantType = CIBA_GRANT
export const parameters = ['auth_req_id', 'resource', 'client_assertion_type', 'client_assertion', 'client_id'] as const

/** Tries: a lost etag race reads the request again once (the winner's write decides). */
const TRIES = 2

export const handler: GrantHandler = async (ctx) => {
  const { core, params, client } = ctx
  const agent = agentOf(client)
  const authReqId = params.get('auth_req_id')
  if (!authReqId) throw new OAuthError('invalid_request', 'auth_req_id is required')
  const found = await requestOf(core, authReqId, agent.id)
  if (!found) throw new OAuthError('invalid_grant', 'auth_req_id is not valid')
  // RFC 8707: checked before any poll is recorded (the audience itself is set in poll()).
  requestedResource(core.config, params)
  let request: BackchannelRequestRecord | undefined = found
  for (let attempt = 1; ; attempt++) {
    if (!request) throw new OAuthError('invalid_grant', 'auth_req_id is not valid')
    try {
      return await poll(ctx, request)
    } catch (e) {
      if (!(e instanceof ConcurrencyError)) throw e
      // Another poll (or the person) wrote first. Polling concurrently is polling too fast.
      if (attempt >= TRIES) throw new OAuthError('slow_down', `Poll at most every ${found.interval} seconds`)
      request = await core.store.getBackchannelRequest(found.userId, found.id)
    }
  }
}

async function poll({ core, params, client, jkt }: GrantContext, request: BackchannelRequestRecord): Promise<TokenEndpointResponse> {
  const { config, store, sessions, clock } = core
  const now = clock.now()
  if (request.state === 'issued') throw new OAuthError('invalid_grant', 'auth_req_id was already used')
  if (now >= request.expiresAt) throw new OAuthError('expired_token', 'The request expired before the person approved it: ask again')
  if (request.state === 'denied') throw new OAuthError('access_denied', 'The person denied the request')
  if (request.state === 'pending' || !request.approval) {
    const tooFast = request.lastPolledAt !== undefined && now - request.lastPolledAt < request.interval * 1000
    await store.updateBackchannelRequest({ ...request, lastPolledAt: now })
    if (tooFast) throw new OAuthError('slow_down', `Poll at most every ${request.interval} seconds`)
    throw new OAuthError('authorization_pending', 'The person has not approved the request yet')
  }

  const { approval } = request
  const [user, passkey] = await Promise.all([store.getUser(request.userId), store.getCredential(request.userId, approval.credentialId)])
  if (!user || user.disabledAt !== undefined) throw new OAuthError('access_denied', 'The account of the person is disabled')
  // The delegated session is tied to the approving passkey (deleting it revokes the session): one
  // deleted or revoked since the approval approves nothing.
  if (!passkey || passkey.flaggedAt !== undefined) throw new OAuthError('access_denied', 'The passkey that approved the request was deleted or revoked')
  const refused = ungrantable(request.scope, allowedScopes(config, agentOf(client)))
  if (refused.length) throw new OAuthError('invalid_scope', scopeRefusal(refused))
  // The signing key must be usable before the session is stored (no session without a token).
  // RFC 8707: the delegated token's audience (one of AUDIENCES; default the first).
  const audience = requestedResource(config, params) ?? config.audiences[0]!
  await core.keyRing.signingKey()
  const perAction = request.authorizationDetails !== undefined
  const { session, refreshToken } = await sessions.create({
    user,
    credentialId: approval.credentialId,
    clientId: request.clientId,
    audience,
    scope: request.scope,
    amr: approval.amr,
    acr: approval.acr,
    jkt,
  })
  session.authTime = approval.authTime
  session.delegation = { requestId: request.id, ...(perAction ? { authorizationDetails: request.authorizationDetails } : {}) }
  // Per action: nothing to refresh, so the session only has to outlive its access token.
  if (perAction) session.expiresAt = (seconds(now) + config.accessTokenTtl + CLOCK_SKEW) * 1000
  // Sign first: a signing failure leaves the request approved, and the agent's next poll works.
  let response: TokenEndpointResponse
  if (perAction) {
    const { token, expiresIn } = await sessions.accessToken(user, session)
    response = { access_token: token, token_type: tokenType(session), expires_in: expiresIn, scope: session.scope }
  } else response = await sessions.respond(user, session, refreshToken)
  await store.issueBackchannel({ ...request, state: 'issued', sessionId: session.id, lastPolledAt: now }, session)
  return response
}
