/**
 * OAuth client registration (CONTRACT "Administration"): a client record and its principal (the
 * user row whose roles its client_credentials tokens carry), created together.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import type { ClientRegistration } from '../oauth/clients.js'
import { ConcurrencyError, type ClientRecord, type UserRecord } from '../store/types.js'
import { isBase64url } from '../util/base64url.js'
import { randomId } from '../util/random.js'
import { ADMIN_ROLE } from './roles.js'

/** Tries at drawing a client id that is not taken (a 128-bit collision is all but impossible). */
const ID_DRAWS = 3

/**
 * Registers a client (`client.registered`). Its roles must be defined (admin is built in).
 *
 * @example
 * const { client, roles } = await registerClient(core, { reg, from: auditContext(c) })
 */
export async function registerClient(core: Core, { reg, from }: { reg: ClientRegistration; from: RequestOrigin }): Promise<{ client: ClientRecord; roles: string[] }> {
  const { store, clock } = core
  await mustBeDefined(core, reg.roles)
  const now = clock.now()
  for (let draw = 1; ; draw++) {
    const id = randomId(16)
    const client: ClientRecord = {
      id,
      name: reg.name,
      kind: reg.kind,
      ...(reg.jwks ? { jwks: reg.jwks } : {}),
      ...(reg.jwksUri ? { jwksUri: reg.jwksUri } : {}),
      redirectUris: reg.redirectUris,
      ...(reg.scopes.length ? { scopes: reg.scopes } : {}),
      ...(reg.agent ? { agent: true } : {}),
      createdAt: now,
    }
    // The client's principal: no username (it cannot be looked up or sign in by name).
    const principal: UserRecord = { id, username: '', displayName: reg.name, roles: reg.roles, createdAt: now }
    try {
      await store.createClient(client, principal)
    } catch (e) {
      if (!(e instanceof ConcurrencyError)) throw e
      if (draw < ID_DRAWS) continue // the id collided: draw again
      throw new ServiceError('conflict', 'Could not allocate a client id; retry')
    }
    await core.audit.record({ ...from, type: 'client.registered', target: { clientId: id }, detail: { name: reg.name, kind: reg.kind, roles: reg.roles, scopes: reg.scopes, ...(reg.agent ? { agent: true } : {}) } })
    return { client, roles: principal.roles }
  }
}

/** Roles given to a client must be defined (admin is built in): not_found naming the others. */
export async function mustBeDefined(core: Core, roles: string[]): Promise<void> {
  if (!roles.length) return
  const defined = new Set((await core.store.listRoles()).map((x) => x.name))
  const missing = roles.filter((x) => x !== ADMIN_ROLE && !defined.has(x))
  if (missing.length) throw new ServiceError('not_found', `No role ${missing.join(', ')}; define it first with PUT /api/manage/roles/{role}`)
}

/** A registered client with its principal's roles; not_found for anything else. */
export async function getClient(core: Core, clientId: string): Promise<{ client: ClientRecord; roles: string[] }> {
  const { client, principal } = await readClient(core, clientId)
  return { client, roles: principal?.roles ?? [] }
}

/** The client row and its principal as stored (with etags); not_found when there is no client. */
export async function readClient(core: Core, clientId: string): Promise<{ client: ClientRecord; principal?: UserRecord }> {
  const [client, principal] = validClientId(clientId) ? await Promise.all([core.store.getClient(clientId), core.store.getUser(clientId)]) : []
  if (!client) throw new ServiceError('not_found', 'No such client')
  return { client, ...(principal ? { principal } : {}) }
}

/** Client ids are base64url (16 random bytes); anything else is no client, without a read. */
export const validClientId = (clientId: string) => isBase64url(clientId) && clientId.length > 0 && clientId.length <= 64
