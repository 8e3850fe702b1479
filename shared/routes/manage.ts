import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { auditContext, setAuditActor } from '../audit/context.js'
import { parsePermissions } from '../authz/decide.js'
import { ServiceError } from '../errors.js'
import { jsonBody } from '../middleware/body.js'
import { requireRole } from '../middleware/requireRole.js'
import { ConcurrencyError, type UserRecord } from '../store/types.js'
import { parseUsername } from '../webauthn/input.js'
import { credentialView } from '../webauthn/policy.js'
import { isKeyId } from '../util/base64url.js'

const NO_STORE = { 'cache-control': 'no-store' }
const ROLE = /^[a-z0-9][a-z0-9._-]{0,63}$/
/** Built in: grants the administration API (roles table entries may add API permissions to it). */
export const ADMIN_ROLE = 'admin'

function roleName(v: string): string {
  if (!ROLE.test(v)) throw new ServiceError('invalid_request', 'role names are 1–64 of a-z 0-9 . _ - (lower case)')
  return v
}

/** /api/manage/* — CONTRACT "Administration" (role admin). */
export function manageRoutes(core: Core) {
  const { store, authz, clock } = core
  const r = new Hono<AppEnv>()
  r.use('*', async (c, next) => {
    setAuditActor(c, await requireRole(core, c, ADMIN_ROLE))
    await next()
  })

  r.get('/roles', async (c) => {
    const roles = (await store.listRoles()).sort((a, b) => a.name.localeCompare(b.name))
    return c.json(roles.map((x) => ({ name: x.name, permissions: x.permissions, updatedAt: new Date(x.updatedAt).toISOString() })), 200, NO_STORE)
  })

  r.put('/roles/:role', async (c) => {
    const name = roleName(c.req.param('role'))
    const body = await jsonBody(c)
    const permissions = parsePermissions(body.permissions)
    const role = { name, permissions, updatedAt: clock.now() }
    await store.putRole(role)
    await authz.loadRoles() // at once on this instance
    await core.audit.record({ ...auditContext(c), type: 'role.put', target: { role: name }, detail: { permissions } })
    return c.json({ name, permissions, updatedAt: new Date(role.updatedAt).toISOString() }, 200, NO_STORE)
  })

  r.delete('/roles/:role', async (c) => {
    const name = roleName(c.req.param('role'))
    if (!(await store.deleteRole(name))) throw new ServiceError('not_found', `No role ${name}`)
    await authz.loadRoles()
    await core.audit.record({ ...auditContext(c), type: 'role.deleted', target: { role: name } })
    return c.body(null, 204)
  })

  /** Read-modify-write of a user's roles, guarded by the row's etag. */
  async function changeRoles(userId: string, change: (roles: string[]) => string[]): Promise<UserRecord> {
    if (!isKeyId(userId)) throw new ServiceError('not_found', 'No such user')
    for (let attempt = 0; ; attempt++) {
      const user = await store.getUser(userId)
      if (!user) throw new ServiceError('not_found', 'No such user')
      const updated = { ...user, roles: change(user.roles) }
      try {
        await store.updateUser(updated)
        authz.forgetUser(userId)
        return updated
      } catch (e) {
        if (!(e instanceof ConcurrencyError) || attempt >= 3) throw e
      }
    }
  }

  r.put('/users/:userId/roles/:role', async (c) => {
    const name = roleName(c.req.param('role'))
    if (name !== ADMIN_ROLE && !(await store.listRoles()).some((x) => x.name === name))
      throw new ServiceError('not_found', `No role ${name}; define it first with PUT /api/manage/roles/${name}`)
    const user = await changeRoles(c.req.param('userId'), (roles) => (roles.includes(name) ? roles : [...roles, name]))
    await core.audit.record({ ...auditContext(c), type: 'user.role_granted', target: { userId: user.id, username: user.username, role: name }, detail: { roles: user.roles } })
    return c.json({ id: user.id, username: user.username, roles: user.roles }, 200, NO_STORE)
  })

  r.delete('/users/:userId/roles/:role', async (c) => {
    const name = roleName(c.req.param('role'))
    const user = await changeRoles(c.req.param('userId'), (roles) => roles.filter((x) => x !== name))
    await core.audit.record({ ...auditContext(c), type: 'user.role_removed', target: { userId: user.id, username: user.username, role: name }, detail: { roles: user.roles } })
    return c.json({ id: user.id, username: user.username, roles: user.roles }, 200, NO_STORE)
  })

  r.get('/users', async (c) => {
    const q = c.req.query('username')
    if (q === undefined) throw new ServiceError('invalid_request', 'username is required (users are looked up, not listed)')
    const userId = await store.findUserIdByUsername(parseUsername(q))
    const account = userId ? await store.getAccount(userId) : undefined
    if (!account) return c.json([], 200, NO_STORE)
    const { user, credentials } = account
    return c.json(
      [{ id: user.id, username: user.username, displayName: user.displayName, roles: user.roles, createdAt: new Date(user.createdAt).toISOString(), credentials: credentials.map(credentialView) }],
      200,
      NO_STORE,
    )
  })

  // Revokes a passkey (it stays listed, flagged, and answers credential_revoked) and every
  // session signed in with it.
  r.delete('/credentials/:id', async (c) => {
    const id = c.req.param('id')
    if (!isKeyId(id)) throw new ServiceError('not_found', 'No such passkey')
    const userId = await store.findCredentialOwner(id)
    // Flag and session revocation in one partition transaction. An administrator may revoke an
    // account's last usable passkey (a compromised one must go); the person then needs recovery.
    const cred = userId ? await store.revokeCredential(userId, id, 'revoked by an administrator', clock.now()) : undefined
    if (!userId || !cred) throw new ServiceError('not_found', 'No such passkey')
    authz.forgetUser(userId)
    await core.audit.record({ ...auditContext(c), type: 'passkey.revoked', target: { userId, credentialId: id } })
    return c.body(null, 204)
  })

  return r
}
