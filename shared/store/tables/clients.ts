/**
 * OAuth clients: row 'client' beside the client's principal row ('acct') in its `users` partition,
 * and a pointer in partition 'clients' of `roles` (keys.ts), so listing is one partition query.
 */
import { clientCursor, ConcurrencyError, type ClientRecord, type ClientStore, type UserRecord } from '../types.js'
import { MAX_TX_OPS, odata, transactionError, type Calls, type TransactionAction } from './calls.js'
import { int64, type Row } from './codec.js'
import { eachLimited } from './housekeeping.js'
import { CLIENT_END, CLIENT_INDEX_END, CLIENT_INDEX_FROM, CLIENT_RK, CLIENTS_INDEXED_RK, CLIENTS_PK, k, SESS_END, SESS_PREFIX, unk, USER_RK } from './keys.js'
import { clientIndexRow, clientRow, userRow } from './rows.js'

/** Client partitions read at once while listing a page. */
const LIST_CONCURRENCY = 8

export function clientVerbs(db: Calls): ClientStore {
  const upsertPointer = (c: Pick<ClientRecord, 'id' | 'createdAt'>) =>
    db.attempt(() => db.t('roles').upsertEntity(clientIndexRow.entity({ key: clientCursor(c), clientId: c.id }), 'Replace'))
  const deletePointer = (c: Pick<ClientRecord, 'id' | 'createdAt'>) =>
    db.attempt(() => db.t('roles').deleteEntity(CLIENTS_PK, clientCursor(c)), 404)

  /**
   * Clients registered before the list existed get their pointers once: one scan of `users` for
   * the 'client' rows, then the marker. Only the first listing of a deployment pays for it.
   */
  async function addMissingPointers(): Promise<void> {
    const regs = await db.query('users', odata`RowKey eq ${CLIENT_RK}`, { select: ['PartitionKey', 'RowKey', 'createdAt'] })
    await eachLimited(regs, LIST_CONCURRENCY, async (r) => {
      await upsertPointer({ id: unk(r.partitionKey), createdAt: int64.read(r.createdAt) })
    })
    await db.attempt(() => db.t('roles').upsertEntity({ partitionKey: CLIENTS_PK, rowKey: CLIENTS_INDEXED_RK }, 'Replace'))
  }

  const clientVerbsTable: ClientStore = {
    async createClient(client, principal) {
      if (principal.id !== client.id) throw new TypeError('createClient: the principal must have the client id')
      // The pointer first: a registered client is always listed (a pointer whose client never
      // appeared is skipped by listClients).
      await upsertPointer(client)
      try {
        const etags = await db.transact('users', [
          ['create', userRow.entity(principal)],
          ['create', clientRow.entity(client)],
        ])
        principal.etag = etags[0]
        client.etag = etags[1]
      } catch (err) {
        await deletePointer(client).catch(() => {})
        throw transactionError(err, { 409: `client ${client.id} exists` })
      }
    },

    async getClient(clientId) {
      const row = await db.getRow('users', k(clientId), CLIENT_RK)
      return row && clientRow.record(row)
    },

    async listClients({ after, limit }) {
      const range = after
        ? odata`PartitionKey eq ${CLIENTS_PK} and RowKey gt ${after} and RowKey lt ${CLIENT_INDEX_END}`
        : odata`PartitionKey eq ${CLIENTS_PK} and RowKey ge ${CLIENT_INDEX_FROM} and RowKey lt ${CLIENT_INDEX_END}`
      const [pointers, marker] = await Promise.all([
        db.query('roles', range, { limit }),
        after ? 'listed' : db.getRow('roles', CLIENTS_PK, CLIENTS_INDEXED_RK),
      ])
      if (!marker) {
        await addMissingPointers()
        return clientVerbsTable.listClients({ limit })
      }
      const read: ({ client: ClientRecord; principal?: UserRecord } | undefined)[] = []
      await eachLimited([...pointers.map(clientIndexRow.record).entries()], LIST_CONCURRENCY, async ([i, p]) => {
        const rows = await db.range(p.clientId, USER_RK, CLIENT_END)
        const reg = rows.find((r) => r.rowKey === CLIENT_RK)
        const acct = rows.find((r) => r.rowKey === USER_RK)
        const client = reg && clientRow.record(reg)
        // A pointer left by a registration that failed, or by a deletion cut short: not a client.
        if (client && clientCursor(client) === p.key) read[i] = { client, ...(acct ? { principal: userRow.record(acct) } : {}) }
      })
      return {
        clients: read.filter((x) => x !== undefined),
        ...(pointers.length === limit ? { next: clientIndexRow.record(pointers.at(-1)!).key } : {}),
      }
    },

    async updateClient(client, principal) {
      if (principal && principal.id !== client.id) throw new TypeError('updateClient: the principal must have the client id')
      if (!client.etag || (principal && !principal.etag)) throw new TypeError('updateClient: etags required (pass the records as read)')
      // Same partition: both replaces in one transaction, each guarded by its etag.
      const actions: TransactionAction[] = [['update', clientRow.entity(client), 'Replace', { etag: client.etag }]]
      if (principal) actions.push(['update', userRow.entity(principal), 'Replace', { etag: principal.etag }])
      let etags: (string | undefined)[]
      try {
        etags = await db.transact('users', actions)
      } catch (err) {
        const lost = `client ${client.id}`
        throw transactionError(err, { 404: lost, 409: lost, 412: lost })
      }
      client.etag = etags[0]
      if (principal) principal.etag = etags[1]
    },

    async deleteClient(clientId) {
      const [regRows, sessions] = await Promise.all([
        db.range(clientId, USER_RK, CLIENT_END),
        db.query('users', odata`PartitionKey eq ${k(clientId)} and RowKey ge ${SESS_PREFIX} and RowKey lt ${SESS_END}`, { select: ['PartitionKey', 'RowKey'] }),
      ])
      const reg = regRows.find((r) => r.rowKey === CLIENT_RK)
      if (!reg) return undefined
      const client = clientRow.record(reg)
      const del = (r: Row): TransactionAction => ['delete', { partitionKey: r.partitionKey, rowKey: r.rowKey }]
      // The registration and the principal go together (then no assertion, token or authorizer
      // decision finds the client). Its sessions follow, best effort: nothing accepts them once
      // the principal is gone, and in one transaction a session the sweep deleted meanwhile would
      // fail the whole deletion.
      const first = regRows.filter((r) => r.rowKey === CLIENT_RK || r.rowKey === USER_RK)
      try {
        await db.transact('users', first.map(del))
      } catch (err) {
        const e = transactionError(err, { 404: 'gone' })
        if (e instanceof ConcurrencyError) return undefined // a concurrent deletion won
        throw e
      }
      // A batch that fails (a row swept meanwhile) is left to the housekeeping sweep.
      for (let i = 0; i < sessions.length; i += MAX_TX_OPS)
        await db.transact('users', sessions.slice(i, i + MAX_TX_OPS).map(del)).catch(() => {})
      await deletePointer(client).catch(() => {})
      return client
    },
  }
  return clientVerbsTable
}
