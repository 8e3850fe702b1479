/**
 * Personal-data keys and deleting an account (docs/audit.md "Personal data", docs/storage.md
 * "Deleting an account"). The key is row `pdkey` of the account's partition: the first step of a
 * deletion (`shredUser`) deletes it in the transaction that marks the user row, so from then on
 * nothing can decrypt the person's audit fields; `eraseAccount` then deletes the rest, the user
 * row last, so that a deletion interrupted midway is finished by the next one.
 */
import type { AccountStore } from '../types.js'
import { MAX_TX_OPS, odata, transactionError, type Calls, type TransactionAction } from './calls.js'
import { int, type Row } from './codec.js'
import type { IndexTable } from './claims.js'
import { AUDIT_KEY_RK, CRED_PREFIX, k, unk, USER_RK } from './keys.js'
import { auditKeyRow, userRow } from './rows.js'
import { disableInPartition } from './users.js'

type DeletionVerbs = 'getAuditKey' | 'createAuditKey' | 'updateAuditKey' | 'shredUser' | 'eraseAccount' | 'listDeletedAccounts' | 'listAuditKeysWrappedBy'

export function accountDeletionVerbs(db: Calls): Pick<AccountStore, DeletionVerbs> {
  /** Deletes an index claim while it still points at `userId` (etag-guarded: a later taker's claim stays). */
  async function releaseIfOwned(table: IndexTable, pk: string, userId: string): Promise<void> {
    const row = await db.getRow(table, pk, '')
    if (!row || row.userId !== userId) return
    await db.deleteUnchanged(table, row)
  }

  /** Deletes rows of one partition, a transaction per MAX_TX_OPS; a row gone meanwhile is fine. */
  async function deleteRows(rows: Row[]): Promise<void> {
    for (let i = 0; i < rows.length; i += MAX_TX_OPS) {
      const batch: TransactionAction[] = rows.slice(i, i + MAX_TX_OPS).map((r) => ['delete', { partitionKey: r.partitionKey, rowKey: r.rowKey }])
      const tx = await db.attempt(() => db.transact('users', batch), 404)
      if (tx.status === 404) for (const action of batch) await db.attempt(() => db.transact('users', [action]), 404)
    }
  }

  return {
    async getAuditKey(userId) {
      const row = await db.getRow('users', k(userId), AUDIT_KEY_RK)
      return row && auditKeyRow.record(row)
    },

    async createAuditKey(key, user) {
      if (!user.etag || user.id !== key.userId) throw new TypeError('createAuditKey: the user row as read (with its etag), of the same account')
      // The touch changes the user row's etag (`guardedAt` is read by no record): a deletion that
      // read the row before loses its transaction and reads again, and finds this key.
      const touch = { partitionKey: k(user.id), rowKey: USER_RK, guardedAt: int(Date.now()) }
      let etags: (string | undefined)[]
      try {
        etags = await db.transact('users', [
          ['create', auditKeyRow.entity(key)],
          ['update', touch, 'Merge', { etag: user.etag }],
        ])
      } catch (err) {
        const lost = `audit key of ${user.id}`
        throw transactionError(err, { 404: lost, 409: lost, 412: lost })
      }
      key.etag = etags[0]
      user.etag = etags[1]
    },

    async updateAuditKey(key) {
      key.etag = await db.replace('users', auditKeyRow.entity(key), key.etag, `audit key of ${key.userId}`)
    },

    async shredUser(user, reason) {
      if (user.deletedAt === undefined) throw new TypeError(`shredUser ${user.id}: set deletedAt first`)
      await disableInPartition(db, user, reason, (rows) =>
        // A transaction's delete is unconditional; gone meanwhile (another deletion): 404, read again.
        rows.filter((r) => r.rowKey === AUDIT_KEY_RK).map((r): TransactionAction => ['delete', { partitionKey: r.partitionKey, rowKey: r.rowKey }]),
      )
    },

    async listDeletedAccounts({ before, max }) {
      const t = Math.trunc(before)
      if (!Number.isSafeInteger(t)) throw new TypeError(`listDeletedAccounts: before must be a time in ms, got ${before}`)
      const limit = Math.max(0, Math.trunc(max))
      if (limit === 0) return []
      // Rows without `deletedAt` never match a comparison; the Int64 literal as sweepFilters says.
      const rows = await db.query('users', odata`RowKey eq ${USER_RK} and deletedAt lt ${t}L`, {
        limit,
        select: ['PartitionKey', 'RowKey', 'deletedAt'],
        keep: (r) => r.rowKey === USER_RK && (userRow.get(r, 'deletedAt') ?? Infinity) < t,
      })
      return rows.map((r) => unk(r.partitionKey))
    },

    async listAuditKeysWrappedBy({ wrappedBy, max }) {
      const limit = Math.max(0, Math.trunc(max))
      if (limit === 0) return []
      const rows = await db.query('users', odata`RowKey eq ${AUDIT_KEY_RK} and wrappedBy eq ${wrappedBy}`, {
        limit,
        keep: (r) => r.rowKey === AUDIT_KEY_RK && auditKeyRow.get(r, 'wrappedBy') === wrappedBy,
      })
      return rows.map((r) => auditKeyRow.record(r))
    },

    async eraseAccount(userId) {
      const rows = await db.query('users', odata`PartitionKey eq ${k(userId)}`)
      const user = rows.find((r) => r.rowKey === USER_RK)
      if (!user) return false
      // 1. The credential-id index rows (their row keys hold the escaped id, as the claim's key).
      for (const r of rows) if (r.rowKey.startsWith(CRED_PREFIX)) await releaseIfOwned('credentials', r.rowKey.slice(CRED_PREFIX.length), userId)
      // 2. Everything else of the partition: sessions, passkeys, a personal-data key left over.
      await deleteRows(rows.filter((r) => r.rowKey !== USER_RK))
      // 3. The username claim, while it is still this account's: the name is free from here on.
      const username = userRow.get(user, 'username')
      if (username) await releaseIfOwned('usernames', k(username), userId)
      // 4. The user row last (unconditionally: it is marked, nothing may keep it): until it is
      //    gone, a DELETE finds the account and finishes the steps above.
      await db.attempt(() => db.t('users').deleteEntity(k(userId), USER_RK), 404) // 404: a concurrent erase finished first
      return true
    },
  }
}
