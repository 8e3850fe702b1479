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
  LastCredentialError,
  UniquenessError,
  type AuditEventRecord,
  type AuditHead,
  type ClientRecord,
  type CredentialRecord,
  type SessionRecord,
  type RoleRecord,
  type SigningKeyRecord,
  type Store,
  type UserRecord,
  sweepShares,
} from './types.js'

export type StoreVerb = keyof Store

export interface MemoryStore extends Store {
  /** While true, every call throws StorageUnavailableError and changes nothing. */
  down: boolean
  /** The next call of `verb` (of any verb when omitted) throws StorageUnavailableError. */
  failNext(verb?: StoreVerb): void
  /** Calls per verb since creation (tests can assert on how often storage was asked). */
  readonly calls: Partial<Record<StoreVerb, number>>
  /**
   * When set, `sweepExpired` waits for it between reading the expired rows and deleting them,
   * as another writer can act between the Table store's query and its etag-guarded deletes.
   */
  beforeSweepDeletes?: () => Promise<void>
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
  const clients = new Map<string, ClientRecord>()
  const auditEvents = new Map<number, AuditEventRecord>()
  let auditHead: AuditHead | undefined
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

  function revokeSessionsOf(userId: string, credentialId: string, reason: string): void {
    const now = Date.now()
    const userSessions = inner(sessions, userId)
    for (const [id, s] of userSessions) {
      if (s.credentialId !== credentialId || s.revokedAt !== undefined) continue
      put(userSessions, id, { ...s, revokedAt: now, revokedReason: reason })
    }
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

    async getAuditHead() {
      return auditHead && copy(auditHead)
    },

    async appendAudit(events, head) {
      const base = head?.seq ?? 0
      if (events.length === 0 || events.length >= 100 || events.some((e, i) => e.seq !== base + i + 1))
        throw new TypeError(`appendAudit: 1 to 99 events numbered from ${base + 1}`)
      if (head && !head.etag) throw new TypeError('appendAudit: head etag required (pass the head as read)')
      if (auditHead?.etag !== head?.etag || events.some((e) => auditEvents.has(e.seq)))
        throw new ConcurrencyError(`audit head at seq ${base}`)
      for (const e of events) auditEvents.set(e.seq, copy(e))
      const last = events[events.length - 1]!
      auditHead = { seq: last.seq, hash: last.hash, at: last.at, etag: etag() }
      return copy(auditHead)
    },

    async listAudit(fromSeq, limit) {
      return [...auditEvents.keys()]
        .filter((seq) => seq >= fromSeq)
        .sort((a, b) => a - b)
        .slice(0, Math.max(0, limit))
        .map((seq) => copy(auditEvents.get(seq)!))
    },

    async getAuditEvent(seq) {
      const e = auditEvents.get(seq)
      return e && copy(e)
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

    async commitSigningKeys(keys) {
      if (new Set(keys.map((k) => k.kid)).size !== keys.length)
        throw new TypeError('commitSigningKeys: each kid at most once')
      // Check every guard first, then write: all or nothing.
      for (const key of keys) {
        const current = signingKeys.get(key.kid)
        if (key.etag ? current?.etag !== key.etag : current)
          throw new ConcurrencyError(`signing key ${key.kid}`)
      }
      for (const key of keys) put(signingKeys, key.kid, key)
    },

    // --- OAuth clients (shared/oauth/**) ---
    async createClient(client, principal) {
      if (principal.id !== client.id) throw new TypeError('createClient: the principal must have the client id')
      if (users.has(client.id) || clients.has(client.id)) throw new ConcurrencyError(`client ${client.id} exists`)
      put(users, principal.id, principal)
      put(clients, client.id, client)
    },

    async getClient(clientId) {
      const c = clients.get(clientId)
      return c && copy(c)
    },

    async createSession(session) {
      const userSessions = inner(sessions, session.userId)
      if (userSessions.has(session.id)) throw new ConcurrencyError(`session ${session.id} exists`)
      put(userSessions, session.id, session)
    },
    // --- end OAuth clients ---

    // Like the Table store: read the expired rows, then delete each one only if it is unchanged.
    async sweepExpired({ before, max }) {
      const budget = Math.max(0, Math.trunc(max))
      const c = [...challenges].filter(([, expiresAt]) => expiresAt < before).slice(0, budget)
      const s = [...sessions.values()]
        .flatMap((m) => [...m.values()])
        .filter((x) => x.expiresAt < before)
        .slice(0, budget)
        .map(({ userId, id, etag }) => ({ userId, id, etag }))
      const share = sweepShares(budget, c.length, s.length)
      if (store.beforeSweepDeletes) await store.beforeSweepDeletes()
      const deleted = { challenges: 0, sessions: 0 }
      for (const [id, expiresAt] of c.slice(0, share.challenges))
        if (challenges.get(id) === expiresAt && challenges.delete(id)) deleted.challenges++
      for (const { userId, id, etag } of s.slice(0, share.sessions)) {
        const m = sessions.get(userId)
        if (m && m.get(id)?.etag === etag && m.delete(id)) deleted.sessions++
      }
      return deleted
    },
  }

  // Every verb: count it, fail it when asked (before touching anything), then run it atomically.
  const verbs = Object.keys(store).filter(
    (name) => !['down', 'calls', 'failNext', 'beforeSweepDeletes'].includes(name),
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
