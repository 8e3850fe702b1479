import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { accountOf, deletePasskey, listPasskeys, renamePasskey } from '../account/passkeys.js'
import { auditContext } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { requireBearer } from '../middleware/bearer.js'
import { jsonBody } from '../middleware/body.js'
import { noStore } from '../middleware/noStore.js'
import { requireRecentSignIn } from '../middleware/reauth.js'
import { parseText } from '../webauthn/input.js'
import { credentialView } from '../webauthn/policy.js'

/** /api/me* — CONTRACT "Account self-service". */
export function meRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  const person = requireBearer(core, { firstParty: true })

  r.get('/', person, noStore(), async (c) => {
    const { user } = await accountOf(core, c.var.principal.userId)
    return c.json({ id: user.id, username: user.username, displayName: user.displayName, roles: user.roles })
  })

  r.get('/credentials', person, noStore(), async (c) => c.json((await listPasskeys(core, c.var.principal.userId)).map(credentialView)))

  r.patch('/credentials/:id', person, requireRecentSignIn(core, 'passkey.rename'), noStore(), async (c) => {
    const body = await jsonBody(c)
    const label = parseText(body.label, 'label')
    if (!label) throw new ServiceError('invalid_request', 'label is required')
    const cred = await renamePasskey(core, { userId: c.var.principal.userId, credentialId: c.req.param('id'), label, from: auditContext(c) })
    return c.json(credentialView(cred))
  })

  r.delete('/credentials/:id', person, requireRecentSignIn(core, 'passkey.delete'), async (c) => {
    await deletePasskey(core, { userId: c.var.principal.userId, credentialId: c.req.param('id'), from: auditContext(c) })
    return c.body(null, 204)
  })

  return r
}
