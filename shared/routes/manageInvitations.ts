import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { createInvitation, listInvitations, revokeInvitation } from '../admin/invitations.js'
import { issueRecovery } from '../admin/recovery.js'
import { auditContext } from '../audit/context.js'
import { noStore } from '../middleware/noStore.js'
import { validJson } from '../middleware/validate.js'
import { InvitationCreate, RecoveryIssue } from '../schemas/admin.js'

/**
 * /api/manage/invitations and /api/manage/users/{userId}/recovery — CONTRACT v2 "Invitations" and
 * "Recovery" (behind adminRoutes' guard: role admin, the administrator the audit actor). Tokens
 * appear only in the 201 answers, which are not cached.
 */
export function manageInvitationsRoutes(core: Core) {
  const r = new Hono<AppEnv>()

  r.post('/invitations', noStore(), validJson(InvitationCreate), async (c) =>
    c.json(await createInvitation(core, { input: c.req.valid('json'), from: auditContext(c) }), 201),
  )

  r.get('/invitations', noStore(), async (c) => c.json(await listInvitations(core)))

  r.delete('/invitations/:id', async (c) => {
    await revokeInvitation(core, { id: c.req.param('id'), from: auditContext(c) })
    return c.body(null, 204)
  })

  // The body is optional ({} or none: the default lifetime).
  r.post('/users/:userId/recovery', noStore(), validJson(RecoveryIssue, { allowEmpty: true }), async (c) => {
    const { ttl } = c.req.valid('json')
    return c.json(await issueRecovery(core, { userId: c.req.param('userId'), ...(ttl !== undefined ? { ttl } : {}), from: auditContext(c) }), 201)
  })

  return r
}
