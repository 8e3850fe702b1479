/** Users, their passkeys and the two indexes: the Table store's accounts.ts, claims.ts and credentialRemoval.ts (users.ts: disabling, listing). */
import { ConcurrencyError, LastCredentialError, UniquenessError, type AccountStore } from '../types.js'
import { copy, inner, type MemoryState } from './state.js'

type ElsewhereVerbs = 'disableUser' | 'listUsers' | 'getAuditKey' | 'createAuditKey' | 'updateAuditKey' | 'shredUser' | 'eraseAccount' | 'listDeletedAccounts' | 'listAuditKeysWrappedBy'

export function accountVerbs(state: MemoryState): Omit<AccountStore, ElsewhereVerbs> {
  const { usernames, credentialOwners, users, credentials, sessions, auditKeys, put, guardedReplace } = state

  function revokeSessionsOf(userId: string, credentialId: string, reason: string): void {
    const now = Date.now()
    const userSessions = inner(sessions, userId)
    for (const [id, s] of userSessions) {
      if (s.credentialId !== credentialId || s.revokedAt !== undefined) continue
      put(userSessions, id, { ...s, revokedAt: now, revokedReason: reason })
    }
  }

  return {
    async findUserIdByUsername(username) {
      return usernames.get(username)
    },

    async getAccount(userId) {
      const user = users.get(userId)
      if (!user) return undefined
      return { user: copy(user), credentials: [...inner(credentials, userId).values()].map(copy) }
    },

    async getUser(userId) {
      const user = users.get(userId)
      return user && copy(user)
    },

    async updateUser(user) {
      guardedReplace(users, user.id, user, `user ${user.id}`)
    },

    async getCredential(userId, credentialId) {
      const c = credentials.get(userId)?.get(credentialId)
      return c && copy(c)
    },

    async findCredentialOwner(credentialId) {
      return credentialOwners.get(credentialId)
    },

    async createAccount({ user, credential, session, auditKey }) {
      if (credential.userId !== user.id || (session && session.userId !== user.id) || (auditKey && auditKey.userId !== user.id))
        throw new TypeError('createAccount: credential, session and audit key must belong to the user')
      if (usernames.has(user.username)) throw new UniquenessError('username')
      if (credentialOwners.has(credential.id)) throw new UniquenessError('credential')
      if (users.has(user.id)) throw new ConcurrencyError(`user ${user.id} exists`)
      if (session && sessions.get(user.id)?.has(session.id))
        throw new ConcurrencyError(`session ${session.id} exists`)
      usernames.set(user.username, user.id)
      credentialOwners.set(credential.id, user.id)
      put(users, user.id, user)
      put(inner(credentials, user.id), credential.id, credential)
      if (session) put(inner(sessions, user.id), session.id, session)
      if (auditKey) put(auditKeys, user.id, auditKey)
    },

    async addCredential(credential) {
      if (credentialOwners.has(credential.id)) throw new UniquenessError('credential')
      credentialOwners.set(credential.id, credential.userId)
      put(inner(credentials, credential.userId), credential.id, credential)
    },

    async recordSignIn(credential, session) {
      if (!credential.etag) throw new TypeError('recordSignIn: credential etag required')
      if (session.userId !== credential.userId)
        throw new TypeError('recordSignIn: session must belong to the credential owner')
      const creds = inner(credentials, credential.userId)
      const current = creds.get(credential.id)
      if (!current || current.etag !== credential.etag)
        throw new ConcurrencyError(`credential ${credential.id}`)
      const userSessions = inner(sessions, session.userId)
      if (userSessions.has(session.id)) throw new ConcurrencyError(`session ${session.id} exists`)
      put(creds, credential.id, credential)
      put(userSessions, session.id, session)
    },

    async updateCredential(credential) {
      guardedReplace(inner(credentials, credential.userId), credential.id, credential, `credential ${credential.id}`)
    },

    async deleteCredential(userId, credentialId, reason, { keepUsable = false } = {}) {
      const creds = inner(credentials, userId)
      if (!creds.has(credentialId)) return false
      if (keepUsable && ![...creds.values()].some((c) => c.id !== credentialId && c.flaggedAt === undefined))
        throw new LastCredentialError()
      creds.delete(credentialId)
      revokeSessionsOf(userId, credentialId, reason)
      if (credentialOwners.get(credentialId) === userId) credentialOwners.delete(credentialId)
      return true
    },

    async revokeCredential(userId, credentialId, reason, at) {
      const creds = inner(credentials, userId)
      const current = creds.get(credentialId)
      if (!current) return undefined
      if (current.flaggedAt === undefined) put(creds, credentialId, { ...current, flaggedAt: at, flagReason: reason })
      revokeSessionsOf(userId, credentialId, reason)
      return copy(creds.get(credentialId)!)
    },
  }
}
