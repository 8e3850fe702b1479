/**
 * Administration guard: a valid bearer token whose subject has the role *now* (read live from
 * storage on every request, not from the token's roles snapshot, so a removed admin loses access
 * at once). Publishes the caller as `c.var.principal` and as the audit actor.
 */
import type { MiddlewareHandler } from 'hono'
import type { Core } from '../core.js'
import { setAuditActor } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { authenticate, firstPartyOrMachine, type WithPrincipal } from './bearer.js'

const INSUFFICIENT_SCOPE = { 'www-authenticate': 'Bearer error="insufficient_scope"' }

/**
 * @example
 * admin.use('*', requireRole(core, ADMIN_ROLE))
 */
export function requireRole(core: Core, role: string): MiddlewareHandler<WithPrincipal> {
  if (!role) throw new TypeError('requireRole needs a role name')
  return async function requireRole(c, next) {
    const principal = await authenticate(core, c)
    // A token a third-party app obtained for a person (code flow) never carries their admin rights.
    if (!firstPartyOrMachine(principal))
      throw new ServiceError('forbidden', 'Tokens issued to other applications cannot administer this service', { headers: INSUFFICIENT_SCOPE })
    const user = await core.store.getUser(principal.userId)
    // A disabled account administers nothing, even with a token that outlived its revocation.
    if (!user?.roles.includes(role) || user.disabledAt !== undefined)
      throw new ServiceError('forbidden', `This needs role ${role}`, { headers: INSUFFICIENT_SCOPE })
    c.set('principal', setAuditActor(c, principal))
    await next()
  }
}
