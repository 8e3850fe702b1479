import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { listRoles, deleteRole, grantRole, putRole, removeRole } from '../admin/roles.js'
import { findAccount, revokePasskey } from '../admin/users.js'
import { auditContext } from '../audit/context.js'
import { parsePermissions } from '../authz/decide.js'
import { ServiceError } from '../errors.js'
import { jsonBody } from '../middleware/body.js'
import { noStore } from '../middleware/noStore.js'
import type { RoleRecord, UserRecord } from '../store/types.js'
import { parseUsername } from '../webauthn/input.js'
import { ROLE_NAME, ROLE_NAME_RULE } from '../schemas/names.js'
import { credentialViews } from '../webauthn/credentialView.js'

export { ADMIN_ROLE } from '../admin/roles.js'


function roleName(v: string): string {
  if (!ROLE_NAME.test(v)) throw new ServiceError('invalid_request', ROLE_NAME_RULE)
  return v
}

const roleView = (x: RoleRecord) => ({ name: x.name, permissions: x.permissions, updatedAt: new Date(x.updatedAt).toISOString() })
const holderView = (u: UserRecord) => ({ id: u.id, username: u.username, roles: u.roles })

/** /api/manage/* — CONTRACT "Administration": roles, users, passkeys (behind adminRoutes' guard). */
export function manageRoutes(core: Core) {
  const r = new Hono<AppEnv>()

  r.get('/roles', noStore(), async (c) => c.json((await listRoles(core)).map(roleView)))

  r.put('/roles/:role', noStore(), async (c) => {
    const name = roleName(c.req.param('role'))
    const body = await jsonBody(c)
    const permissions = parsePermissions(body.permissions)
    return c.json(roleView(await putRole(core, { name, permissions, from: auditContext(c) })))
  })

  r.delete('/roles/:role', async (c) => {
    await deleteRole(core, { name: roleName(c.req.param('role')), from: auditContext(c) })
    return c.body(null, 204)
  })

  r.put('/users/:userId/roles/:role', noStore(), async (c) => {
    const role = roleName(c.req.param('role'))
    return c.json(holderView(await grantRole(core, { userId: c.req.param('userId'), role, from: auditContext(c) })))
  })

  r.delete('/users/:userId/roles/:role', noStore(), async (c) => {
    const role = roleName(c.req.param('role'))
    return c.json(holderView(await removeRole(core, { userId: c.req.param('userId'), role, from: auditContext(c) })))
  })

  r.get('/users', noStore(), async (c) => {
    const q = c.req.query('username')
    if (q === undefined) throw new ServiceError('invalid_request', 'username is required (users are looked up, not listed)')
    const account = await findAccount(core, parseUsername(q))
    if (!account) return c.json([])
    const { user, credentials } = account
    return c.json([
      { id: user.id, username: user.username, displayName: user.displayName, roles: user.roles, createdAt: new Date(user.createdAt).toISOString(), credentials: await credentialViews(core.metadata, credentials), ...(user.disabledAt !== undefined ? { disabled: true } : {}) },
    ])
  })

  r.delete('/credentials/:id', async (c) => {
    await revokePasskey(core, { credentialId: c.req.param('id'), from: auditContext(c) })
    return c.body(null, 204)
  })

  return r
}
