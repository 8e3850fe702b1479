/**
 * Users and their passkeys: one `users` partition per user holds the user row (`acct`), its
 * credentials (`acct:cred:<id>`) and its sessions, so sign-in work is point reads and
 * single-partition transactions; the index tables (claims.ts) make usernames and credential ids
 * globally unique. Deleting and revoking a passkey: credentialRemoval.ts.
 */
import { UniquenessError, type AccountStore } from '../types.js'
import { notApplied, transactionError, type Calls, type TransactionAction } from './calls.js'
import { createClaims } from './claims.js'
import { ACCT_END, CRED_PREFIX, credRowKey, k, USER_RK } from './keys.js'
import { auditKeyRow, credentialRow, sessionRow, userRow } from './rows.js'

/** The verbs of other files (credentialRemoval.ts, users.ts, accountDeletion.ts). */
type ElsewhereVerbs =
  | 'deleteCredential'
  | 'revokeCredential'
  | 'disableUser'
  | 'listUsers'
  | 'getAuditKey'
  | 'createAuditKey'
  | 'updateAuditKey'
  | 'shredUser'
  | 'eraseAccount'
  | 'listDeletedAccounts'
  | 'listAuditKeysWrappedBy'

export function accountVerbs(db: Calls): Omit<AccountStore, ElsewhereVerbs> {
  const { claim, release, ownerOf } = createClaims(db)
  return {
    findUserIdByUsername: (username) => ownerOf('usernames', k(username)),

    findCredentialOwner: (credentialId) => ownerOf('credentials', k(credentialId)),

    async getAccount(userId) {
      const rows = await db.range(userId, USER_RK, ACCT_END)
      const userRecord = rows.find((r) => r.rowKey === USER_RK)
      if (!userRecord) return undefined
      const credentials = rows.filter((r) => r.rowKey.startsWith(CRED_PREFIX)).map(credentialRow.record)
      return { user: userRow.record(userRecord), credentials }
    },

    async getUser(userId) {
      const row = await db.getRow('users', k(userId), USER_RK)
      return row && userRow.record(row)
    },

    async updateUser(user) {
      user.etag = await db.replace('users', userRow.entity(user), user.etag, `user ${user.id}`)
    },

    async getCredential(userId, credentialId) {
      const row = await db.getRow('users', k(userId), credRowKey(credentialId))
      return row && credentialRow.record(row)
    },

    async createAccount({ user, credential, session, auditKey }) {
      if (credential.userId !== user.id || (session && session.userId !== user.id) || (auditKey && auditKey.userId !== user.id))
        throw new TypeError('createAccount: credential, session and audit key must belong to the user')
      const nameKey = k(user.username)
      const credKey = k(credential.id)
      const nameEtag = await claim('usernames', nameKey, user.id, USER_RK, 'username')
      let credEtag: string | undefined
      try {
        credEtag = await claim('credentials', credKey, user.id, credRowKey(credential.id), 'credential')
      } catch (err) {
        await release('usernames', nameKey, nameEtag)
        throw err
      }
      const actions: TransactionAction[] = [
        ['create', userRow.entity(user)],
        ['create', credentialRow.entity(credential)],
      ]
      if (session) actions.push(['create', sessionRow.entity(session)])
      if (auditKey) actions.push(['create', auditKeyRow.entity(auditKey)])
      let etags: (string | undefined)[]
      try {
        etags = await db.transact('users', actions)
      } catch (err) {
        // Released only when the transaction surely did not apply. After a timeout or a lost
        // response it may have: the claims stay, and if the account is not there they go stale
        // and the next sign-up takes them over (`claim`).
        if (notApplied(err))
          await Promise.all([release('usernames', nameKey, nameEtag), release('credentials', credKey, credEtag)])
        throw transactionError(err, { 409: `user ${user.id} exists` })
      }
      user.etag = etags[0]
      credential.etag = etags[1]
      if (session) session.etag = etags[2]
      if (auditKey) auditKey.etag = etags[session ? 3 : 2]
    },

    async addCredential(credential) {
      const credKey = k(credential.id)
      const claimEtag = await claim('credentials', credKey, credential.userId, credRowKey(credential.id), 'credential')
      try {
        const r = await db.attempt(() => db.t('users').createEntity(credentialRow.entity(credential)), 409)
        if (r.status !== undefined) throw new UniquenessError('credential')
        credential.etag = r.value.etag
      } catch (err) {
        if (err instanceof UniquenessError || notApplied((err as Error).cause))
          await release('credentials', credKey, claimEtag)
        throw err
      }
    },

    async recordSignIn(credential, session) {
      if (!credential.etag) throw new TypeError('recordSignIn: credential etag required')
      if (session.userId !== credential.userId)
        throw new TypeError('recordSignIn: session must belong to the credential owner')
      let etags: (string | undefined)[]
      try {
        etags = await db.transact('users', [
          ['update', credentialRow.entity(credential), 'Replace', { etag: credential.etag }],
          ['create', sessionRow.entity(session)],
        ])
      } catch (err) {
        const lost = `credential ${credential.id}`
        throw transactionError(err, { 404: lost, 412: lost, 409: `session ${session.id} exists` })
      }
      credential.etag = etags[0]
      session.etag = etags[1]
    },

    async updateCredential(credential) {
      credential.etag = await db.replace('users', credentialRow.entity(credential), credential.etag, `credential ${credential.id}`)
    },
  }
}
