/**
 * The Store on Azure Table Storage (or Azurite). The only module in shared/ that imports @azure/*.
 *
 * Layout and the round trips of every verb: docs/storage.md. In short, one `users` partition per
 * user holds the user row (`acct`), its credentials (`acct:cred:<id>`) and its sessions
 * (`sess:<id>`), so sign-in work is point reads and single-partition transactions; global
 * uniqueness (usernames, credential ids) and single use (challenges) come from `createEntity`
 * (409 when the key exists) and `deleteEntity` (404 when it is gone) in small index tables.
 *
 * Failure model: 404/409/412 are answers and become `undefined`, `false`, `UniquenessError` or
 * `ConcurrencyError`; anything else (refused connection, timeout, 5xx, 429, auth failure) throws
 * `StorageUnavailableError` with the original error as `cause`. Requests are bounded (2 s per try,
 * 3 s in all) and only retried when a retry cannot apply a write twice (see `retryPolicy`).
 */
import {
  TableClient,
  odata,
  type TableEntity,
  type TableEntityResult,
  type TransactionAction,
} from '@azure/data-tables'
import type { TokenCredential } from '@azure/core-auth'
import type { Config } from '../config.js'
import { StorageUnavailableError } from '../errors.js'
import {
  ConcurrencyError,
  LastCredentialError,
  UniquenessError,
  type Account,
  type AuditEventRecord,
  type AuditHead,
  type ClientRecord,
  type CredentialRecord,
  type SessionRecord,
  type Permission,
  type RoleRecord,
  type SigningKeyRecord,
  type Store,
  type UserRecord,
  sweepShares,
} from './types.js'

/** Every table, without the prefix. Table names: alphanumeric, 3–63 characters. */
export const TABLE_NAMES = ['users', 'usernames', 'credentials', 'challenges', 'signingkeys', 'roles', 'audit'] as const
export type TableName = (typeof TABLE_NAMES)[number]

/** One HTTP round trip to Table Storage, as seen by `onRequest` (the URL has no SAS signature). */
export interface StorageRequest {
  method: string
  url: string
  /** Absent when no response came back (refused, reset, timed out). */
  status?: number
}

export interface TablesStoreOptions {
  config: Config
  /** Used with `config.tablesEndpoint`; default: a `DefaultAzureCredential` created on first use. */
  credential?: TokenCredential
  /**
   * Called once per HTTP round trip (every try, after its response or failure). Benchmarks and
   * tests count storage round trips with it. If it throws, the request fails as if its response
   * had been lost (the service may have applied it): tests use this to inject such faults. If it
   * is async, the response waits for its promise: tests use this to let another writer in
   * between a read and the write that follows it.
   */
  onRequest?: (r: StorageRequest) => void
}

/** A claim whose owner row has not appeared after this long was left by a crash (see `claim`). */
export const STALE_CLAIM_MS = 60_000
const TRY_TIMEOUT_MS = 2_000
const TOTAL_BUDGET_MS = 3_000
const RETRY_DELAY_MS = 100
const RELEASE_TIMEOUT_MS = 1_000
/** A missing table is created again at most this often (see `repairIfTableMissing`). */
const TABLE_REPAIR_MS = 5_000
/** Entity group transactions: one partition, at most 100 operations. */
const MAX_TX_OPS = 100
/** `sweepExpired`: deletes in flight at once (each is one point delete). */
const SWEEP_CONCURRENCY = 8

const USER_RK = 'acct'
const CRED_PREFIX = 'acct:cred:'
const SESS_PREFIX = 'sess:'

type Pipeline = TableClient['pipeline']
type PipelinePolicy = Parameters<Pipeline['addPolicy']>[0]
type Entity = TableEntity<Record<string, unknown>>
/** A row as read: keys and etag are always present. */
type Row = Record<string, unknown> & { partitionKey: string; rowKey: string; etag: string }
const asRow = (r: TableEntityResult<Record<string, unknown>>): Row => r as Row

/**
 * Creates the Table Storage store. Nothing is sent until the first call; `init()` creates tables.
 *
 * @example
 * const store = createTablesStore({ config, onRequest: (r) => trips.push(r) })
 * await store.init()
 */
export function createTablesStore(opts: TablesStoreOptions): Store {
  const clients = makeClients(opts)
  const t = (name: TableName): TableClient => clients[name]

  /**
   * A table that does not exist (storage wiped, or a local emulator that lost its data in a
   * crash) is not an answer like "no such row": the request fails as 503, and the tables are
   * created again in the background (at most every TABLE_REPAIR_MS), so the service heals by itself.
   */
  let lastRepair = 0
  function repairIfTableMissing(err: unknown): void {
    if (!tableMissing(err)) return
    const now = Date.now()
    if (now - lastRepair < TABLE_REPAIR_MS) return
    lastRepair = now
    void Promise.all(TABLE_NAMES.map((name) => t(name).createTable())).catch(() => {
      lastRepair = 0 // try again on the next failure
    })
  }

  /** Runs one SDK call: `expected` statuses come back as `{ status }`, other failures throw 503. */
  async function attempt<T>(op: () => Promise<T>, ...expected: number[]): Promise<Outcome<T>> {
    try {
      return { value: await op() }
    } catch (err) {
      if (err instanceof StorageUnavailableError) throw err
      repairIfTableMissing(err)
      const status = statusOf(err)
      if (status !== undefined && expected.includes(status) && !tableMissing(err)) return { status }
      throw new StorageUnavailableError(err)
    }
  }

  /** Submits one entity group transaction in `users`; returns the new etag of each operation. */
  async function transact(actions: TransactionAction[]): Promise<(string | undefined)[]> {
    try {
      const res = await t('users').submitTransaction(actions)
      return res.subResponses.map((r) => r.etag?.trim())
    } catch (err) {
      if (tableMissing(err)) {
        repairIfTableMissing(err)
        throw new StorageUnavailableError(err)
      }
      throw err
    }
  }

  async function getRow(table: TableName, pk: string, rk: string): Promise<Row | undefined> {
    const r = await attempt(() => t(table).getEntity<Record<string, unknown>>(pk, rk), 404)
    return r.status === undefined ? asRow(r.value) : undefined
  }

  async function query(table: TableName, filter: string): Promise<Row[]> {
    const rows: Row[] = []
    await attempt(async () => {
      const pages = t(table)
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: 1000 })
      for await (const page of pages) rows.push(...page.map(asRow))
    })
    return rows
  }

  /**
   * Rows of one user partition with `from <= RowKey < to`. A prefix `p:` is the range
   * [`p:`, `p;`) since ';' follows ':' (ranges, not `startswith`: Azurite's filters are buggy).
   */
  function range(userId: string, from: string, to: string): Promise<Row[]> {
    return query('users', odata`PartitionKey eq ${k(userId)} and RowKey ge ${from} and RowKey lt ${to}`)
  }

  /**
   * Up to `limit` rows of a `sweepExpired` scan, read page by page and no further than needed.
   * Each row is checked again here (an `expiresAt` below `before`, an etag to guard the delete,
   * `keep`), so a filter that matches too much on some emulator can never widen what is deleted.
   */
  async function expiredRows(
    table: TableName,
    filter: string,
    before: number,
    limit: number,
    keep: (r: Row) => boolean = () => true,
  ): Promise<Row[]> {
    const rows: Row[] = []
    await attempt(async () => {
      const pages = t(table)
        .listEntities<Record<string, unknown>>({
          queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'expiresAt'] },
        })
        .byPage({ maxPageSize: Math.min(limit, 1000) })
      for await (const page of pages) {
        for (const r of page.map(asRow)) if (r.etag && keep(r) && num(r.expiresAt) < before) rows.push(r)
        if (rows.length >= limit) break
      }
    })
    return rows.slice(0, limit)
  }

  /** Deletes a row if it still has the etag it was read with: false when gone or changed. */
  async function deleteUnchanged(table: TableName, r: Row): Promise<boolean> {
    const d = await attempt(() => t(table).deleteEntity(r.partitionKey, r.rowKey, { etag: r.etag }), 404, 412)
    return d.status === undefined
  }

  /**
   * Claims `pk` in an index table (`usernames` or `credentials`) for `userId` and returns the
   * claim's etag. A key that is taken stays taken, except a claim older than STALE_CLAIM_MS whose
   * owner row (`ownerRowKey`) does not exist: a sign-up crashed after claiming, so the claim is
   * taken over with an etag-guarded replace (two takers: one wins, the other gets 412).
   */
  async function claim(
    table: 'usernames' | 'credentials',
    pk: string,
    userId: string,
    ownerRowKey: string,
    field: 'username' | 'credential',
  ): Promise<string | undefined> {
    for (let round = 0; round < 2; round++) {
      const now = Date.now()
      const row = { partitionKey: pk, rowKey: '', userId, createdAt: int(now) }
      const created = await attempt(() => t(table).createEntity(row), 409)
      if (created.status === undefined) return created.value.etag
      const existing = await getRow(table, pk, '')
      if (!existing) continue // released meanwhile: try to claim it again
      const owner = str(existing.userId)
      if (now - num(existing.createdAt) < STALE_CLAIM_MS) throw new UniquenessError(field)
      if (await getRow('users', k(owner), ownerRowKey))
        throw new UniquenessError(field)
      const taken = await attempt(
        () => t(table).updateEntity(row, 'Replace', { etag: existing.etag }),
        404,
        412,
      )
      if (taken.status === undefined) return taken.value.etag
      throw new UniquenessError(field)
    }
    throw new UniquenessError(field)
  }

  /**
   * Best effort, bounded to RELEASE_TIMEOUT_MS: deletes a claim we hold (etag-guarded, so a later
   * taker's claim survives). A claim that could not be released goes stale (see `claim`).
   */
  async function release(table: 'usernames' | 'credentials', pk: string, etag: string | undefined) {
    const abortSignal = AbortSignal.timeout(RELEASE_TIMEOUT_MS)
    await t(table)
      .deleteEntity(pk, '', { etag: etag ?? '*', abortSignal })
      .catch(() => undefined)
  }

  async function replace(
    table: TableName,
    entity: Entity,
    etag: string | undefined,
    what: string,
  ): Promise<string | undefined> {
    if (!etag) throw new TypeError(`${what}: etag required (pass the record as read)`)
    const r = await attempt(() => t(table).updateEntity(entity, 'Replace', { etag }), 404, 412)
    if (r.status !== undefined) throw new ConcurrencyError(what)
    return r.value.etag
  }

  /** Live sessions among `rows` that were signed in with `credentialId`. */
  function liveSessionsOf(rows: Row[], credentialId: string): Row[] {
    return rows.filter(
      (r) => r.rowKey.startsWith(SESS_PREFIX) && r.credentialId === credentialId && r.revokedAt === undefined,
    )
  }

  function revokeAction(r: Row, reason: string): TransactionAction {
    return ['update', { partitionKey: r.partitionKey, rowKey: r.rowKey, revokedAt: int(Date.now()), revokedReason: reason }, 'Merge']
  }

  /** Revokes sessions of `credentialId` that a sign-in committed after our first read. */
  async function revokeLateSessions(userId: string, credentialId: string, reason: string): Promise<void> {
    const late = liveSessionsOf(await range(userId, SESS_PREFIX, 'sess;'), credentialId)
    for (let i = 0; i < late.length; i += MAX_TX_OPS) {
      const batch = late.slice(i, i + MAX_TX_OPS).map((r) => revokeAction(r, reason))
      await attempt(() => transact(batch))
    }
  }

  const store: Store = {
    async init() {
      await attempt(() => Promise.all(TABLE_NAMES.map((name) => t(name).createTable())))
    },

    async ping() {
      await getRow('challenges', 'ping', '')
    },

    async putChallenge(id, expiresAt) {
      const r = await attempt(
        () => t('challenges').createEntity({ partitionKey: k(id), rowKey: '', expiresAt: int(expiresAt) }),
        409,
      )
      if (r.status !== undefined) throw new ConcurrencyError(`challenge ${id} exists`)
    },

    async consumeChallenge(id) {
      const r = await attempt(() => t('challenges').deleteEntity(k(id), ''), 404)
      return r.status === undefined
    },

    async findUserIdByUsername(username) {
      const row = await getRow('usernames', k(username), '')
      return row ? str(row.userId) : undefined
    },

    async getAccount(userId) {
      const rows = await range(userId, USER_RK, 'acct;')
      const userRow = rows.find((r) => r.rowKey === USER_RK)
      if (!userRow) return undefined
      const credentials = rows.filter((r) => r.rowKey.startsWith(CRED_PREFIX)).map(toCredential)
      return { user: toUser(userRow), credentials } satisfies Account
    },

    async getUser(userId) {
      const row = await getRow('users', k(userId), USER_RK)
      return row && toUser(row)
    },

    async getCredential(userId, credentialId) {
      const row = await getRow('users', k(userId), credRowKey(credentialId))
      return row && toCredential(row)
    },

    async findCredentialOwner(credentialId) {
      const row = await getRow('credentials', k(credentialId), '')
      return row ? str(row.userId) : undefined
    },

    async createAccount({ user, credential, session }) {
      if (credential.userId !== user.id || (session && session.userId !== user.id))
        throw new TypeError('createAccount: credential and session must belong to the user')
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
        ['create', userEntity(user)],
        ['create', credentialEntity(credential)],
      ]
      if (session) actions.push(['create', sessionEntity(session)])
      let etags: (string | undefined)[]
      try {
        etags = await transact(actions)
      } catch (err) {
        // Released only when the transaction surely did not apply. After a timeout or a lost
        // response it may have: the claims stay, and if the account is not there they go stale
        // and the next sign-up takes them over (`claim`).
        if (notApplied(err))
          await Promise.all([release('usernames', nameKey, nameEtag), release('credentials', credKey, credEtag)])
        const status = statusOf(err)
        if (status === 409) throw new ConcurrencyError(`user ${user.id} exists`)
        throw new StorageUnavailableError(err)
      }
      user.etag = etags[0]
      credential.etag = etags[1]
      if (session) session.etag = etags[2]
    },

    async addCredential(credential) {
      const credKey = k(credential.id)
      const claimEtag = await claim(
        'credentials',
        credKey,
        credential.userId,
        credRowKey(credential.id),
        'credential',
      )
      try {
        const r = await attempt(() => t('users').createEntity(credentialEntity(credential)), 409)
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
        etags = await transact([
          ['update', credentialEntity(credential), 'Replace', { etag: credential.etag }],
          ['create', sessionEntity(session)],
        ])
      } catch (err) {
        const status = statusOf(err)
        if (status === 404 || status === 412) throw new ConcurrencyError(`credential ${credential.id}`)
        if (status === 409) throw new ConcurrencyError(`session ${session.id} exists`)
        throw new StorageUnavailableError(err)
      }
      credential.etag = etags[0]
      session.etag = etags[1]
    },

    async updateCredential(credential) {
      credential.etag = await replace(
        'users',
        credentialEntity(credential),
        credential.etag,
        `credential ${credential.id}`,
      )
    },

    async deleteCredential(userId, credentialId, reason, { keepUsable = false } = {}) {
      const rk = credRowKey(credentialId)
      const live = (rs: Row[]) => liveSessionsOf(rs, credentialId)
      const revoke = (r: Row) => revokeAction(r, reason)
      for (let round = 0; ; round++) {
        // One range over the account's credentials and sessions: this credential, the others
        // (for the last-passkey guard) and the sessions to revoke.
        const rows = await range(userId, CRED_PREFIX, 'sess;')
        if (!rows.some((r) => r.rowKey === rk)) {
          // Gone (maybe by an earlier call that failed after its delete): its sessions must not live on.
          const orphans = live(rows)
          for (let i = 0; i < orphans.length; i += MAX_TX_OPS) {
            const batch = orphans.slice(i, i + MAX_TX_OPS).map(revoke)
            await attempt(() => transact(batch))
          }
          return false
        }
        // The last-passkey guard, atomic with the delete: the transaction also rewrites one other
        // usable passkey guarded by the etag it was read with. If that passkey was deleted,
        // flagged (revoked) or otherwise changed meanwhile, nothing is written and we look again,
        // so of concurrent deletions at most all but one succeed.
        let guard: TransactionAction | undefined
        if (keepUsable) {
          const other = rows.find((r) => r.rowKey.startsWith(CRED_PREFIX) && r.rowKey !== rk && optNum(r.flaggedAt) === undefined)
          if (!other) throw new LastCredentialError()
          guard = ['update', { partitionKey: other.partitionKey, rowKey: other.rowKey, guardedAt: int(Date.now()) }, 'Merge', { etag: other.etag }]
        }
        const sessions = live(rows)
        // ≤ 100 operations per transaction: the delete, the guard and the first sessions go
        // together, so a deletion that loses the guard has revoked nothing; sessions beyond what
        // one transaction holds are revoked right after (and by revokeLateSessions below).
        const first = sessions.splice(0, MAX_TX_OPS - 2)
        const tx = await attempt(
          () => transact([['delete', { partitionKey: k(userId), rowKey: rk }], ...(guard ? [guard] : []), ...first.map(revoke)]),
          404,
          412,
        )
        if (tx.status !== undefined) {
          // The credential went away, or the guard lost (or a session changed): look again.
          if (round >= 4) throw new ConcurrencyError(`credential ${credentialId}`)
          continue
        }
        for (let i = 0; i < sessions.length; i += MAX_TX_OPS) {
          const batch = sessions.slice(i, i + MAX_TX_OPS).map(revoke)
          await attempt(() => transact(batch))
        }
        break
      }
      // A sign-in that committed between the read and the delete made a session we did not see;
      // after the delete no sign-in with this credential can commit (its etag is gone), so one
      // more read catches them all.
      await revokeLateSessions(userId, credentialId, reason)
      // The index row last: if this fails, it points at a missing row and goes stale (`claim`).
      await attempt(() => t('credentials').deleteEntity(k(credentialId), ''), 404).catch(() => undefined)
      return true
    },

    async revokeCredential(userId, credentialId, reason, at) {
      const rk = credRowKey(credentialId)
      for (let round = 0; ; round++) {
        const rows = await range(userId, CRED_PREFIX, 'sess;')
        const row = rows.find((r) => r.rowKey === rk)
        if (!row) return undefined
        const credential = toCredential(row)
        const sessions = liveSessionsOf(rows, credentialId)
        // The flag and the first sessions in one transaction, guarded by the credential's etag:
        // once it commits no sign-in with this passkey can (recordSignIn is guarded by it too).
        const actions: TransactionAction[] = []
        const flagging = credential.flaggedAt === undefined
        if (flagging) {
          actions.push(['update', { partitionKey: row.partitionKey, rowKey: rk, flaggedAt: int(at), flagReason: reason }, 'Merge', { etag: row.etag }])
          credential.flaggedAt = at
          credential.flagReason = reason
        }
        const first = sessions.splice(0, MAX_TX_OPS - actions.length)
        actions.push(...first.map((r) => revokeAction(r, reason)))
        if (actions.length) {
          const tx = await attempt(() => transact(actions), 404, 412)
          if (tx.status !== undefined) {
            if (round >= 4) throw new ConcurrencyError(`credential ${credentialId}`)
            continue
          }
          if (flagging) credential.etag = tx.value[0]
        }
        for (let i = 0; i < sessions.length; i += MAX_TX_OPS) {
          const batch = sessions.slice(i, i + MAX_TX_OPS).map((r) => revokeAction(r, reason))
          await attempt(() => transact(batch))
        }
        await revokeLateSessions(userId, credentialId, reason)
        return credential
      }
    },

    async getSession(userId, sessionId) {
      const row = await getRow('users', k(userId), SESS_PREFIX + k(sessionId))
      return row && toSession(row)
    },

    async updateSession(session) {
      session.etag = await replace('users', sessionEntity(session), session.etag, `session ${session.id}`)
    },

    async listSessions(userId) {
      return (await range(userId, SESS_PREFIX, 'sess;')).map(toSession)
    },

    async updateUser(user) {
      user.etag = await replace('users', userEntity(user), user.etag, `user ${user.id}`)
    },

    async listRoles() {
      return (await query('roles', odata`PartitionKey eq ${'roles'}`)).map(toRole)
    },

    async putRole(role) {
      const r = await attempt(() => t('roles').upsertEntity(roleEntity(role), 'Replace'))
      role.etag = r.value!.etag
    },

    async deleteRole(name) {
      const r = await attempt(() => t('roles').deleteEntity('roles', k(name)), 404)
      return r.status === undefined
    },

    async getAuditHead() {
      const row = await getRow('audit', AUDIT_PK, AUDIT_HEAD_RK)
      return row && toAuditHead(row)
    },

    async appendAudit(events, head) {
      const base = head?.seq ?? 0
      if (events.length === 0 || events.length >= MAX_TX_OPS || events.some((e, i) => e.seq !== base + i + 1))
        throw new TypeError(`appendAudit: 1 to ${MAX_TX_OPS - 1} events numbered from ${base + 1}`)
      if (head && !head.etag) throw new TypeError('appendAudit: head etag required (pass the head as read)')
      const last = events[events.length - 1]!
      const next: AuditHead = { seq: last.seq, hash: last.hash, at: last.at }
      // One partition, one transaction: the events and the head move together or not at all.
      const actions: TransactionAction[] = events.map((e) => ['create', auditEventEntity(e)])
      actions.push(
        head ? ['update', auditHeadEntity(next), 'Replace', { etag: head.etag! }] : ['create', auditHeadEntity(next)],
      )
      let res: Awaited<ReturnType<TableClient['submitTransaction']>>
      try {
        res = await t('audit').submitTransaction(actions)
      } catch (err) {
        if (tableMissing(err)) {
          repairIfTableMissing(err)
          throw new StorageUnavailableError(err)
        }
        const status = statusOf(err)
        if (status === 404 || status === 409 || status === 412) throw new ConcurrencyError(`audit head at seq ${base}`)
        throw new StorageUnavailableError(err)
      }
      next.etag = res.subResponses[actions.length - 1]?.etag?.trim()
      return next
    },

    async listAudit(fromSeq, limit) {
      const rows: Row[] = []
      if (limit <= 0) return []
      const filter = odata`PartitionKey eq ${AUDIT_PK} and RowKey ge ${auditRowKey(Math.max(1, fromSeq))} and RowKey le ${AUDIT_LAST_RK}`
      await attempt(async () => {
        const pages = t('audit')
          .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
          .byPage({ maxPageSize: Math.min(limit, 1000) })
        for await (const page of pages) {
          rows.push(...page.map(asRow))
          if (rows.length >= limit) break
        }
      })
      return rows.slice(0, limit).map(toAuditEvent)
    },

    async getAuditEvent(seq) {
      const row = await getRow('audit', AUDIT_PK, auditRowKey(seq))
      return row && toAuditEvent(row)
    },

    async listSigningKeys() {
      return (await query('signingkeys', odata`PartitionKey eq ${'keys'}`)).map(toSigningKey)
    },

    async createSigningKey(key) {
      const r = await attempt(() => t('signingkeys').createEntity(signingKeyEntity(key)), 409)
      if (r.status !== undefined) throw new ConcurrencyError(`signing key ${key.kid} exists`)
      key.etag = r.value.etag
    },

    async updateSigningKey(key) {
      key.etag = await replace('signingkeys', signingKeyEntity(key), key.etag, `signing key ${key.kid}`)
    },

    async commitSigningKeys(keys) {
      if (keys.length === 0) return
      if (keys.length > MAX_TX_OPS || new Set(keys.map((k) => k.kid)).size !== keys.length)
        throw new TypeError(`commitSigningKeys: at most ${MAX_TX_OPS} keys, each kid once`)
      // All rows are in partition 'keys': one entity group transaction.
      const actions: TransactionAction[] = keys.map((key) =>
        key.etag
          ? ['update', signingKeyEntity(key), 'Replace', { etag: key.etag }]
          : ['create', signingKeyEntity(key)],
      )
      let res: Awaited<ReturnType<TableClient['submitTransaction']>>
      try {
        res = await t('signingkeys').submitTransaction(actions)
      } catch (err) {
        if (tableMissing(err)) {
          repairIfTableMissing(err)
          throw new StorageUnavailableError(err)
        }
        const status = statusOf(err)
        if (status === 404 || status === 409 || status === 412)
          throw new ConcurrencyError(`signing keys ${keys.map((k) => k.kid).join(', ')}`)
        throw new StorageUnavailableError(err)
      }
      res.subResponses.forEach((r, i) => (keys[i]!.etag = r.etag?.trim()))
    },

    // --- OAuth clients (shared/oauth/**) ---
    async createClient(client, principal) {
      if (principal.id !== client.id) throw new TypeError('createClient: the principal must have the client id')
      try {
        const etags = await transact([
          ['create', userEntity(principal)],
          ['create', clientEntity(client)],
        ])
        principal.etag = etags[0]
        client.etag = etags[1]
      } catch (err) {
        if (statusOf(err) === 409) throw new ConcurrencyError(`client ${client.id} exists`)
        throw new StorageUnavailableError(err)
      }
    },

    async getClient(clientId) {
      const row = await getRow('users', k(clientId), CLIENT_RK)
      return row && toClient(row)
    },

    async createSession(session) {
      const r = await attempt(() => t('users').createEntity(sessionEntity(session)), 409)
      if (r.status !== undefined) throw new ConcurrencyError(`session ${session.id} exists`)
      session.etag = r.value.etag
    },
    // --- end OAuth clients ---

    // --- Housekeeping (shared/housekeeping.ts) ---
    async sweepExpired({ before, max }) {
      const budget = Math.max(0, Math.trunc(max))
      if (budget === 0) return { challenges: 0, sessions: 0 }
      const filters = sweepFilters(before)
      // Each kind is read up to the whole budget, then the budget is shared (`sweepShares`).
      const [c, s] = await Promise.all([
        expiredRows('challenges', filters.challenges, before, budget),
        expiredRows('users', filters.sessions, before, budget, (r) => r.rowKey.startsWith(SESS_PREFIX)),
      ])
      const share = sweepShares(budget, c.length, s.length)
      const work: [TableName, Row][] = [
        ...c.slice(0, share.challenges).map((r): [TableName, Row] => ['challenges', r]),
        ...s.slice(0, share.sessions).map((r): [TableName, Row] => ['users', r]),
      ]
      const deleted = { challenges: 0, sessions: 0 }
      await eachLimited(work, SWEEP_CONCURRENCY, async ([table, r]) => {
        if (await deleteUnchanged(table, r)) deleted[table === 'users' ? 'sessions' : 'challenges']++
      })
      return deleted
    },
  }
  return store
}

/**
 * The server-side filters of `sweepExpired` (exported for the Azurite test). Times are stored
 * as Edm.Int64, so the literal carries OData's `L` suffix: Azure reads a literal without it as
 * Int32 (a time in ms does not fit), and it compares only values of the same type. Azurite 3.35
 * compares `…L` literals with Int64 properties as numbers (older versions compared them as
 * strings: Azurite issue #2385). The users filter has no PartitionKey: a scan of the whole
 * table, for the hourly timer only (docs/storage.md "Housekeeping").
 */
export function sweepFilters(before: number): { challenges: string; sessions: string } {
  const t = Math.trunc(before)
  if (!Number.isSafeInteger(t)) throw new TypeError(`sweepExpired: before must be a time in ms, got ${before}`)
  return {
    challenges: odata`expiresAt lt ${t}L`,
    sessions: odata`RowKey ge ${SESS_PREFIX} and RowKey lt ${'sess;'} and expiresAt lt ${t}L`,
  }
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. After a failure no new call is
 * started; the first failure is thrown once the calls in flight have ended.
 */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { err: unknown } | undefined
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++]!
      try {
        await fn(item)
      } catch (err) {
        failure ??= { err }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure) throw failure.err
}

// ---------------------------------------------------------------------------------------------
// Clients and the HTTP pipeline

function makeClients({ config, credential, onRequest }: TablesStoreOptions): Record<TableName, TableClient> {
  const { tablesConnectionString, tablesEndpoint, tablePrefix } = config
  if (!tablesConnectionString && !tablesEndpoint)
    throw new TypeError('createTablesStore: config needs tablesConnectionString or tablesEndpoint')
  const endpoint = tablesConnectionString ? undefined : tablesEndpoint
  const insecure = tablesConnectionString
    ? /TableEndpoint=http:|DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(
        tablesConnectionString,
      )
    : endpoint!.startsWith('http:')
  const options = {
    allowInsecureConnection: insecure,
    // The default retry policy is replaced by `retryPolicy` below.
    retryOptions: { maxRetries: 0 },
  }
  const cred = endpoint ? (credential ?? lazyDefaultCredential()) : undefined
  const make = (name: TableName): TableClient => {
    const table = `${tablePrefix}${name}`
    const client = tablesConnectionString
      ? TableClient.fromConnectionString(tablesConnectionString, table, { ...options })
      : new TableClient(endpoint!, table, cred!, { ...options })
    client.pipeline.removePolicy({ name: 'defaultRetryPolicy' })
    // Policies that do nothing for Table Storage but cost CPU on every request (≈ a third of the
    // client's per-request CPU, docs/benchmarks.md): SDK tracing spans and request logging (never
    // wanted: URLs carry keys of personal data), a User-Agent, redirects (Table Storage does not
    // redirect; not following them is safer), response decompression, form data and multipart.
    for (const name of UNUSED_POLICIES) client.pipeline.removePolicy({ name })
    client.pipeline.addPolicy(retryPolicy(), { phase: 'Retry' })
    if (onRequest) client.pipeline.addPolicy(requestCounter(onRequest), { afterPhase: 'Retry' })
    return client
  }
  return Object.fromEntries(TABLE_NAMES.map((n) => [n, make(n)])) as Record<TableName, TableClient>
}

const UNUSED_POLICIES = [
  'tracingPolicy',
  'logPolicy',
  'userAgentPolicy',
  'redirectPolicy',
  'decompressResponsePolicy',
  'formDataPolicy',
  'multipartPolicy',
]

/** `DefaultAzureCredential` is loaded and created on the first token request (cold start). */
function lazyDefaultCredential(): TokenCredential {
  let cred: Promise<TokenCredential> | undefined
  return {
    async getToken(scopes, options) {
      cred ??= import('@azure/identity').then((m) => new m.DefaultAzureCredential())
      return (await cred).getToken(scopes, options)
    },
  }
}

/**
 * Bounds every call: each try gets at most TRY_TIMEOUT_MS and the whole call TOTAL_BUDGET_MS.
 * One retry, and only when it cannot apply a write twice: the connection was refused (nothing
 * was sent), the service refused the request (429, 503 ServerBusy), or the request is a read.
 */
function retryPolicy(): PipelinePolicy {
  return {
    name: 'storeRetryPolicy',
    async sendRequest(request, next) {
      const start = Date.now()
      for (let tries = 1; ; tries++) {
        request.timeout = Math.max(1, Math.min(TRY_TIMEOUT_MS, TOTAL_BUDGET_MS - (Date.now() - start)))
        let response: Awaited<ReturnType<typeof next>> | undefined
        let error: unknown
        try {
          response = await next(request)
        } catch (err) {
          error = err
        }
        const left = TOTAL_BUDGET_MS - (Date.now() - start) - RETRY_DELAY_MS
        if (tries >= 2 || left < 250 || !retriable(request.method, response?.status, error)) {
          if (response) return response
          throw error
        }
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS))
      }
    },
  }
}

const NETWORK_ERRORS = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'REQUEST_SEND_ERROR'])

function retriable(method: string, status: number | undefined, error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  if (code === 'ECONNREFUSED') return true
  if (status === 429 || status === 503) return true
  if (method !== 'GET') return false
  if (status !== undefined) return status === 408 || status >= 500
  const name = (error as { name?: unknown } | undefined)?.name
  return name === 'AbortError' || (typeof code === 'string' && NETWORK_ERRORS.has(code))
}

function requestCounter(onRequest: (r: StorageRequest) => void): PipelinePolicy {
  return {
    name: 'storeRequestCounter',
    async sendRequest(request, next) {
      const url = new URL(request.url)
      url.searchParams.delete('sig')
      const report = { method: request.method, url: url.toString() }
      let response
      try {
        response = await next(request)
      } catch (err) {
        await (onRequest(report) as unknown) // an async callback is waited for
        throw err
      }
      await (onRequest({ ...report, status: response.status }) as unknown)
      return response
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

type Outcome<T> = { value: T; status?: undefined } | { value?: undefined; status: number }

/** Table Storage's TableNotFound (404), as opposed to a missing row. */
function tableMissing(err: unknown): boolean {
  if (statusOf(err) !== 404) return false
  const e = err as { code?: unknown; message?: unknown }
  return e.code === 'TableNotFound' || /\bTableNotFound\b/.test(String(e.message ?? ''))
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null | undefined)?.statusCode
  return typeof s === 'number' ? s : undefined
}

/** True when the service surely did not apply the request (so releasing claims is safe). */
function notApplied(err: unknown): boolean {
  const status = statusOf(err)
  if (status !== undefined) return (status >= 400 && status < 500 && status !== 408) || status === 503
  return (err as { code?: unknown } | null | undefined)?.code === 'ECONNREFUSED'
}

// ---------------------------------------------------------------------------------------------
// Keys and entities

/**
 * PartitionKey/RowKey may not contain / \ # ? or control characters. Ids are base64url and pass
 * unchanged; anything else (a username) has those characters and '%' percent-escaped, which keeps
 * the mapping one-to-one.
 */
function k(s: string): string {
  return s.replace(
    /[%/\\#?\u0000-\u001f\u007f-\u009f]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  )
}

function unk(s: string): string {
  return s.replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
}

const credRowKey = (credentialId: string) => CRED_PREFIX + k(credentialId)

/** Times (ms), counters and other integers exceed Int32: stored as Edm.Int64. */
const int = (n: number) => ({ value: String(Math.trunc(n)), type: 'Int64' as const })
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? NaN))
const optNum = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : num(v))
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''))
const optStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const bool = (v: unknown): boolean => v === true || v === 'true'
const json = <T>(v: unknown, fallback: T): T => {
  if (typeof v !== 'string') return fallback
  try {
    return JSON.parse(v) as T
  } catch {
    return fallback
  }
}

/** Drops undefined members: a Replace then removes properties that were cleared. */
function compact(e: Record<string, unknown>): Entity {
  return Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as Entity
}

function userEntity(u: UserRecord): Entity {
  return compact({
    partitionKey: k(u.id),
    rowKey: USER_RK,
    username: u.username,
    displayName: u.displayName,
    roles: JSON.stringify(u.roles),
    createdAt: int(u.createdAt),
  })
}

function toUser(r: Row): UserRecord {
  return {
    id: unk(r.partitionKey),
    username: str(r.username),
    displayName: str(r.displayName),
    roles: json<string[]>(r.roles, []),
    createdAt: num(r.createdAt),
    etag: r.etag,
  }
}

function credentialEntity(c: CredentialRecord): Entity {
  return compact({
    partitionKey: k(c.userId),
    rowKey: credRowKey(c.id),
    publicKey: c.publicKey,
    alg: int(c.alg),
    counter: int(c.counter),
    transports: JSON.stringify(c.transports),
    aaguid: c.aaguid,
    fmt: c.fmt,
    backupEligible: c.backupEligible,
    backedUp: c.backedUp,
    attestationTrusted: c.attestationTrusted,
    label: c.label,
    createdAt: int(c.createdAt),
    lastUsedAt: c.lastUsedAt === undefined ? undefined : int(c.lastUsedAt),
    flaggedAt: c.flaggedAt === undefined ? undefined : int(c.flaggedAt),
    flagReason: c.flagReason,
  })
}

function toCredential(r: Row): CredentialRecord {
  const c: CredentialRecord = {
    id: unk(r.rowKey.slice(CRED_PREFIX.length)),
    userId: unk(r.partitionKey),
    publicKey: str(r.publicKey),
    alg: num(r.alg),
    counter: num(r.counter),
    transports: json<string[]>(r.transports, []),
    aaguid: str(r.aaguid),
    fmt: str(r.fmt),
    backupEligible: bool(r.backupEligible),
    backedUp: bool(r.backedUp),
    attestationTrusted: bool(r.attestationTrusted),
    label: str(r.label),
    createdAt: num(r.createdAt),
    etag: r.etag,
  }
  const lastUsedAt = optNum(r.lastUsedAt)
  if (lastUsedAt !== undefined) c.lastUsedAt = lastUsedAt
  const flaggedAt = optNum(r.flaggedAt)
  if (flaggedAt !== undefined) c.flaggedAt = flaggedAt
  const flagReason = optStr(r.flagReason)
  if (flagReason !== undefined) c.flagReason = flagReason
  return c
}

function sessionEntity(s: SessionRecord): Entity {
  return compact({
    partitionKey: k(s.userId),
    rowKey: SESS_PREFIX + k(s.id),
    credentialId: s.credentialId,
    clientId: s.clientId,
    audience: s.audience,
    scope: s.scope,
    amr: JSON.stringify(s.amr),
    acr: s.acr,
    authTime: int(s.authTime),
    createdAt: int(s.createdAt),
    expiresAt: int(s.expiresAt),
    revokedAt: s.revokedAt === undefined ? undefined : int(s.revokedAt),
    revokedReason: s.revokedReason,
    refreshHash: s.refreshHash,
    previousRefreshHashes: JSON.stringify(s.previousRefreshHashes),
    authorizationCode: s.authorizationCode === undefined ? undefined : JSON.stringify(s.authorizationCode),
  })
}

function toSession(r: Row): SessionRecord {
  const s: SessionRecord = {
    id: unk(r.rowKey.slice(SESS_PREFIX.length)),
    userId: unk(r.partitionKey),
    clientId: str(r.clientId),
    audience: str(r.audience),
    scope: str(r.scope),
    amr: json<string[]>(r.amr, []),
    acr: str(r.acr),
    authTime: num(r.authTime),
    createdAt: num(r.createdAt),
    expiresAt: num(r.expiresAt),
    refreshHash: str(r.refreshHash),
    previousRefreshHashes: json<string[]>(r.previousRefreshHashes, []),
    etag: r.etag,
  }
  const credentialId = optStr(r.credentialId)
  if (credentialId !== undefined) s.credentialId = credentialId
  const revokedAt = optNum(r.revokedAt)
  if (revokedAt !== undefined) s.revokedAt = revokedAt
  const revokedReason = optStr(r.revokedReason)
  if (revokedReason !== undefined) s.revokedReason = revokedReason
  const code = json<SessionRecord['authorizationCode']>(r.authorizationCode, undefined)
  if (code !== undefined) s.authorizationCode = code
  return s
}

// OAuth clients: row 'client' beside the client's principal row ('acct') in its users partition.
const CLIENT_RK = 'client'

function clientEntity(c: ClientRecord): Entity {
  return compact({
    partitionKey: k(c.id),
    rowKey: CLIENT_RK,
    name: c.name,
    kind: c.kind,
    jwks: c.jwks === undefined ? undefined : JSON.stringify(c.jwks),
    jwksUri: c.jwksUri,
    redirectUris: JSON.stringify(c.redirectUris),
    scopes: c.scopes === undefined ? undefined : JSON.stringify(c.scopes),
    createdAt: int(c.createdAt),
  })
}

function toClient(r: Row): ClientRecord {
  const c: ClientRecord = {
    id: unk(r.partitionKey),
    name: str(r.name),
    kind: str(r.kind) === 'confidential' ? 'confidential' : 'public',
    redirectUris: json<string[]>(r.redirectUris, []),
    createdAt: num(r.createdAt),
    etag: r.etag,
  }
  const jwks = json<ClientRecord['jwks']>(r.jwks, undefined)
  if (jwks !== undefined) c.jwks = jwks
  const jwksUri = optStr(r.jwksUri)
  if (jwksUri !== undefined) c.jwksUri = jwksUri
  const scopes = json<string[] | undefined>(r.scopes, undefined)
  if (scopes !== undefined) c.scopes = scopes
  return c
}

function roleEntity(role: RoleRecord): Entity {
  return compact({
    partitionKey: 'roles',
    rowKey: k(role.name),
    permissions: JSON.stringify(role.permissions),
    updatedAt: int(role.updatedAt),
  })
}

function toRole(r: Row): RoleRecord {
  return {
    name: unk(r.rowKey),
    permissions: json<Permission[]>(r.permissions, []),
    updatedAt: num(r.updatedAt),
    etag: r.etag,
  }
}

// Audit log: partition 'audit'; events under their zero-padded seq (ordered by key), and 'head'
// (after every digit) holding the latest seq and hash.
const AUDIT_PK = 'audit'
const AUDIT_HEAD_RK = 'head'
const AUDIT_SEQ_DIGITS = 16
const auditRowKey = (seq: number) => String(Math.trunc(seq)).padStart(AUDIT_SEQ_DIGITS, '0')
const AUDIT_LAST_RK = '9'.repeat(AUDIT_SEQ_DIGITS)

function auditEventEntity(e: AuditEventRecord): Entity {
  return compact({
    partitionKey: AUDIT_PK,
    rowKey: auditRowKey(e.seq),
    at: int(e.at),
    type: e.type,
    outcome: e.outcome,
    actor: JSON.stringify(e.actor),
    target: JSON.stringify(e.target),
    ip: e.ip,
    userAgent: e.userAgent,
    detail: JSON.stringify(e.detail),
    prev: e.prev,
    hash: e.hash,
  })
}

/** As stored, even when edited by hand: the verifier is the judge (a bad row key gives seq NaN). */
function toAuditEvent(r: Row): AuditEventRecord {
  const e: AuditEventRecord = {
    seq: /^\d+$/.test(r.rowKey) ? Number(r.rowKey) : NaN,
    at: num(r.at),
    type: str(r.type),
    outcome: str(r.outcome) as AuditEventRecord['outcome'],
    actor: json<Record<string, string>>(r.actor, {}),
    target: json<Record<string, string>>(r.target, {}),
    detail: json<Record<string, unknown>>(r.detail, {}),
    prev: str(r.prev),
    hash: str(r.hash),
  }
  const ip = optStr(r.ip)
  if (ip !== undefined) e.ip = ip
  const userAgent = optStr(r.userAgent)
  if (userAgent !== undefined) e.userAgent = userAgent
  return e
}

function auditHeadEntity(h: AuditHead): Entity {
  return { partitionKey: AUDIT_PK, rowKey: AUDIT_HEAD_RK, seq: int(h.seq), hash: h.hash, at: int(h.at) }
}

function toAuditHead(r: Row): AuditHead {
  return { seq: num(r.seq), hash: str(r.hash), at: num(r.at), etag: r.etag }
}

function signingKeyEntity(key: SigningKeyRecord): Entity {
  return compact({
    partitionKey: 'keys',
    rowKey: k(key.kid),
    alg: key.alg,
    state: key.state,
    publicJwk: JSON.stringify(key.publicJwk),
    encryptedPrivateKey: key.encryptedPrivateKey,
    createdAt: int(key.createdAt),
    activatesAt: int(key.activatesAt),
    retiredAt: key.retiredAt === undefined ? undefined : int(key.retiredAt),
    expiresAt: key.expiresAt === undefined ? undefined : int(key.expiresAt),
  })
}

function toSigningKey(r: Row): SigningKeyRecord {
  const key: SigningKeyRecord = {
    kid: unk(r.rowKey),
    alg: str(r.alg),
    state: str(r.state) as SigningKeyRecord['state'],
    publicJwk: json<Record<string, unknown>>(r.publicJwk, {}),
    encryptedPrivateKey: str(r.encryptedPrivateKey),
    createdAt: num(r.createdAt),
    activatesAt: num(r.activatesAt),
    etag: r.etag,
  }
  const retiredAt = optNum(r.retiredAt)
  if (retiredAt !== undefined) key.retiredAt = retiredAt
  const expiresAt = optNum(r.expiresAt)
  if (expiresAt !== undefined) key.expiresAt = expiresAt
  return key
}
