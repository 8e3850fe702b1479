/**
 * grant_type=refresh_token (RFC 6749 §6): rotation and reuse detection live in
 * shared/tokens/sessions.ts (`Sessions.refresh`). A narrower scope may be asked for; `resource`
 * (RFC 8707 §2.2) only the session's own (its tokens' audience), else invalid_target.
 */
import { OAuthError } from '../../errors.js'
import { allowedScopes, requestedScope } from '../scopes.js'
import { requestedResource } from '../resource.js'
import type { GrantHandler } from './types.js'

export const grantType = 'refresh_token'
export const parameters = ['refresh_token', 'scope', 'client_id', 'resource'] as const

export const handler: GrantHandler = async ({ core, params, client, jkt }) => {
  const token = params.get('refresh_token')
  if (!token) throw new OAuthError('invalid_request', 'refresh_token is required')
  const scope = requestedScope(params)
  const resource = requestedResource(core.config, params)
  return core.sessions.refresh(token, { clientId: client.clientId, scope, resource, grantable: allowedScopes(core.config, client.client), ...(jkt !== undefined ? { jkt } : {}) })
}
