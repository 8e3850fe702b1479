/**
 * The Store in memory, for unit tests and the HTTP tests: the same semantics as tables.ts (etags,
 * ConcurrencyError, UniquenessError, single-use challenges), with each verb atomic. Web APIs only.
 *
 * Tests make storage fail with `store.down = true` (every call throws StorageUnavailableError
 * until reset) or `store.failNext('recordSignIn')` (the next call of that verb, or of any verb,
 * throws). A failing call changes nothing.
 */
import { StorageUnavailableError } from '../errors.js'
import {
  ConcurrencyError,
  UniquenessError,
  type CredentialRecord,
  type SessionRecord,
  type RoleRecord,
  type SigningKeyRecord,
  type Store,
  type UserRecord,
} from './types.js'

export type StoreVerb = keyof Store

export interface MemoryStore extends Store {
  /** While true, every call throws StorageUnavailableError and changes nothing. */
  down: boolean
  /** The next call of `verb` (of any verb when omitted) throws StorageUnavailableError. */
  failNext(verb?: StoreVerb): void
  /** Calls per verb since creation (tests can assert on how often storage was asked). */
  readonly calls: Partial<Record<StoreVerb, number>>
}

/**
 * @example
 * const store = createMemoryStore()
 * store.down = true // → every route that needs storage answers 503 storage_unavailable
 */
export function createMemoryStore(): MemoryStore {
  let seq = 0
  const etag = () => `W/"${++seq}"`
  const copy = <T>(v: T): T => structuredClone(v)

  const challenges = new Map<string, number>()
  const usernames = new Map<string, string>()
  const credentialOwners = new Map<string, string>()
  const users = new Map<string, UserRecord>()
  const credentials = new Map<string, Map<string, CredentialRecord>>()
  const sessions = new Map<string, Map<string, SessionRecord>>()
  const signingKeys = new Map<string, SigningKeyRecord>()
  const roles = new Map<string, RoleRecord>()
  const pending: (StoreVerb | undefined)[] = []
  const calls: Partial<Record<StoreVerb, number>> = {}

  const inner = <K, V>(m: Map<string, Map<K, V>>, userId: string): Map<K, V> => {
    let v = m.get(userId)
    if (!v) m.set(userId, (v = new Map()))
    return v
  }

  /** Stores a copy with a fresh etag and gives the caller's object that etag. */
  function put<T extends { etag?: string }>(target: Map<string, T>, key: string, record: T): void {
    record.etag = etag()
    target.set(key, copy(record))
  }

  function guardedReplace<T extends { etag?: string }>(
    target: Map<string, T>,
    key: string,
    record: T,
    what: string,
  ): void {
    if (!record.etag) throw new TypeError(`${what}: etag required (pass the record as read)`)
    const current = target.get(key)
    if (!current || current.etag !== record.etag) throw new ConcurrencyError(what)
    put(target, key, record)
  }

  const store: MemoryStore = {
    down: false,
    calls,
    failNext(verb) {
      pending.push(verb)
    },

    async init() {},

    async ping() {},

    async putChallenge(id, expiresAt) {
      if (challenges.has(id)) throw new ConcurrencyError(`challenge ${id} exists`)
      challenges.set(id, expiresAt)
    },

    async consumeChallenge(id) {
      return challenges.delete(id)
    },

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

    async getCredential(userId, credentialId) {
      const c = credentials.get(userId)?.get(credentialId)
      return c && copy(c)
    },

    async findCredentialOwner(credentialId) {
      return credentialOwners.get(credentialId)
    },

    async createAccount({ user, credential, session }) {
      if (credential.userId !== user.id || (session && session.userId !== user.id))
        throw new TypeError('createAccount: credential and session must belong to the user')
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
      guardedReplace(
        inner(credentials, credential.userId),
        credential.id,
        credential,
        `credential ${credential.id}`,
      )
    },

    async deleteCredential(userId, credentialId, reason) {
      const creds = inner(credentials, userId)
      if (!creds.delete(credentialId)) return false
      const now = Date.now()
      for (const [id, s] of inner(sessions, userId)) {
        if (s.credentialId !== credentialId || s.revokedAt !== undefined) continue
        put(inner(sessions, userId), id, { ...s, revokedAt: now, revokedReason: reason })
      }
      if (credentialOwners.get(credentialId) === userId) credentialOwners.delete(credentialId)
      return true
    },

    async getSession(userId, sessionId) {
      const s = sessions.get(userId)?.get(sessionId)
      return s && copy(s)
    },

    async updateSession(session) {
      guardedReplace(inner(sessions, session.userId), session.id, session, `session ${session.id}`)
    },

    async listSessions(userId) {
      return [...inner(sessions, userId).values()].map(copy)
    },

    async updateUser(user) {
      guardedReplace(users, user.id, user, `user ${user.id}`)
    },

    async listRoles() {
      return [...roles.values()].map(copy)
    },

    async putRole(role) {
      put(roles, role.name, role)
    },

    async deleteRole(name) {
      return roles.delete(name)
    },

    async listSigningKeys() {
      return [...signingKeys.values()].map(copy)
    },

    async createSigningKey(key) {
      if (signingKeys.has(key.kid)) throw new ConcurrencyError(`signing key ${key.kid} exists`)
      put(signingKeys, key.kid, key)
    },

    async updateSigningKey(key) {
      guardedReplace(signingKeys, key.kid, key, `signing key ${key.kid}`)
    },
  }

  // Every verb: count it, fail it when asked (before touching anything), then run it atomically.
  const verbs = Object.keys(store).filter(
    (name) => !['down', 'calls', 'failNext'].includes(name),
  ) as StoreVerb[]
  for (const verb of verbs) {
    const impl = store[verb] as (...args: unknown[]) => Promise<unknown>
    ;(store as unknown as Record<string, unknown>)[verb] = async (...args: unknown[]) => {
      calls[verb] = (calls[verb] ?? 0) + 1
      await Promise.resolve() // asynchronous like the real store; the body itself is atomic
      const i = pending.findIndex((v) => v === undefined || v === verb)
      if (store.down || i !== -1) {
        if (i !== -1) pending.splice(i, 1)
        throw new StorageUnavailableError(new Error(`memory store: ${verb} failed on purpose`))
      }
      return impl(...args)
    }
  }
  return store
}
