import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { jsonBody } from '../middleware/body.js'
import { requireRole } from '../middleware/requireRole.js'
import { clientView, parseClientRegistration } from '../oauth/clients.js'
import { ConcurrencyError, type ClientRecord, type UserRecord } from '../store/types.js'
import { isBase64url } from '../util/base64url.js'
import { randomId } from '../util/random.js'
import { ADMIN_ROLE } from './manage.js'
import { auditContext, setAuditActor } from '../audit/context.js'

const NO_STORE = { 'cache-control': 'no-store' }

/**
 * /api/manage/clients — CONTRACT "Administration" (role admin): OAuth client registration.
 * Mounted before manageRoutes; every route here checks the role itself.
 */
export function manageClientsRoutes(core: Core) {
  const { store, clock } = core
  const r = new Hono<AppEnv>()

  r.post('/clients', async (c) => {
    setAuditActor(c, await requireRole(core, c, ADMIN_ROLE))
    const reg = await parseClientRegistration(await jsonBody(c), core.config)
    if (reg.roles.length) {
      const defined = new Set((await store.listRoles()).map((x) => x.name))
      const missing = reg.roles.filter((x) => x !== ADMIN_ROLE && !defined.has(x))
      if (missing.length)
        throw new ServiceError('not_found', `No role ${missing.join(', ')}; define it first with PUT /api/manage/roles/{role}`)
    }
    const now = clock.now()
    for (let attempt = 0; ; attempt++) {
      const id = randomId(16)
      const client: ClientRecord = {
        id,
        name: reg.name,
        kind: reg.kind,
        ...(reg.jwks ? { jwks: reg.jwks } : {}),
        ...(reg.jwksUri ? { jwksUri: reg.jwksUri } : {}),
        redirectUris: reg.redirectUris,
        ...(reg.scopes.length ? { scopes: reg.scopes } : {}),
        createdAt: now,
      }
      // The client's principal: no username (it cannot be looked up or sign in by name).
      const principal: UserRecord = { id, username: '', displayName: reg.name, roles: reg.roles, createdAt: now }
      try {
        await store.createClient(client, principal)
      } catch (e) {
        if (!(e instanceof ConcurrencyError)) throw e
        if (attempt < 2) continue // a 128-bit id collided: draw again
        throw new ServiceError('conflict', 'Could not allocate a client id; retry')
      }
      await core.audit.record({ ...auditContext(c), type: 'client.registered', target: { clientId: id }, detail: { name: reg.name, kind: reg.kind, roles: reg.roles, scopes: reg.scopes } })
      return c.json(clientView(client, principal.roles), 201, { ...NO_STORE, location: `${core.config.issuer}/manage/clients/${id}` })
    }
  })

  r.get('/clients/:clientId', async (c) => {
    await requireRole(core, c, ADMIN_ROLE)
    const id = c.req.param('clientId')
    const [client, principal] = isBase64url(id) && id.length <= 64 ? await Promise.all([store.getClient(id), store.getUser(id)]) : []
    if (!client) throw new ServiceError('not_found', 'No such client')
    return c.json(clientView(client, principal?.roles ?? []), 200, NO_STORE)
  })

  return r
}
