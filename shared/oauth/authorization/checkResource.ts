/**
 * resource (RFC 8707 §2): at most one (a token has one audience), an absolute URI without a
 * fragment, one of AUDIENCES; else `invalid_target`, redirected to the client (§2: "the
 * authorization server SHOULD ... invalid_target"). Remembered by the code: the session the
 * sign-in makes has it as its audience. Runs before checkParameters so that a repeated
 * `resource` is `invalid_target`, not a generic invalid_request. Completion checks it against
 * AUDIENCES again (complete.ts), the code exchange once more (grants/authorization_code.ts).
 */
import type { Core } from '../../core.js'
import { RESOURCE, resourceRefusal } from '../resource.js'
import { AuthorizationError, type CheckContext } from './types.js'

export function checkResource(core: Core, ctx: CheckContext): void {
  const values = ctx.query.getAll(RESOURCE)
  if (values.length > 1) throw new AuthorizationError('invalid_target', 'resource is repeated: a token has one audience (RFC 8707)', true)
  const value = values[0]
  // Present but empty is refused by resourceRefusal (RFC 8707 §2: an absolute URI), as at the token endpoint.
  if (value === undefined) return
  const refused = resourceRefusal(core.config, value)
  if (refused) throw new AuthorizationError('invalid_target', refused, true)
  ctx.request.resource = value
}
