import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { deleteClient, listClients, updateClient } from '../admin/clientChanges.js'
import { getClient, registerClient } from '../admin/clients.js'
import { auditContext } from '../audit/context.js'
import { jsonBody } from '../middleware/body.js'
import { noStore } from '../middleware/noStore.js'
import { clientView, parseClientRegistration } from '../oauth/clients.js'

/**
 * /api/manage/clients — CONTRACT "Administration" and v2 "Users and clients" (behind adminRoutes'
 * guard): OAuth client registration, listing, changes and deletion.
 */
export function manageClientsRoutes(core: Core) {
  const r = new Hono<AppEnv>()

  r.post('/clients', noStore(), async (c) => {
    const reg = await parseClientRegistration(await jsonBody(c), core.config)
    const { client, roles } = await registerClient(core, { reg, from: auditContext(c) })
    return c.json(clientView(client, roles), 201, { location: `${core.config.issuer}/manage/clients/${client.id}` })
  })

  r.get('/clients', noStore(), async (c) => c.json(await listClients(core, { cursor: c.req.query('cursor') })))

  r.get('/clients/:clientId', noStore(), async (c) => {
    const { client, roles } = await getClient(core, c.req.param('clientId'))
    return c.json(clientView(client, roles))
  })

  // The body is checked field by field as at registration (parseClientUpdate): keys must import.
  r.patch('/clients/:clientId', noStore(), async (c) => {
    const { client, roles } = await updateClient(core, { clientId: c.req.param('clientId'), body: await jsonBody(c), from: auditContext(c) })
    return c.json(clientView(client, roles))
  })

  r.delete('/clients/:clientId', async (c) => {
    await deleteClient(core, { clientId: c.req.param('clientId'), from: auditContext(c) })
    return c.body(null, 204)
  })

  return r
}
