/**
 * Taking a passkey out of use: `deleteCredential` and `revokeCredential` (an administrator's flag).
 * Both read the account's passkeys and sessions in one range, then write one transaction guarded
 * by an etag; a guard that lost is read again (updateWithRetry). The sessions signed in with the
 * passkey are revoked in that transaction, then those it had no room for, then those a sign-in
 * committed meanwhile (docs/storage.md "Deleting a passkey").
 */
import { updateWithRetry } from '../retry.js'
import { ConcurrencyError, LastCredentialError, type AccountStore } from '../types.js'
import { MAX_TX_OPS, type Calls, type TransactionAction } from './calls.js'
import { int, type Row } from './codec.js'
import { CRED_PREFIX, credRowKey, k, SESS_END, SESS_PREFIX } from './keys.js'
import { credentialRow, sessionRow } from './rows.js'

/** Reads (and guarded transactions) before a guard that keeps losing gives ConcurrencyError. */
const ROUNDS = 5

/** The guarded transaction of one round, and the live sessions it had no room for. */
interface Plan {
  actions: TransactionAction[]
  rest: Row[]
}

/** Live sessions among `rows` (of one partition), those signed in with `credentialId` when given. */
export const liveSessions = (rows: Row[], credentialId?: string): Row[] =>
  rows.filter(
    (r) =>
      r.rowKey.startsWith(SESS_PREFIX) &&
      (credentialId === undefined || sessionRow.get(r, 'credentialId') === credentialId) &&
      sessionRow.get(r, 'revokedAt') === undefined,
  )

/** Unconditional: a revocation wins over a concurrent refresh (which then gets a 412). */
export const revokeAction = (r: Row, reason: string): TransactionAction => [
  'update',
  sessionRow.patch(r, { revokedAt: Date.now(), revokedReason: reason }),
  'Merge',
]

/** Revokes `sessions` (rows of one partition), a transaction per MAX_TX_OPS of them. */
export async function revokeAll(db: Calls, sessions: Row[], reason: string): Promise<void> {
  for (let i = 0; i < sessions.length; i += MAX_TX_OPS) {
    const batch = sessions.slice(i, i + MAX_TX_OPS).map((r) => revokeAction(r, reason))
    // 404: a row of the batch is gone (the sweep deleted an expired session meanwhile): revoke
    // the others one by one, a row that is gone being revoked already.
    const tx = await db.attempt(() => db.transact('users', batch), 404)
    if (tx.status === 404) for (const action of batch) await db.attempt(() => db.transact('users', [action]), 404)
  }
}

export function credentialRemovalVerbs(db: Calls): Pick<AccountStore, 'deleteCredential' | 'revokeCredential'> {
  const liveSessionsOf = (rows: Row[], credentialId: string): Row[] => liveSessions(rows, credentialId)

  /** The round's transaction (404/412: the guard lost, read again), then the rest. Returns its first etag. */
  async function commit({ actions, rest }: Plan, reason: string, credentialId: string): Promise<string | undefined> {
    let etag: string | undefined
    if (actions.length) {
      const tx = await db.attempt(() => db.transact('users', actions), 404, 412)
      if (tx.status !== undefined) throw new ConcurrencyError(`credential ${credentialId}`)
      etag = tx.value[0]
    }
    await revokeAll(db, rest, reason)
    return etag
  }

  /**
   * Revokes sessions of `credentialId` that a sign-in committed after our first read: once the
   * guarded transaction committed no sign-in with this passkey can, so one more read catches them all.
   */
  async function revokeLateSessions(userId: string, credentialId: string, reason: string): Promise<void> {
    await revokeAll(db, liveSessionsOf(await db.range(userId, SESS_PREFIX, SESS_END), credentialId), reason)
  }

  return {
    async deleteCredential(userId, credentialId, reason, { keepUsable = false } = {}) {
      const rk = credRowKey(credentialId)
      const plan = await updateWithRetry({
        attempts: ROUNDS,
        // One range over the account's credentials and sessions: this credential, the others
        // (for the last-passkey guard) and the sessions to revoke.
        read: () => db.range(userId, CRED_PREFIX, SESS_END),
        change: (rows): Plan & { found: boolean } => {
          const sessions = liveSessionsOf(rows, credentialId)
          // Gone (maybe by an earlier call that failed after its delete): its sessions must not live on.
          if (!rows.some((r) => r.rowKey === rk)) return { found: false, actions: [], rest: sessions }
          // The last-passkey guard, atomic with the delete: the transaction also rewrites one other
          // usable passkey guarded by the etag it was read with. If that passkey was deleted,
          // flagged (revoked) or otherwise changed meanwhile, nothing is written and we look again,
          // so of concurrent deletions at most all but one succeed.
          const guard: TransactionAction[] = []
          if (keepUsable) {
            const other = rows.find(
              (r) => r.rowKey.startsWith(CRED_PREFIX) && r.rowKey !== rk && credentialRow.get(r, 'flaggedAt') === undefined,
            )
            if (!other) throw new LastCredentialError()
            // `guardedAt` is written only to change the row's etag; no record reads it.
            const touch = { partitionKey: other.partitionKey, rowKey: other.rowKey, guardedAt: int(Date.now()) }
            guard.push(['update', touch, 'Merge', { etag: other.etag }])
          }
          // ≤ 100 operations per transaction: the delete, the guard and the first sessions go
          // together, so a deletion that loses the guard has revoked nothing; sessions beyond what
          // one transaction holds are revoked right after (and by revokeLateSessions below).
          const first = sessions.splice(0, MAX_TX_OPS - 2)
          const remove: TransactionAction = ['delete', { partitionKey: k(userId), rowKey: rk }]
          return { found: true, actions: [remove, ...guard, ...first.map((r) => revokeAction(r, reason))], rest: sessions }
        },
        write: async (p) => void (await commit(p, reason, credentialId)),
      })
      if (!plan.found) return false
      // A sign-in that committed between the read and the delete made a session we did not see;
      // after the delete no sign-in with this credential can commit (its etag is gone).
      await revokeLateSessions(userId, credentialId, reason)
      // The index row last: if this fails, it points at a missing row and goes stale (`claim`).
      await db.attempt(() => db.t('credentials').deleteEntity(k(credentialId), ''), 404).catch(() => undefined)
      return true
    },

    async revokeCredential(userId, credentialId, reason, at) {
      const rk = credRowKey(credentialId)
      const plan = await updateWithRetry({
        attempts: ROUNDS,
        read: () => db.range(userId, CRED_PREFIX, SESS_END),
        change: (rows) => {
          const row = rows.find((r) => r.rowKey === rk)
          if (!row) return undefined
          const credential = credentialRow.record(row)
          const sessions = liveSessionsOf(rows, credentialId)
          // The flag and the first sessions in one transaction, guarded by the credential's etag:
          // once it commits no sign-in with this passkey can (recordSignIn is guarded by it too).
          const actions: TransactionAction[] = []
          const flagging = credential.flaggedAt === undefined
          if (flagging) {
            actions.push(['update', credentialRow.patch(row, { flaggedAt: at, flagReason: reason }), 'Merge', { etag: row.etag }])
            credential.flaggedAt = at
            credential.flagReason = reason
          }
          const first = sessions.splice(0, MAX_TX_OPS - actions.length)
          actions.push(...first.map((r) => revokeAction(r, reason)))
          return { credential, flagging, actions, rest: sessions }
        },
        write: async (p) => {
          if (!p) return
          const etag = await commit(p, reason, credentialId)
          if (p.flagging) p.credential.etag = etag
        },
      })
      if (!plan) return undefined
      await revokeLateSessions(userId, credentialId, reason)
      return plan.credential
    },
  }
}
