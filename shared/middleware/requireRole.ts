/**
 * Administration guard: a valid bearer token whose subject has the role *now* (read live from
 * storage, not from the token's roles snapshot, so a removed admin loses access at once).
 */
import type { Context } from 'hono'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { authenticate, type Principal } from './bearer.js'

export async function requireRole(core: Core, c: Context, role: string): Promise<Principal> {
  const principal = await authenticate(core, c)
  const user = await core.store.getUser(principal.userId)
  if (!user?.roles.includes(role))
    throw new ServiceError('forbidden', `This needs role ${role}`, {
      headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
    })
  return principal
}
