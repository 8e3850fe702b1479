import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { listSessions, revokeOtherSessions, revokeSession, revokeUserSessions, userSessions } from '../account/sessions.js'
import { auditContext } from '../audit/context.js'
import { listConsents, revokeConsent } from '../account/consents.js'
import { requireBearer } from '../middleware/bearer.js'
import { noStore } from '../middleware/noStore.js'

/**
 * /api/me/sessions* — CONTRACT v2 "Sessions": the person's own sessions (first-party token).
 * Signing out needs no recent sign-in ("Security refinements" does not list it): it only takes
 * access away, and must work with whatever token the person still has.
 *
 * @example
 * app.route('/api/me', meSessionsRoutes(core))
 */
export function meSessionsRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  const person = requireBearer(core, { firstParty: true })

  r.get('/sessions', person, noStore(), async (c) => {
    const { userId, sessionId } = c.var.principal
    return c.json(await listSessions(core, { userId, currentSessionId: sessionId }))
  })

  // "Sign out everywhere else": the caller's own session stays.
  r.delete('/sessions', person, async (c) => {
    const { userId, sessionId } = c.var.principal
    await revokeOtherSessions(core, { userId, keep: sessionId, from: auditContext(c) })
    return c.body(null, 204)
  })

  // Remembered approvals of applications (hosted page consent), and their withdrawal.
  r.get('/consents', person, noStore(), async (c) => c.json(await listConsents(core, c.var.principal.userId)))
  r.delete('/consents/:clientId', person, async (c) => {
    await revokeConsent(core, { userId: c.var.principal.userId, clientId: c.req.param('clientId'), from: auditContext(c) })
    return c.body(null, 204)
  })

  r.delete('/sessions/:id', person, async (c) => {
    await revokeSession(core, { userId: c.var.principal.userId, sessionId: c.req.param('id'), from: auditContext(c) })
    return c.body(null, 204)
  })

  return r
}

/**
 * /api/manage/users/{userId}/sessions — CONTRACT v2 "Sessions", mounted inside adminRoutes (its
 * guard: role admin, the administrator published as the audit actor).
 */
export function adminSessionsRoutes(core: Core) {
  const r = new Hono<AppEnv>()

  r.get('/users/:userId/sessions', noStore(), async (c) =>
    c.json(await userSessions(core, { userId: c.req.param('userId'), currentSessionId: c.var.principal?.sessionId })),
  )

  r.delete('/users/:userId/sessions', async (c) => {
    await revokeUserSessions(core, { userId: c.req.param('userId'), from: auditContext(c) })
    return c.body(null, 204)
  })

  return r
}
