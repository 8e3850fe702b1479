import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { getClient, registerClient } from '../admin/clients.js'
import { auditContext } from '../audit/context.js'
import { jsonBody } from '../middleware/body.js'
import { noStore } from '../middleware/noStore.js'
import { clientView, parseClientRegistration } from '../oauth/clients.js'

/** /api/manage/clients — CONTRACT "Administration" (behind adminRoutes' guard): OAuth client registration. */
export function manageClientsRoutes(core: Core) {
  const r = new Hono<AppEnv>()

  r.post('/clients', noStore(), async (c) => {
    const reg = await parseClientRegistration(await jsonBody(c), core.config)
    const { client, roles } = await registerClient(core, { reg, from: auditContext(c) })
    return c.json(clientView(client, roles), 201, { location: `${core.config.issuer}/manage/clients/${client.id}` })
  })

  r.get('/clients/:clientId', noStore(), async (c) => {
    const { client, roles } = await getClient(core, c.req.param('clientId'))
    return c.json(clientView(client, roles))
  })

  return r
}
