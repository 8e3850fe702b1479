import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { approvalOptions, approveRequest, denyRequest, listApprovals } from '../agents/approvals.js'
import { listDelegations, revokeDelegation } from '../agents/delegations.js'
import { auditContext } from '../audit/context.js'
import { requireBearer } from '../middleware/bearer.js'
import { noStore } from '../middleware/noStore.js'
import { validJson } from '../middleware/validate.js'
import { ApprovalVerifyRequest } from '../schemas/agents.js'
import { deferCredential } from '../schemas/webauthn.js'

/**
 * /api/me/approvals* and /api/me/delegations* — CONTRACT v2 "Agents acting for people": the
 * person's side of agents' requests (first-party token). The agent's side is
 * POST /api/oauth2/bc-authorize and the token endpoint's CIBA grant (shared/routes/oauth.ts).
 *
 * @example
 * app.route('/api/me', meAgentsRoutes(core))
 */
export function meAgentsRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  const person = requireBearer(core, { firstParty: true })

  r.get('/approvals', person, noStore(), async (c) => c.json(await listApprovals(core, c.var.principal.userId)))

  r.post('/approvals/:id/options', person, noStore(), async (c) =>
    c.json(await approvalOptions(core, { userId: c.var.principal.userId, requestId: c.req.param('id') })),
  )

  // The credential is checked by the ceremony after its challenge is consumed (deferCredential).
  r.post('/approvals/:id/verify', person, noStore(), validJson(deferCredential(ApprovalVerifyRequest)), async (c) => {
    const { userId } = c.var.principal
    await approveRequest(core, { userId, requestId: c.req.param('id'), body: c.req.valid('json'), from: auditContext(c) })
    return c.body(null, 204)
  })

  r.delete('/approvals/:id', person, async (c) => {
    await denyRequest(core, { userId: c.var.principal.userId, requestId: c.req.param('id'), from: auditContext(c) })
    return c.body(null, 204)
  })

  r.get('/delegations', person, noStore(), async (c) => c.json(await listDelegations(core, c.var.principal.userId)))

  r.delete('/delegations/:id', person, async (c) => {
    await revokeDelegation(core, { userId: c.var.principal.userId, id: c.req.param('id'), from: auditContext(c) })
    return c.body(null, 204)
  })

  return r
}
