/** response_type=code only (RFC 6749 §4.1.1); response_mode query only (OAuth 2.0 Multiple Response Types §2.1). */
import { AuthorizationError, single, type CheckContext } from './types.js'

export const RESPONSE_TYPES = ['code'] as const
export const RESPONSE_MODES = ['query'] as const

export function checkResponseType(ctx: CheckContext): void {
  const type = single(ctx, 'response_type', true)
  if (!type) throw new AuthorizationError('invalid_request', 'response_type is missing (use code)', true)
  if (!(RESPONSE_TYPES as readonly string[]).includes(type))
    throw new AuthorizationError('unsupported_response_type', `response_type ${type} is not supported (use code)`, true)
  const mode = single(ctx, 'response_mode', true)
  if (mode !== undefined && !(RESPONSE_MODES as readonly string[]).includes(mode))
    throw new AuthorizationError('invalid_request', `response_mode ${mode} is not supported (use query)`, true)
}
