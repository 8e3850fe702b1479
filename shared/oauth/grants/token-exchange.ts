/**
 * grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693 §2; CONTRACT v2 "Token
 * exchange"): an agent holding a person's access token exchanges it for a delegated access token,
 * only while that person has a standing delegation to this agent, with a scope no wider.
 *
 * Checks, in order:
 * 1. the caller is an agent authenticated with private_key_jwt (`invalid_client`,
 *    `unauthorized_client`);
 * 2. the request (RFC 8693 §2.1; §2.2.2 `invalid_request`): no `actor_token`/`actor_token_type`
 *    (the actor is the authenticated agent), `subject_token` present, `subject_token_type` the
 *    access token type, `requested_token_type` absent or that type; `scope` well formed
 *    (`invalid_scope`); `audience` and `resource` equal when both are sent (`invalid_target`);
 * 3. the subject token is an access token of ours (key ring signature, `iss`, `aud`, `exp`), not
 *    a delegated one (`act`: nested delegation is not supported); its session live, the person
 *    enabled, its client still registered, as introspection checks it. Anything else is
 *    `invalid_grant` (the contract's answer; RFC 8693 §2.2.2 would say `invalid_request`);
 * 4. the person has a live standing delegation to this agent (`invalid_grant`); the requested
 *    scope is within one of them (`invalid_scope`; default: the most recently used one's scope)
 *    and still grantable to the agent (`invalid_scope`); the audience (default the delegation's)
 *    one of AUDIENCES (`invalid_target`). A client's own token (client_credentials) fails here:
 *    only people (named by username at bc-authorize) have delegations.
 *
 * The token is that delegation's: `sid` its session (revoking the delegation stops it at the
 * authorizer), `sub` the person, `client_id` and `act.sub` the agent, the approval's
 * `auth_time`/`amr`/`acr`. Nothing is written (a write to the delegation's row would race its
 * refresh rotation, which takes a lost etag race for reuse), and there is no refresh token: the
 * agent already holds the delegation's.
 */
import { findClient } from '../clientMetadata.js'
import { agentOf } from '../../agents/backchannel.js'
import { standingDelegations } from '../../agents/delegations.js'
import { isLive } from '../../account/sessions.js'
import { OAuthError } from '../../errors.js'
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../../schemas/oauth.js'
import { InvalidToken, type AccessTokenClaims } from '../../tokens/accessToken.js'
import { FIRST_PARTY_CLIENT, tokenType } from '../../tokens/sessions.js'
import type { Core } from '../../core.js'
import { allowedScopes, requestedScope, scopeRefusal, ungrantable } from '../scopes.js'
import type { GrantHandler } from './types.js'

export const grantType = TOKEN_EXCHANGE_GRANT
export const parameters = [
  'subject_token', 'subject_token_type', 'scope', 'audience', 'resource', 'requested_token_type',
  'client_assertion_type', 'client_assertion', 'client_id',
] as const

export const handler: GrantHandler = async ({ core, params, client, jkt }) => {
  const { config, sessions, clock } = core
  // 1. Agents only: a person's token in another client's hands gets it nothing here.
  const agent = agentOf(client)

  // 2. The request (RFC 8693 §2.1).
  if (params.has('actor_token') || params.has('actor_token_type'))
    throw new OAuthError('invalid_request', 'actor_token is not supported: the actor is the authenticated agent (act.sub)')
  const subjectToken = params.get('subject_token')
  if (!subjectToken) throw new OAuthError('invalid_request', 'subject_token is required')
  const subjectTokenType = params.get('subject_token_type')
  if (!subjectTokenType) throw new OAuthError('invalid_request', 'subject_token_type is required')
  if (subjectTokenType !== ACCESS_TOKEN_TYPE)
    throw new OAuthError('invalid_request', `subject_token_type is not supported: only ${ACCESS_TOKEN_TYPE}`)
  const requested = params.get('requested_token_type')
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE)
    throw new OAuthError('invalid_request', `requested_token_type is not supported: only ${ACCESS_TOKEN_TYPE}`)
  const scope = requestedScope(params)
  const target = targetOf(params)

  // 3. The subject token: a live access token of ours for a person.
  const claims = await subjectClaims(core, subjectToken)
  if (claims.act !== undefined)
    throw new OAuthError('invalid_grant', 'subject_token is a delegated token (act): only a person\'s own token can be exchanged')
  const thirdParty = claims.client_id !== FIRST_PARTY_CLIENT
  const [session, user, subjectClient, delegations] = await Promise.all([
    core.store.getSession(claims.sub, claims.sid),
    core.store.getUser(claims.sub),
    thirdParty ? findClient(core, claims.client_id).catch(() => undefined) : undefined,
    standingDelegations(core, { userId: claims.sub, agentId: agent.id }),
  ])
  if (!session || !isLive(session, clock.now())) throw new OAuthError('invalid_grant', 'subject_token is not valid: its session ended')
  if (!user || user.disabledAt !== undefined) throw new OAuthError('invalid_grant', 'The account of the person is disabled or deleted')
  if (thirdParty && !subjectClient) throw new OAuthError('invalid_grant', 'subject_token was issued to a client that is no longer registered')

  // 4. A standing delegation of this person to this agent, covering the scope.
  if (!delegations.length) throw new OAuthError('invalid_grant', 'The person has no standing delegation to this agent')
  const delegation = scope === undefined ? delegations[0] : delegations.find((d) => within(scope, d.scope))
  if (!delegation) throw new OAuthError('invalid_scope', "scope exceeds the scope the person delegated to this agent")
  const granted = scope ?? delegation.scope
  // Granted, not echoed: what the agent may be granted today (its registration may have changed).
  const refused = ungrantable(granted, allowedScopes(config, agent))
  if (refused.length) throw new OAuthError('invalid_scope', scopeRefusal(refused))
  // RFC 8707 / RFC 8693 §2.1: one of AUDIENCES (the delegation's may have been dropped since).
  const audience = target ?? delegation.audience
  if (!config.audiences.includes(audience)) throw new OAuthError('invalid_target', 'audience must be one of the configured audiences')

  // RFC 9449: bound to this request's proof key, if any (not to the delegation's own binding).
  const { token, expiresIn } = await sessions.accessToken(user, { ...delegation, scope: granted, audience, jkt })
  return { access_token: token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: tokenType({ jkt }), expires_in: expiresIn, scope: granted }
}

/** RFC 8693 §2.1 `audience`, RFC 8707 `resource`: the target asked for; both sent, the same one. */
function targetOf(params: Map<string, string>): string | undefined {
  const audience = params.get('audience')
  const resource = params.get('resource')
  if (audience !== undefined && resource !== undefined && audience !== resource)
    throw new OAuthError('invalid_target', 'audience and resource name different targets: a token has one audience')
  return audience ?? resource
}

/** Every scope of `scope` is one of `granted`'s. */
function within(scope: string, granted: string): boolean {
  const have = new Set(granted.split(' '))
  return scope.split(' ').every((s) => have.has(s))
}

async function subjectClaims(core: Core, token: string): Promise<AccessTokenClaims> {
  try {
    return await core.tokens.verify(token, { audiences: core.config.audiences })
  } catch (e) {
    if (e instanceof InvalidToken) throw new OAuthError('invalid_grant', `subject_token is not a valid access token (${e.message})`)
    throw e
  }
}
