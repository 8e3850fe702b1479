/**
 * Administration guard: a valid bearer token whose subject has the role *now* (read live from
 * storage, not from the token's roles snapshot, so a removed admin loses access at once).
 */
import type { Context } from 'hono'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { authenticate, firstPartyOrMachine, type Principal } from './bearer.js'

export async function requireRole(core: Core, c: Context, role: string): Promise<Principal> {
  const principal = await authenticate(core, c)
  // A token a third-party app obtained for a person (code flow) never carries their admin rights.
  if (!firstPartyOrMachine(principal))
    throw new ServiceError('forbidden', 'Tokens issued to other applications cannot administer this service', {
      headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
    })
  const user = await core.store.getUser(principal.userId)
  if (!user?.roles.includes(role))
    throw new ServiceError('forbidden', `This needs role ${role}`, {
      headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
    })
  return principal
}
