/**
 * Parameters this server does not take: request objects (OIDC Core §6; discovery says
 * request_parameter_supported / request_uri_parameter_supported false) and any repeated one.
 * From here on, errors are redirected to the client with `state`.
 */
import { AuthorizationError, type CheckContext } from './types.js'

export function checkParameters(ctx: CheckContext): void {
  if (ctx.query.has('request')) throw new AuthorizationError('request_not_supported', 'Request objects are not supported', true)
  if (ctx.query.has('request_uri')) throw new AuthorizationError('request_uri_not_supported', 'request_uri is not supported', true)
  const seen = new Set<string>()
  for (const name of ctx.query.keys()) {
    if (seen.has(name)) throw new AuthorizationError('invalid_request', `${name} is repeated`, true)
    seen.add(name)
  }
}
