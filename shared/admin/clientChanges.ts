/**
 * Listing, changing and deleting OAuth clients (CONTRACT v2 "Users and clients"). Registration is
 * in ./clients.ts.
 *
 * Where a change takes effect:
 * - The client row and its principal (roles) share the client's partition, so a PATCH writes both
 *   in one transaction guarded by their etags: no half-applied change is ever visible.
 * - Keys: every assertion reads the client row, so changed or deleted keys stop verifying at once
 *   on every instance; this instance also drops its imported key sets (`forgetClientKeys`). Keys
 *   behind an unchanged jwks_uri are jose's cache: JWKS_CACHE_MS (10 min) on other instances.
 * - Roles: the authorizer forgets the principal at once here, within AUTHZ_CACHE_TTL elsewhere.
 * - Deletion: the registration and the principal go in one transaction. The client's own tokens
 *   (client_credentials) then have no subject; users' sessions issued to a deleted public client
 *   stay in their users' partitions (finding them would be a scan of every user) but stop being
 *   accepted: refresh needs the client (unknown client_id: invalid_client; without it:
 *   invalid_grant), introspection checks it, and the authorizer checks it (cached for
 *   AUTHZ_CACHE_TTL, forgotten at once here).
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { forgetClientKeys } from '../oauth/clientAssertion.js'
import { clientView, parseClientUpdate, type ClientUpdate } from '../oauth/clients.js'
import { inHandFirst, updateWithRetry } from '../store/retry.js'
import { CLIENT_CURSOR, ConcurrencyError, type ClientRecord, type UserRecord } from '../store/types.js'
import { mustBeDefined, readClient, validClientId } from './clients.js'

/** Clients a page: a handful are expected; each costs one partition read on the Table store. */
export const CLIENT_PAGE = 100

/**
 * Clients oldest first, `CLIENT_PAGE` at a time; `next` is the cursor of the following page.
 *
 * @example
 * const { clients, next } = await listClients(core, { cursor: c.req.query('cursor') })
 */
export async function listClients(core: Core, { cursor }: { cursor?: string | undefined }) {
  if (cursor !== undefined && !CLIENT_CURSOR.test(cursor)) throw new ServiceError('invalid_request', 'cursor must be the next value of a previous page')
  const page = await core.store.listClients({ ...(cursor ? { after: cursor } : {}), limit: CLIENT_PAGE })
  return {
    clients: page.clients.map(({ client, principal }) => clientView(client, principal?.roles ?? [])),
    ...(page.next ? { next: page.next } : {}),
  }
}

/** Wire names of the registration fields, for the audit event's `detail.changed`. */
const WIRE: Record<keyof ClientUpdate, string> = { name: 'name', jwks: 'jwks', jwksUri: 'jwks_uri', redirectUris: 'redirect_uris', roles: 'roles', scopes: 'scopes', agent: 'agent' }

/**
 * Applies a PATCH (`client.changed`, naming the fields that changed; never key material).
 *
 * @example
 * const { client, roles } = await updateClient(core, { clientId, body, from: auditContext(c) })
 */
export async function updateClient(
  core: Core,
  { clientId, body, from }: { clientId: string; body: Record<string, unknown>; from: RequestOrigin },
): Promise<{ client: ClientRecord; roles: string[] }> {
  const current = await readClient(core, clientId)
  const change = await parseClientUpdate(body, current.client.kind, core.config)
  if (change.roles) await mustBeDefined(core, change.roles)
  let changed: string[] = []
  const updated = await updateWithRetry<Stored>({
    read: inHandFirst(current, () => readClient(core, clientId)),
    change: (now) => {
      const next = applyChange(now, change)
      changed = (Object.keys(change) as (keyof ClientUpdate)[]).filter((f) => differs(f, now, next)).map((f) => WIRE[f])
      return next
    },
    write: async (next, now) => {
      if (!changed.length) return
      const principalChanged = next.principal && (next.principal.displayName !== now.principal?.displayName || changed.includes('roles'))
      await core.store.updateClient(next.client, principalChanged ? next.principal : undefined)
    },
  }).catch((e: unknown) => {
    // Three lost races (or the client deleted meanwhile): nothing of this change was written.
    if (e instanceof ConcurrencyError) throw new ServiceError('conflict', 'The client changed meanwhile; retry')
    throw e
  })
  const roles = updated.principal?.roles ?? []
  if (changed.length) {
    // At once on this instance: the authorizer reads the principal's roles again, and
    // assertions import the keys again.
    core.authz.forgetUser(clientId)
    forgetClientKeys(current.client)
    await core.audit.record({
      ...from,
      type: 'client.changed',
      target: { clientId },
      detail: {
        changed,
        ...(changed.includes('name') ? { name: updated.client.name } : {}),
        ...(changed.includes('roles') ? { roles } : {}),
        ...(changed.includes('scopes') ? { scopes: updated.client.scopes ?? [] } : {}),
      },
    })
  }
  return { client: updated.client, roles }
}

type Stored = { client: ClientRecord; principal?: UserRecord }

function applyChange({ client, principal }: Stored, change: ClientUpdate): Stored {
  const next: ClientRecord = { ...client }
  if (change.name !== undefined) next.name = change.name
  // jwks and jwks_uri replace each other: a client has one source of keys.
  if (change.jwks) {
    next.jwks = change.jwks
    delete next.jwksUri
  }
  if (change.jwksUri) {
    next.jwksUri = change.jwksUri
    delete next.jwks
  }
  if (change.redirectUris) next.redirectUris = change.redirectUris
  if (change.scopes) {
    if (change.scopes.length) next.scopes = change.scopes
    else delete next.scopes
  }
  if (change.agent === true) next.agent = true
  if (change.agent === false) delete next.agent
  const p = principal && { ...principal, ...(change.name !== undefined ? { displayName: change.name } : {}), ...(change.roles ? { roles: change.roles } : {}) }
  return { client: next, ...(p ? { principal: p } : {}) }
}

function differs(field: keyof ClientUpdate, before: Stored, after: Stored): boolean {
  if (field === 'agent') return (before.client.agent === true) !== (after.client.agent === true)
  if (field === 'roles') return JSON.stringify(before.principal?.roles ?? []) !== JSON.stringify(after.principal?.roles ?? [])
  if (field === 'jwks' || field === 'jwksUri') return JSON.stringify([before.client.jwks, before.client.jwksUri]) !== JSON.stringify([after.client.jwks, after.client.jwksUri])
  return JSON.stringify(before.client[field] ?? []) !== JSON.stringify(after.client[field] ?? [])
}

/**
 * Deletes a client and its principal (`client.deleted`); not_found for an unknown one.
 *
 * @example
 * await deleteClient(core, { clientId, from: auditContext(c) })
 */
export async function deleteClient(core: Core, { clientId, from }: { clientId: string; from: RequestOrigin }): Promise<void> {
  const client = validClientId(clientId) ? await core.store.deleteClient(clientId) : undefined
  if (!client) throw new ServiceError('not_found', 'No such client')
  core.authz.forgetClient(clientId)
  forgetClientKeys(client)
  await core.audit.record({ ...from, type: 'client.deleted', target: { clientId }, detail: { name: client.name, kind: client.kind } })
}
