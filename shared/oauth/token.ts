/**
 * POST /api/oauth2/token (RFC 6749 §3.2), dispatched on the literal grant_type.
 * Errors are RFC 6749 §5.2 JSON, rendered by the app's error handler from OAuthError.
 */
import type { Core } from '../core.js'
import { OAuthError } from '../errors.js'
import type { TokenResponse } from '../tokens/refreshToken.js'
import { parseScope } from '../webauthn/input.js'
import { ServiceError } from '../errors.js'

type Grant = (core: Core, params: Map<string, string>) => Promise<TokenResponse>

/** grant_type=refresh_token (RFC 6749 §6). */
const refresh_token: Grant = async (core, params) => {
  const token = params.get('refresh_token')
  if (!token) throw new OAuthError('invalid_request', 'refresh_token is required')
  let scope: string | undefined
  try {
    scope = parseScope(params.get('scope'))
  } catch (e) {
    if (e instanceof ServiceError) throw new OAuthError('invalid_scope', e.message)
    throw e
  }
  return core.sessions.refresh(token, { clientId: params.get('client_id'), scope })
}

export const GRANTS: Record<string, Grant> = { refresh_token }

export async function token(core: Core, params: Map<string, string>): Promise<TokenResponse> {
  const grantType = params.get('grant_type')
  if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required')
  const grant = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined
  if (!grant) throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`)
  return grant(core, params)
}
