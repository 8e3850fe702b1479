/**
 * Recovery links: row 'recovery' in the account's `users` partition (keys.ts), so that using one
 * is a single partition transaction with the passkey and the session it makes (docs/storage.md
 * "Recovery"). The credential id is claimed in the global index first, as addCredential does.
 */
import type { RecoveryStore } from '../types.js'
import { MAX_TX_OPS, notApplied, transactionError, type Calls, type TransactionAction } from './calls.js'
import { createClaims } from './claims.js'
import { int, type Row } from './codec.js'
import { liveSessions, revokeAction, revokeAll } from './credentialRemoval.js'
import { credRowKey, k, RECOVERY_RK, SESS_END, SESS_PREFIX, USER_RK } from './keys.js'
import { credentialRow, recoveryRow, sessionRow } from './rows.js'

export function recoveryVerbs(db: Calls): RecoveryStore {
  const { claim, release } = createClaims(db)
  return {
    async putRecovery(recovery) {
      const r = await db.attempt(() => db.t('users').upsertEntity(recoveryRow.entity(recovery), 'Replace'))
      recovery.etag = r.value!.etag
    },

    async getRecovery(userId) {
      const row = await db.getRow('users', k(userId), RECOVERY_RK)
      return row && recoveryRow.record(row)
    },

    async recoverAccount({ user, recovery, credential, session, reason }) {
      if (!user.etag || !recovery.etag) throw new TypeError('recoverAccount: user and recovery etags required (pass the records as read)')
      if (recovery.userId !== user.id || credential.userId !== user.id || session.userId !== user.id)
        throw new TypeError('recoverAccount: recovery, credential and session must belong to the user')
      const live = liveSessions(await db.range(user.id, SESS_PREFIX, SESS_END))
      const credKey = k(credential.id)
      const claimEtag = await claim('credentials', credKey, user.id, credRowKey(credential.id), 'credential')
      // The user row is rewritten under the etag it was read with (`guardedAt` only changes the
      // etag; no record reads it): a disabling committed since the read makes this lose.
      const touch = { partitionKey: k(user.id), rowKey: USER_RK, guardedAt: int(Date.now()) }
      const used = { ...recovery, usedAt: session.createdAt }
      const actions: TransactionAction[] = [
        ['update', touch, 'Merge', { etag: user.etag }],
        ['update', recoveryRow.entity(used), 'Replace', { etag: recovery.etag }],
        ['create', credentialRow.entity(credential)],
        ['create', sessionRow.entity(session)],
      ]
      const first = live.splice(0, MAX_TX_OPS - actions.length)
      actions.push(...first.map((r) => revokeAction(r, reason)))
      let etags: (string | undefined)[]
      try {
        etags = await db.transact('users', actions)
      } catch (err) {
        // 404/412: a guard lost (or a session row was swept meanwhile); 409: a row exists. Nothing
        // was applied, so the claim goes; after a lost answer it stays and goes stale (`claim`).
        if (notApplied(err)) await release('credentials', credKey, claimEtag)
        const lost = `recovery of ${user.id}`
        throw transactionError(err, { 404: lost, 409: lost, 412: lost })
      }
      user.etag = etags[0]
      recovery.usedAt = used.usedAt
      recovery.etag = etags[1]
      credential.etag = etags[2]
      session.etag = etags[3]
      await revokeAll(db, live, reason)
      // One more read: a session a sign-in committed between the first read and the transaction.
      const late = liveSessions(await db.range(user.id, SESS_PREFIX, SESS_END)).filter((r: Row) => isEarlier(r, session))
      await revokeAll(db, late, reason)
      return { revoked: first.length + live.length + late.length }
    },
  }
}

/** A session other than `session` made no later than it (the recovery revokes those). */
function isEarlier(r: Row, session: { id: string; createdAt: number }): boolean {
  const s = sessionRow.record(r)
  return s.id !== session.id && s.createdAt <= session.createdAt
}
