/** Recovery links: the Table store's recovery.ts (the use is one atomic step here). */
import { ConcurrencyError, UniquenessError, type RecoveryStore } from '../types.js'
import { copy, inner, type MemoryState } from './state.js'

export function recoveryVerbs(state: MemoryState): RecoveryStore {
  const { recoveries, users, credentials, credentialOwners, sessions, put } = state
  return {
    async putRecovery(recovery) {
      put(recoveries, recovery.userId, recovery)
    },

    async getRecovery(userId) {
      const r = recoveries.get(userId)
      return r && copy(r)
    },

    async recoverAccount({ user, recovery, credential, session, reason }) {
      if (!user.etag || !recovery.etag) throw new TypeError('recoverAccount: user and recovery etags required (pass the records as read)')
      if (recovery.userId !== user.id || credential.userId !== user.id || session.userId !== user.id)
        throw new TypeError('recoverAccount: recovery, credential and session must belong to the user')
      if (credentialOwners.has(credential.id)) throw new UniquenessError('credential')
      const lost = `recovery of ${user.id}`
      const storedUser = users.get(user.id)
      const storedRecovery = recoveries.get(user.id)
      const userSessions = inner(sessions, user.id)
      if (storedUser?.etag !== user.etag || storedRecovery?.etag !== recovery.etag) throw new ConcurrencyError(lost)
      if (userSessions.has(session.id) || inner(credentials, user.id).has(credential.id)) throw new ConcurrencyError(lost)
      put(users, user.id, { ...storedUser }) // the guard's rewrite: a new etag
      user.etag = users.get(user.id)!.etag
      recovery.usedAt = session.createdAt
      put(recoveries, user.id, recovery)
      credentialOwners.set(credential.id, user.id)
      put(inner(credentials, user.id), credential.id, credential)
      let revoked = 0
      const now = Date.now()
      for (const [id, s] of userSessions) {
        if (s.revokedAt !== undefined || s.createdAt > session.createdAt) continue
        put(userSessions, id, { ...s, revokedAt: now, revokedReason: reason })
        revoked++
      }
      put(userSessions, session.id, session)
      return { revoked }
    },
  }
}
