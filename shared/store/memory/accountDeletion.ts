/** Personal-data keys and deleting an account: the Table store's accountDeletion.ts (each verb atomic here). */
import { ConcurrencyError, type AccountStore } from '../types.js'
import { copy, inner, type MemoryState } from './state.js'

type DeletionVerbs = 'getAuditKey' | 'createAuditKey' | 'updateAuditKey' | 'shredUser' | 'eraseAccount' | 'listDeletedAccounts' | 'listAuditKeysWrappedBy'

export function accountDeletionVerbs(state: MemoryState): Pick<AccountStore, DeletionVerbs> {
  const { usernames, credentialOwners, users, credentials, sessions, auditKeys, backchannel, recoveries, put, guardedReplace } = state
  return {
    async getAuditKey(userId) {
      const key = auditKeys.get(userId)
      return key && copy(key)
    },

    async createAuditKey(key, user) {
      if (!user.etag || user.id !== key.userId) throw new TypeError('createAuditKey: the user row as read (with its etag), of the same account')
      const current = users.get(user.id)
      if (!current || current.etag !== user.etag || auditKeys.has(key.userId)) throw new ConcurrencyError(`audit key of ${user.id}`)
      put(auditKeys, key.userId, key)
      // As the Table store's touch: the user row's etag changes.
      put(users, user.id, current)
      user.etag = users.get(user.id)!.etag
    },

    async updateAuditKey(key) {
      guardedReplace(auditKeys, key.userId, key, `audit key of ${key.userId}`)
    },

    async shredUser(user, reason) {
      if (user.deletedAt === undefined) throw new TypeError(`shredUser ${user.id}: set deletedAt first`)
      guardedReplace(users, user.id, user, `user ${user.id}`)
      auditKeys.delete(user.id)
      const now = Date.now()
      const userSessions = inner(sessions, user.id)
      for (const [id, s] of userSessions) if (s.revokedAt === undefined) put(userSessions, id, { ...s, revokedAt: now, revokedReason: reason })
    },

    async listDeletedAccounts({ before, max }) {
      return [...users.values()]
        .filter((u) => u.deletedAt !== undefined && u.deletedAt < before)
        .slice(0, Math.max(0, Math.trunc(max)))
        .map((u) => u.id)
    },

    async listAuditKeysWrappedBy({ wrappedBy, max }) {
      return [...auditKeys.values()]
        .filter((key) => key.wrappedBy === wrappedBy)
        .slice(0, Math.max(0, Math.trunc(max)))
        .map(copy)
    },

    async eraseAccount(userId) {
      const user = users.get(userId)
      if (!user) return false
      for (const id of credentials.get(userId)?.keys() ?? []) if (credentialOwners.get(id) === userId) credentialOwners.delete(id)
      credentials.delete(userId)
      sessions.delete(userId)
      // The agents' requests to the person (rows `bcreq:` of the partition in the Table store).
      backchannel.delete(userId)
      auditKeys.delete(userId)
      recoveries.delete(userId) // the Table store's `recovery` row goes with the partition
      state.consents.delete(userId) // and its `consent:` rows
      if (usernames.get(user.username) === userId) usernames.delete(user.username)
      users.delete(userId)
      return true
    },
  }
}
