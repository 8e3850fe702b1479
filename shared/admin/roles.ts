/**
 * Roles (CONTRACT "Administration"): their definitions, and who holds them. Each change takes
 * effect on this instance at once (the authorizer reloads or forgets) and is audited.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { updateWithRetry } from '../store/retry.js'
import type { Permission, RoleRecord, UserRecord } from '../store/types.js'
import { isKeyId } from '../util/base64url.js'

/** Built in: grants the administration API (roles table entries may add API permissions to it). */
export const ADMIN_ROLE = 'admin'

/** Every defined role, by name. */
export async function listRoles(core: Core): Promise<RoleRecord[]> {
  return (await core.store.listRoles()).sort((a, b) => a.name.localeCompare(b.name))
}

/** Defines or replaces a role (`role.put`). */
export async function putRole(core: Core, { name, permissions, from }: { name: string; permissions: Permission[]; from: RequestOrigin }): Promise<RoleRecord> {
  const role = { name, permissions, updatedAt: core.clock.now() }
  await core.store.putRole(role)
  await core.authz.loadRoles() // at once on this instance
  await core.audit.record({ ...from, type: 'role.put', target: { role: name }, detail: { permissions } })
  return role
}

/** Deletes a role's definition (`role.deleted`); not_found when there is none. */
export async function deleteRole(core: Core, { name, from }: { name: string; from: RequestOrigin }): Promise<void> {
  if (!(await core.store.deleteRole(name))) throw new ServiceError('not_found', `No role ${name}`)
  await core.authz.loadRoles()
  await core.audit.record({ ...from, type: 'role.deleted', target: { role: name } })
}

/** Gives a user a defined role (or admin), idempotently (`user.role_granted`). */
export async function grantRole(core: Core, { userId, role, from }: { userId: string; role: string; from: RequestOrigin }): Promise<UserRecord> {
  if (role !== ADMIN_ROLE && !(await core.store.listRoles()).some((x) => x.name === role))
    throw new ServiceError('not_found', `No role ${role}; define it first with PUT /api/manage/roles/${role}`)
  const user = await changeRoles(core, userId, (roles) => (roles.includes(role) ? roles : [...roles, role]))
  await core.audit.record({ ...from, type: 'user.role_granted', target: { userId: user.id, username: user.username, role }, detail: { roles: user.roles } })
  return user
}

/** Takes a role from a user, idempotently (`user.role_removed`). */
export async function removeRole(core: Core, { userId, role, from }: { userId: string; role: string; from: RequestOrigin }): Promise<UserRecord> {
  const user = await changeRoles(core, userId, (roles) => roles.filter((x) => x !== role))
  await core.audit.record({ ...from, type: 'user.role_removed', target: { userId: user.id, username: user.username, role }, detail: { roles: user.roles } })
  return user
}

/** Read-modify-write of a user's roles, guarded by the row's etag (four tries). */
async function changeRoles(core: Core, userId: string, change: (roles: string[]) => string[]): Promise<UserRecord> {
  if (!isKeyId(userId)) throw new ServiceError('not_found', 'No such user')
  const updated = await updateWithRetry({
    read: async () => {
      const user = await core.store.getUser(userId)
      if (!user) throw new ServiceError('not_found', 'No such user')
      return user
    },
    change: (user) => ({ ...user, roles: change(user.roles) }),
    write: (user) => core.store.updateUser(user),
    attempts: 4,
  })
  core.authz.forgetUser(userId)
  return updated
}
