import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { deleteAccount } from '../account/deletion.js'
import { setDisabled } from '../admin/disable.js'
import { listUsers } from '../admin/users.js'
import { auditContext } from '../audit/context.js'
import { noStore } from '../middleware/noStore.js'
import { validJson } from '../middleware/validate.js'
import { UserStatusUpdate, type ManagedUserSummaryBody } from '../schemas/admin.js'
import type { UserRecord } from '../store/types.js'

/** A user as a page of the list and PATCH show them: without passkeys, with `disabled`. */
const summaryView = (u: UserRecord): ManagedUserSummaryBody => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
  roles: u.roles,
  createdAt: new Date(u.createdAt).toISOString(),
  disabled: u.disabledAt !== undefined,
})

/**
 * /api/manage/users — CONTRACT v2 "Users and clients" and "Disabling and deleting accounts" (behind
 * adminRoutes' guard): the paged list, PATCH `{ disabled }` and DELETE. Mounted before manage.ts, whose
 * lookup by `?username=` still answers that form (an array, as before).
 */
export function manageUsersRoutes(core: Core) {
  const r = new Hono<AppEnv>()

  r.get('/users', noStore(), async (c, next) => {
    if (c.req.query('username') !== undefined) return next()
    const page = await listUsers(core, c.req.query('cursor'))
    return c.json({ users: page.users.map(summaryView), ...(page.next ? { next: page.next } : {}) })
  })

  r.patch('/users/:userId', noStore(), validJson(UserStatusUpdate), async (c) => {
    const { disabled } = c.req.valid('json')
    return c.json(summaryView(await setDisabled(core, { userId: c.req.param('userId'), disabled, from: auditContext(c) })))
  })

  // Erases the account; its personal audit fields become unreadable (shared/account/deletion.ts).
  r.delete('/users/:userId', async (c) => {
    await deleteAccount(core, { userId: c.req.param('userId'), by: 'admin', from: auditContext(c) })
    return c.body(null, 204)
  })

  return r
}
