/**
 * One behavioural suite for both stores: the memory store and the Table Storage store against a
 * real Azurite started by this file. Each test gets fresh tables (its own TABLE_PREFIX).
 * Then Table-only behaviour: round trips per verb, stale claims, lost responses, storage down.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TableClient } from '@azure/data-tables'
import { loadConfig } from '../../shared/config.js'
import { StorageUnavailableError } from '../../shared/errors.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import {
  createTablesStore,
  STALE_CLAIM_MS,
  sweepFilters,
  TABLE_NAMES,
  type StorageRequest,
} from '../../shared/store/tables.js'
import {
  ConcurrencyError,
  LastCredentialError,
  UniquenessError,
  type BackchannelRequestRecord,
  type CredentialRecord,
  type InvitationRecord,
  type RecoveryRecord,
  type SessionRecord,
  type SigningKeyRecord,
  type Store,
  type UserRecord,
} from '../../shared/store/types.js'
import { randomId } from '../../shared/util/random.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'

// ---------------------------------------------------------------------------------------------
// Fixtures

const T0 = 1_767_225_600_000 // 2026-01-01, beyond Int32 as every time in ms is

function newUser(username = `user-${randomId(6)}`.toLowerCase()): UserRecord {
  return { id: randomId(), username, displayName: username, roles: ['reader'], createdAt: T0 }
}

function newCredential(userId: string, extra: Partial<CredentialRecord> = {}): CredentialRecord {
  return {
    id: randomId(32),
    userId,
    publicKey: randomId(77),
    alg: -7,
    counter: 0,
    transports: ['internal', 'hybrid'],
    aaguid: '00000000-0000-0000-0000-000000000000',
    fmt: 'none',
    backupEligible: true,
    backedUp: true,
    attestationTrusted: false,
    label: 'Passkey',
    createdAt: T0,
    ...extra,
  }
}

function newSession(userId: string, credentialId?: string): SessionRecord {
  const s: SessionRecord = {
    id: randomId(),
    userId,
    clientId: 'web',
    audience: 'api://default',
    scope: 'openid',
    amr: ['swk', 'user', 'mfa'],
    acr: 'phr',
    authTime: Math.floor(T0 / 1000),
    createdAt: T0,
    expiresAt: T0 + 86_400_000,
    refreshHash: randomId(32),
    previousRefreshHashes: [],
  }
  if (credentialId) s.credentialId = credentialId
  return s
}

function newKey(kid = randomId(8)): SigningKeyRecord {
  return {
    kid,
    alg: 'RS256',
    state: 'next',
    publicJwk: { kty: 'RSA', n: randomId(256), e: 'AQAB' },
    encryptedPrivateKey: randomId(1200),
    createdAt: T0,
    activatesAt: T0 + 86_400_000,
  }
}

/** A user with one passkey and, optionally, a session signed in with it. */
async function signUp(store: Store, username?: string) {
  const user = newUser(username)
  const credential = newCredential(user.id)
  const session = newSession(user.id, credential.id)
  await store.createAccount({ user, credential, session })
  return { user, credential, session }
}

const without = <T extends { etag?: string }>(r: T | undefined): Omit<T, 'etag'> | undefined => {
  if (!r) return r
  const { etag: _etag, ...rest } = r
  return rest
}

async function rejectsWith(p: Promise<unknown>, cls: new (...a: never[]) => Error, field?: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`)
    if (field) assert.equal((err as UniquenessError).field, field)
    return true
  })
}

// ---------------------------------------------------------------------------------------------
// Harness: the same tests on both stores

interface Subject {
  /** A store on fresh, empty, initialised storage. */
  fresh(): Promise<Store>
  /**
   * A fresh store whose next `sweepExpired` runs `between(store)` after reading the expired rows
   * and before deleting them: another writer racing the sweep.
   */
  racing(between: (store: Store) => Promise<void>): Promise<Store>
}

let azurite: Azurite
const tablesConfig = (prefix: string) =>
  loadConfig(
    { TABLES_CONNECTION_STRING: azurite.connectionString, TABLE_PREFIX: prefix },
    { local: true },
  )
const newPrefix = () => `t${randomId(9).replace(/[^A-Za-z0-9]/g, 'x')}`

async function freshTables(onRequest?: (r: StorageRequest) => void) {
  const config = tablesConfig(newPrefix())
  const store = createTablesStore(onRequest ? { config, onRequest } : { config })
  await store.init()
  return { store, config }
}

/** The sweep's query of expired sessions (the users table, filtered on `expiresAt`). */
const isSessionSweep = (r: StorageRequest) =>
  r.method === 'GET' && /users\(\)/.test(new URL(r.url).pathname) && /expiresAt lt \d+L/.test(new URL(r.url).searchParams.get('$filter') ?? '')

const subjects: Record<string, Subject> = {
  memory: {
    fresh: async () => createMemoryStore(),
    racing: async (between) => {
      const store = createMemoryStore()
      store.beforeSweepDeletes = async () => {
        store.beforeSweepDeletes = undefined
        await between(store)
      }
      return store
    },
  },
  tables: {
    fresh: async () => (await freshTables()).store,
    racing: async (between) => {
      let armed = true
      // The query's response waits for `between`; the deletes come after both queries.
      const { store } = await freshTables(async (r) => {
        if (!armed || !isSessionSweep(r)) return
        armed = false
        await between(store)
      })
      return store
    },
  },
}

before(async () => {
  azurite = await startAzurite()
})
after(async () => {
  await azurite?.stop()
})

for (const [name, subject] of Object.entries(subjects)) {
  describe(`Store behaviour (${name})`, () => {
    it('createAccount stores user, passkey and session; getAccount returns user and passkeys, not sessions', async () => {
      const store = await subject.fresh()
      const { user, credential, session } = await signUp(store)
      assert.ok(user.etag && credential.etag && session.etag, 'written records carry their etag')
      const account = await store.getAccount(user.id)
      assert.ok(account)
      assert.deepEqual(without(account.user), without(user))
      assert.equal(account.credentials.length, 1)
      assert.deepEqual(without(account.credentials[0]), without(credential))
      assert.ok(account.user.etag && account.credentials[0]?.etag, 'records read carry an etag')
      assert.equal(await store.findUserIdByUsername(user.username), user.id)
      assert.equal(await store.findCredentialOwner(credential.id), user.id)
      assert.deepEqual(without(await store.getSession(user.id, session.id)), without(session))
      assert.deepEqual(without(await store.getUser(user.id)), without(user))
      assert.deepEqual(without(await store.getCredential(user.id, credential.id)), without(credential))
    })

    it('getAccount lists every passkey of the user and no other user’s', async () => {
      const store = await subject.fresh()
      const a = await signUp(store)
      const b = await signUp(store)
      const second = newCredential(a.user.id, { label: 'Second' })
      await store.addCredential(second)
      const account = await store.getAccount(a.user.id)
      assert.deepEqual(account?.credentials.map((c) => c.id).sort(), [a.credential.id, second.id].sort())
      assert.equal((await store.getAccount(b.user.id))?.credentials.length, 1)
    })

    it('lookups of what does not exist answer undefined / false', async () => {
      const store = await subject.fresh()
      const { user } = await signUp(store)
      assert.equal(await store.getAccount(randomId()), undefined)
      assert.equal(await store.getUser(randomId()), undefined)
      assert.equal(await store.getCredential(user.id, randomId(32)), undefined)
      assert.equal(await store.getSession(user.id, randomId()), undefined)
      assert.equal(await store.findUserIdByUsername('nobody'), undefined)
      assert.equal(await store.findCredentialOwner(randomId(32)), undefined)
      assert.deepEqual(await store.listSessions(randomId()), [])
      assert.equal(await store.consumeChallenge(randomId(32)), false)
      assert.equal(await store.deleteCredential(user.id, randomId(32), 'test'), false)
      await store.ping()
    })

    it("eraseAccount erases the person's backchannel requests (rows bcreq: of the partition) and no one else's", async () => {
      const store = await subject.fresh()
      const a = await signUp(store)
      const b = await signUp(store)
      const request = (userId: string): BackchannelRequestRecord => ({
        id: randomId(),
        userId,
        clientId: 'agent-1',
        clientName: 'Assistant',
        scope: 'openid',
        bindingMessage: 'ok?',
        secretHash: randomId(32),
        createdAt: T0,
        expiresAt: T0 + 300_000,
        interval: 5,
        state: 'pending',
      })
      for (const r of [request(a.user.id), request(a.user.id), request(b.user.id)]) await store.createBackchannelRequest(r)
      const user = (await store.getUser(a.user.id))!
      user.deletedAt = T0
      user.disabledAt = T0
      await store.shredUser(user, 'account deleted')
      assert.equal(await store.eraseAccount(a.user.id), true)
      assert.deepEqual(await store.listBackchannelRequests(a.user.id), [])
      assert.equal((await store.listBackchannelRequests(b.user.id)).length, 1)
    })

    it('concurrent sign-ups with one username: exactly one wins, the others get UniquenessError(username) and leave no claim', async () => {
      const store = await subject.fresh()
      const attempts = Array.from({ length: 6 }, () => {
        const user = newUser('alice')
        return { user, credential: newCredential(user.id) }
      })
      const results = await Promise.allSettled(attempts.map((a) => store.createAccount(a)))
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [attempts[i]!] : []))
      assert.equal(won.length, 1)
      for (const r of results)
        if (r.status === 'rejected') {
          assert.ok(r.reason instanceof UniquenessError, String(r.reason))
          assert.equal(r.reason.field, 'username')
        }
      assert.equal(await store.findUserIdByUsername('alice'), won[0]!.user.id)
      for (const a of attempts)
        if (a !== won[0]) {
          assert.equal(await store.findCredentialOwner(a.credential.id), undefined)
          assert.equal(await store.getAccount(a.user.id), undefined)
        }
    })

    it('a credential id registered once cannot be registered again (sign-up or add), and a refused sign-up releases its username', async () => {
      const store = await subject.fresh()
      const { user, credential } = await signUp(store)
      const other = newUser('bob')
      await rejectsWith(
        store.createAccount({ user: other, credential: { ...credential, userId: other.id } }),
        UniquenessError,
        'credential',
      )
      assert.equal(await store.findUserIdByUsername('bob'), undefined)
      assert.equal(await store.getAccount(other.id), undefined)
      await rejectsWith(store.addCredential({ ...credential, etag: undefined }), UniquenessError, 'credential')
      // The username is free again: the same person can retry with another passkey.
      await store.createAccount({ user: other, credential: newCredential(other.id) })
      assert.equal(await store.findUserIdByUsername('bob'), other.id)
      assert.equal(await store.findCredentialOwner(credential.id), user.id)
    })

    it('concurrent addCredential of one credential id to two users: exactly one owns it', async () => {
      const store = await subject.fresh()
      const a = await signUp(store)
      const b = await signUp(store)
      const id = randomId(32)
      const results = await Promise.allSettled([
        store.addCredential(newCredential(a.user.id, { id })),
        store.addCredential(newCredential(b.user.id, { id })),
      ])
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
      const owner = await store.findCredentialOwner(id)
      const loser = owner === a.user.id ? b.user.id : a.user.id
      assert.ok(await store.getCredential(owner!, id))
      assert.equal(await store.getCredential(loser, id), undefined)
    })

    it('createAccount is all or nothing: when the account write fails, neither claim stays', async () => {
      const store = await subject.fresh()
      const { user } = await signUp(store)
      // Same user id again (a user row exists): the claims succeed, the account write cannot.
      const clash = { ...newUser('carol'), id: user.id }
      const credential = newCredential(user.id)
      await rejectsWith(store.createAccount({ user: clash, credential }), ConcurrencyError)
      assert.equal(await store.findUserIdByUsername('carol'), undefined)
      assert.equal(await store.findCredentialOwner(credential.id), undefined)
      assert.equal((await store.getAccount(user.id))?.credentials.length, 1)
    })

    it('a challenge is consumed exactly once, even by concurrent callers', async () => {
      const store = await subject.fresh()
      const id = randomId(32)
      await store.putChallenge(id, T0 + 300_000)
      const results = await Promise.all(Array.from({ length: 8 }, () => store.consumeChallenge(id)))
      assert.equal(results.filter(Boolean).length, 1)
      assert.equal(await store.consumeChallenge(id), false)
      await rejectsWith(
        (async () => {
          const again = randomId(32)
          await store.putChallenge(again, T0)
          await store.putChallenge(again, T0)
        })(),
        ConcurrencyError,
      )
    })

    it('two concurrent updateSession from the same read: exactly one ConcurrencyError, the winner’s write stays', async () => {
      const store = await subject.fresh()
      const { user, session } = await signUp(store)
      const read = (await store.getSession(user.id, session.id))!
      const a = { ...read, refreshHash: 'hash-a', previousRefreshHashes: [read.refreshHash] }
      const b = { ...read, refreshHash: 'hash-b', previousRefreshHashes: [read.refreshHash] }
      const results = await Promise.allSettled([store.updateSession(a), store.updateSession(b)])
      const lost = results.filter((r) => r.status === 'rejected')
      assert.equal(lost.length, 1)
      assert.ok((lost[0] as PromiseRejectedResult).reason instanceof ConcurrencyError)
      const winner = results[0]!.status === 'fulfilled' ? a : b
      const stored = (await store.getSession(user.id, session.id))!
      assert.equal(stored.refreshHash, winner.refreshHash)
      assert.equal(stored.etag, winner.etag, 'the winner’s object carries the new etag')
      // …so the winner can update again without reading.
      await store.updateSession({ ...winner, revokedAt: T0, revokedReason: 'logout' })
    })

    it('updates guarded by a stale etag fail with ConcurrencyError (user, credential, signing key)', async () => {
      const store = await subject.fresh()
      const { user, credential } = await signUp(store)
      const u1 = (await store.getUser(user.id))!
      await store.updateUser({ ...u1, roles: ['reader', 'admin'] })
      await rejectsWith(store.updateUser({ ...u1, roles: [] }), ConcurrencyError)
      assert.deepEqual((await store.getUser(user.id))!.roles, ['reader', 'admin'])

      const c1 = (await store.getCredential(user.id, credential.id))!
      await store.updateCredential({ ...c1, label: 'Phone' })
      await rejectsWith(store.updateCredential({ ...c1, label: 'Laptop' }), ConcurrencyError)
      assert.equal((await store.getCredential(user.id, credential.id))!.label, 'Phone')

      const key = newKey()
      await store.createSigningKey(key)
      await rejectsWith(store.createSigningKey(newKey(key.kid)), ConcurrencyError)
      const [k1] = await store.listSigningKeys()
      assert.deepEqual(without(k1), without(key))
      await store.updateSigningKey({ ...k1!, state: 'active' })
      await rejectsWith(store.updateSigningKey({ ...k1!, state: 'revoked' }), ConcurrencyError)
      assert.equal((await store.listSigningKeys())[0]!.state, 'active')
    })

    it('a field cleared by an update is gone when read back', async () => {
      const store = await subject.fresh()
      const { user, credential } = await signUp(store)
      const flagged = { ...(await store.getCredential(user.id, credential.id))!, flaggedAt: T0, flagReason: 'counter' }
      await store.updateCredential(flagged)
      assert.equal((await store.getCredential(user.id, credential.id))!.flaggedAt, T0)
      const { flaggedAt: _f, flagReason: _r, ...cleared } = flagged
      await store.updateCredential(cleared)
      const read = (await store.getCredential(user.id, credential.id))!
      assert.equal(read.flaggedAt, undefined)
      assert.equal('flagReason' in read, false)
    })

    it('recordSignIn updates the passkey and inserts the session together', async () => {
      const store = await subject.fresh()
      const { user, credential } = await signUp(store)
      const read = (await store.getCredential(user.id, credential.id))!
      const used = { ...read, counter: 2 ** 32 - 1, lastUsedAt: T0 + 1, backedUp: false }
      const session = newSession(user.id, credential.id)
      await store.recordSignIn(used, session)
      assert.ok(session.etag)
      assert.deepEqual(without(await store.getCredential(user.id, credential.id)), without(used))
      assert.deepEqual(without(await store.getSession(user.id, session.id)), without(session))
      assert.equal((await store.listSessions(user.id)).length, 2)
      // The passed record now carries the new etag: a second sign-in needs no read.
      await store.recordSignIn({ ...used, counter: 2 ** 32 }, newSession(user.id, credential.id))
    })

    it('recordSignIn with a stale passkey etag: ConcurrencyError and no session', async () => {
      const store = await subject.fresh()
      const { user, credential } = await signUp(store)
      const read = (await store.getCredential(user.id, credential.id))!
      const first = newSession(user.id, credential.id)
      const second = newSession(user.id, credential.id)
      const results = await Promise.allSettled([
        store.recordSignIn({ ...read, counter: 1 }, first),
        store.recordSignIn({ ...read, counter: 1 }, second),
      ])
      assert.equal(results.filter((r) => r.status === 'rejected').length, 1)
      const loser = results[0]!.status === 'rejected' ? first : second
      assert.equal(await store.getSession(user.id, loser.id), undefined)
      assert.equal((await store.listSessions(user.id)).length, 2)
    })

    it('recordSignIn is atomic: when the session insert fails (id exists), the counter update is not applied', async () => {
      const store = await subject.fresh()
      const { user, credential, session } = await signUp(store)
      const read = (await store.getCredential(user.id, credential.id))!
      await rejectsWith(
        store.recordSignIn({ ...read, counter: 7 }, { ...newSession(user.id, credential.id), id: session.id }),
        ConcurrencyError,
      )
      const after = (await store.getCredential(user.id, credential.id))!
      assert.equal(after.counter, 0)
      assert.equal(after.etag, read.etag)
    })

    it('deleteCredential deletes the passkey and revokes the live sessions signed in with it, and only those', async () => {
      const store = await subject.fresh()
      const { user, credential, session } = await signUp(store)
      const other = newCredential(user.id)
      await store.addCredential(other)
      const otherSession = newSession(user.id, other.id)
      await store.recordSignIn((await store.getCredential(user.id, other.id))!, otherSession)
      const clientSession = newSession(user.id)
      await store.recordSignIn((await store.getCredential(user.id, other.id))!, clientSession)
      const earlier = newSession(user.id, credential.id)
      await store.recordSignIn((await store.getCredential(user.id, credential.id))!, earlier)
      const revokedBefore = { ...(await store.getSession(user.id, earlier.id))!, revokedAt: T0, revokedReason: 'logout' }
      await store.updateSession(revokedBefore)

      assert.equal(await store.deleteCredential(user.id, credential.id, 'credential_deleted'), true)
      assert.equal(await store.getCredential(user.id, credential.id), undefined)
      assert.equal(await store.findCredentialOwner(credential.id), undefined)
      assert.deepEqual((await store.getAccount(user.id))!.credentials.map((c) => c.id), [other.id])
      const revoked = (await store.getSession(user.id, session.id))!
      assert.equal(revoked.revokedReason, 'credential_deleted')
      assert.equal(typeof revoked.revokedAt, 'number')
      assert.equal(revoked.refreshHash, session.refreshHash, 'revocation keeps the other fields')
      const untouched = (await store.getSession(user.id, earlier.id))!
      assert.equal(untouched.revokedAt, T0)
      assert.equal(untouched.revokedReason, 'logout')
      assert.equal((await store.getSession(user.id, otherSession.id))!.revokedAt, undefined)
      assert.equal((await store.getSession(user.id, clientSession.id))!.revokedAt, undefined)
      assert.equal(await store.deleteCredential(user.id, credential.id, 'again'), false)
    })

    it('deleteCredential keepUsable: LastCredentialError when no other usable passkey would remain (revoked ones do not count)', async () => {
      const store = await subject.fresh()
      const { user, credential } = await signUp(store)
      await assert.rejects(store.deleteCredential(user.id, credential.id, 'x', { keepUsable: true }), LastCredentialError)
      assert.ok(await store.getCredential(user.id, credential.id), 'nothing deleted')
      const other = newCredential(user.id)
      await store.addCredential(other)
      assert.ok(await store.revokeCredential(user.id, other.id, 'revoked', T0))
      await assert.rejects(store.deleteCredential(user.id, credential.id, 'x', { keepUsable: true }), LastCredentialError)
      const third = newCredential(user.id)
      await store.addCredential(third)
      assert.equal(await store.deleteCredential(user.id, credential.id, 'x', { keepUsable: true }), true)
      assert.deepEqual((await store.getAccount(user.id))!.credentials.map((c) => c.id).sort(), [other.id, third.id].sort())
      assert.equal(await store.deleteCredential(user.id, 'nope', 'x', { keepUsable: true }), false)
    })

    it('deleteCredential keepUsable: of two concurrent deletions on two passkeys exactly one succeeds (20 trials)', async () => {
      const store = await subject.fresh()
      for (let trial = 0; trial < 20; trial++) {
        const { user, credential } = await signUp(store)
        const other = newCredential(user.id)
        await store.addCredential(other)
        const results = await Promise.allSettled([credential.id, other.id].map((id) => store.deleteCredential(user.id, id, 'x', { keepUsable: true })))
        assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'], `trial ${trial}`)
        const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
        assert.ok(rejected.reason instanceof LastCredentialError, String(rejected.reason))
        assert.equal((await store.getAccount(user.id))!.credentials.length, 1)
      }
    })

    it('revokeCredential flags the passkey and revokes its live sessions, and only those; idempotent', async () => {
      const store = await subject.fresh()
      const { user, credential, session } = await signUp(store)
      const other = newCredential(user.id)
      await store.addCredential(other)
      const otherSession = newSession(user.id, other.id)
      await store.recordSignIn((await store.getCredential(user.id, other.id))!, otherSession)
      const flagged = await store.revokeCredential(user.id, credential.id, 'revoked by an administrator', T0 + 5)
      assert.equal(flagged!.flaggedAt, T0 + 5)
      assert.equal(flagged!.flagReason, 'revoked by an administrator')
      const stored = (await store.getCredential(user.id, credential.id))!
      assert.equal(stored.flaggedAt, T0 + 5)
      assert.equal(stored.publicKey, credential.publicKey, 'the rest of the record is kept')
      assert.equal((await store.getSession(user.id, session.id))!.revokedReason, 'revoked by an administrator')
      assert.equal((await store.getSession(user.id, otherSession.id))!.revokedAt, undefined)
      // A sign-in with the old etag can no longer commit.
      await assert.rejects(store.recordSignIn(credential, newSession(user.id, credential.id)), ConcurrencyError)
      const again = await store.revokeCredential(user.id, credential.id, 'again', T0 + 9)
      assert.equal(again!.flaggedAt, T0 + 5, 'a second revocation keeps the first flag')
      assert.equal(await store.revokeCredential(user.id, 'nope', 'x', T0), undefined)
    })

    it('deleteCredential revokes more sessions than one transaction may hold (100 operations)', async () => {
      const store = await subject.fresh()
      const { user, credential } = await signUp(store)
      let cred = (await store.getCredential(user.id, credential.id))!
      for (let i = 0; i < 150; i++) {
        cred = { ...cred, counter: cred.counter + 1 }
        await store.recordSignIn(cred, newSession(user.id, credential.id))
      }
      // With the last-passkey guard: the guarded delete and the first sessions commit together.
      await store.addCredential(newCredential(user.id))
      assert.equal(await store.deleteCredential(user.id, credential.id, 'gone', { keepUsable: true }), true)
      const sessions = await store.listSessions(user.id)
      assert.equal(sessions.length, 151)
      assert.ok(sessions.every((s) => s.revokedReason === 'gone'))
    })

    it('usernames with characters not allowed in table keys work and stay distinct', async () => {
      const store = await subject.fresh()
      const names = ['a/b', 'a%2Fb', 'x#y?z', 'back\\slash', "o'hara", 'émile', 'tab\tname', '']
      const users = []
      for (const name of names) users.push((await signUp(store, name)).user)
      for (const u of users) {
        assert.equal(await store.findUserIdByUsername(u.username), u.id)
        assert.equal((await store.getUser(u.id))!.username, u.username)
      }
    })

    it('large numbers round-trip exactly (times in ms, counters up to 2^32 − 1, seconds)', async () => {
      const store = await subject.fresh()
      const { user, session } = await signUp(store)
      const read = (await store.getSession(user.id, session.id))!
      assert.equal(read.createdAt, T0)
      assert.equal(read.expiresAt, T0 + 86_400_000)
      assert.equal(read.authTime, Math.floor(T0 / 1000))
      assert.equal(typeof read.createdAt, 'number')
    })

    it('sweepExpired deletes expired challenge and jti markers and expired sessions (revoked too), and nothing else', async () => {
      const store = await subject.fresh()
      const before = T0 + 3_600_000
      const { user, credential, session: live } = await signUp(store) // expires T0 + 1 day
      const expired = { ...newSession(user.id, credential.id), expiresAt: T0 }
      const revoked = { ...newSession(user.id, credential.id), expiresAt: T0 + 1, revokedAt: T0, revokedReason: 'test' }
      const revokedLive = { ...newSession(user.id, credential.id), revokedAt: T0, revokedReason: 'test' }
      const atCutoff = { ...newSession(user.id), expiresAt: before } // not before `before`: kept
      const other = await signUp(store)
      const otherExpired = { ...newSession(other.user.id), expiresAt: T0 - 86_400_000 }
      for (const s of [expired, revoked, revokedLive, atCutoff, otherExpired]) await store.createSession(s)
      const jti = `jti.${randomId(32)}`
      await store.putChallenge('old', T0)
      await store.putChallenge(jti, T0 + 60_000)
      await store.putChallenge('edge', before)
      await store.putChallenge('fresh', before + 300_000)

      assert.deepEqual(await store.sweepExpired({ before, max: 1000 }), { challenges: 2, sessions: 3 })

      assert.equal(await store.getSession(user.id, expired.id), undefined)
      assert.equal(await store.getSession(user.id, revoked.id), undefined)
      assert.equal(await store.getSession(other.user.id, otherExpired.id), undefined)
      assert.deepEqual(
        (await store.listSessions(user.id)).map((s) => s.id).sort(),
        [live.id, revokedLive.id, atCutoff.id].sort(),
      )
      assert.equal((await store.getSession(user.id, revokedLive.id))?.revokedAt, T0, 'a live revoked session stays')
      assert.deepEqual((await store.listSessions(other.user.id)).map((s) => s.id), [other.session.id])
      assert.equal((await store.getAccount(user.id))?.credentials.length, 1, 'the account is untouched')
      assert.equal(await store.findUserIdByUsername(user.username), user.id)
      assert.deepEqual(await store.sweepExpired({ before, max: 1000 }), { challenges: 0, sessions: 0 })
      assert.equal(await store.consumeChallenge('old'), false)
      assert.equal(await store.consumeChallenge(jti), false)
      assert.equal(await store.consumeChallenge('edge'), true)
      assert.equal(await store.consumeChallenge('fresh'), true)
    })

    it('sweepExpired deletes at most max rows per call, shared between markers and sessions', async () => {
      const store = await subject.fresh()
      const { user } = await signUp(store)
      for (let i = 0; i < 4; i++) {
        await store.putChallenge(`old${i}`, T0 + i)
        await store.createSession({ ...newSession(user.id), expiresAt: T0 + i })
      }
      const before = T0 + 1000
      assert.deepEqual(await store.sweepExpired({ before, max: 0 }), { challenges: 0, sessions: 0 })
      assert.deepEqual(await store.sweepExpired({ before, max: 3 }), { challenges: 2, sessions: 1 })
      assert.deepEqual(await store.sweepExpired({ before, max: 3 }), { challenges: 2, sessions: 1 })
      assert.deepEqual(await store.sweepExpired({ before, max: 3 }), { challenges: 0, sessions: 2 })
      assert.deepEqual(await store.sweepExpired({ before, max: 3 }), { challenges: 0, sessions: 0 })
      assert.equal((await store.listSessions(user.id)).length, 1, 'the live session of the sign-up')
    })

    it('sweepExpired keeps an expired session that was updated after the sweep read it (etag-guarded delete)', async () => {
      const user = randomId()
      const raced = { ...newSession(user), expiresAt: T0 }
      const plain = { ...newSession(user), expiresAt: T0 }
      const store = await subject.racing(async (s) => {
        // A revocation lands between the sweep's read and its delete: the row's etag changes.
        const current = (await s.getSession(user, raced.id))!
        await s.updateSession({ ...current, revokedAt: T0 + 1, revokedReason: 'raced' })
      })
      await store.createSession(raced)
      await store.createSession(plain)
      assert.deepEqual(await store.sweepExpired({ before: T0 + 1000, max: 10 }), { challenges: 0, sessions: 1 })
      assert.equal(await store.getSession(user, plain.id), undefined)
      assert.equal((await store.getSession(user, raced.id))?.revokedReason, 'raced', 'the changed row is kept')
      // The next run deletes it: it is still expired.
      assert.deepEqual(await store.sweepExpired({ before: T0 + 1000, max: 10 }), { challenges: 0, sessions: 1 })
    })

    it('invitations: create (unique id), point read, partition list, etag-guarded update, sweep of expired ones only', async () => {
      const store = await subject.fresh()
      const make = (expiresAt: number): InvitationRecord => ({ id: randomId(), username: `inv-${randomId(4)}`.toLowerCase(), roles: ['reader'], userId: randomId(), secretHash: randomId(32), createdAt: T0, expiresAt })
      const a = make(T0 + 1000)
      const b = make(T0 + 5000)
      await store.createInvitation(a)
      await store.createInvitation(b)
      await rejectsWith(store.createInvitation({ ...a, etag: undefined }), ConcurrencyError)
      assert.deepEqual(without(await store.getInvitation(a.id)), without(a))
      assert.deepEqual((await store.listInvitations()).map((i) => i.id).sort(), [a.id, b.id].sort())
      const read = (await store.getInvitation(a.id))!
      await store.updateInvitation({ ...read, usedAt: T0 + 1 })
      await rejectsWith(store.updateInvitation({ ...read, revokedAt: T0 + 2 }), ConcurrencyError)
      assert.equal((await store.getInvitation(a.id))?.usedAt, T0 + 1)
      assert.equal(await store.sweepInvitations({ before: T0 + 2000, max: 10 }), 1)
      assert.equal(await store.getInvitation(a.id), undefined)
      assert.ok(await store.getInvitation(b.id), 'not expired: kept')
    })

    it('recoverAccount: one step adds the passkey and session, uses the link, revokes the earlier sessions', async () => {
      const store = await subject.fresh()
      const { user, session: earlier } = await signUp(store)
      const recovery: RecoveryRecord = { userId: user.id, id: randomId(), secretHash: randomId(32), createdAt: T0, expiresAt: T0 + 1000 }
      await store.putRecovery(recovery)
      const [u, r] = [(await store.getUser(user.id))!, (await store.getRecovery(user.id))!]
      const credential = newCredential(user.id)
      const session = { ...newSession(user.id, credential.id), createdAt: T0 + 10 }
      assert.deepEqual(await store.recoverAccount({ user: u, recovery: r, credential, session, reason: 'recovered' }), { revoked: 1 })
      assert.equal((await store.getSession(user.id, earlier.id))?.revokedReason, 'recovered')
      assert.equal((await store.getSession(user.id, session.id))?.revokedAt, undefined)
      assert.equal((await store.getAccount(user.id))?.credentials.length, 2)
      assert.equal(await store.findCredentialOwner(credential.id), user.id)
      assert.equal((await store.getRecovery(user.id))?.usedAt, T0 + 10)
    })

    it('recoverAccount loses (ConcurrencyError, nothing written, claim released) when the link was replaced or the user row changed', async () => {
      const store = await subject.fresh()
      const { user, session: earlier } = await signUp(store)
      await store.putRecovery({ userId: user.id, id: randomId(), secretHash: 'h1', createdAt: T0, expiresAt: T0 + 1000 })
      const attempt = async (change: (u: UserRecord) => Promise<void>) => {
        const [u, r] = [(await store.getUser(user.id))!, (await store.getRecovery(user.id))!]
        await change(u)
        const credential = newCredential(user.id)
        await rejectsWith(store.recoverAccount({ user: u, recovery: r, credential, session: newSession(user.id, credential.id), reason: 'x' }), ConcurrencyError)
        assert.equal(await store.findCredentialOwner(credential.id), undefined, 'claim released')
      }
      // A new issue replaced the link between the read and the use.
      await attempt(async () => store.putRecovery({ userId: user.id, id: randomId(), secretHash: 'h2', createdAt: T0, expiresAt: T0 + 1000 }))
      // A disabling (any write of the user row) committed between the read and the use.
      await attempt(async (u) => store.disableUser({ ...u }, 'disabled'))
      assert.equal((await store.getAccount(user.id))?.credentials.length, 1)
      assert.equal((await store.getRecovery(user.id))?.usedAt, undefined)
      assert.equal((await store.listSessions(user.id)).length, 1)
      assert.equal((await store.getSession(user.id, earlier.id))?.revokedReason, 'disabled')
    })
  })
}


describe('Store failure injection (memory)', () => {
  it('down: every verb throws StorageUnavailableError and nothing is written', async () => {
    const store = createMemoryStore()
    store.down = true
    const user = newUser('dave')
    await rejectsWith(store.createAccount({ user, credential: newCredential(user.id) }), StorageUnavailableError)
    await rejectsWith(store.ping(), StorageUnavailableError)
    store.down = false
    assert.equal(await store.findUserIdByUsername('dave'), undefined)
    store.failNext('consumeChallenge')
    await store.putChallenge('c1', T0)
    await rejectsWith(store.consumeChallenge('c1'), StorageUnavailableError)
    assert.equal(await store.consumeChallenge('c1'), true, 'the failed consume did not consume')
    assert.equal(store.calls.consumeChallenge, 2)
  })
})

// ---------------------------------------------------------------------------------------------
// Table Storage only

describe('Table Storage: round trips per verb (hot paths are point reads and one transaction)', () => {
  it('createAccount = 3, recordSignIn = 1, consumeChallenge = 1, getAccount = 1, point reads = 1', async () => {
    const trips: StorageRequest[] = []
    const { store } = await freshTables((r) => trips.push(r))
    const count = async (fn: () => Promise<unknown>) => {
      trips.length = 0
      await fn()
      return trips.length
    }
    const user = newUser()
    const credential = newCredential(user.id)
    const session = newSession(user.id, credential.id)
    assert.equal(await count(() => store.createAccount({ user, credential, session })), 3)
    assert.equal(await count(() => store.putChallenge('ch', T0)), 1)
    assert.equal(await count(() => store.consumeChallenge('ch')), 1)
    assert.equal(await count(() => store.consumeChallenge('ch')), 1)
    assert.equal(await count(() => store.getAccount(user.id)), 1)
    assert.equal(await count(() => store.findUserIdByUsername(user.username)), 1)
    assert.equal(await count(() => store.findCredentialOwner(credential.id)), 1)
    assert.equal(await count(() => store.getCredential(user.id, credential.id)), 1)
    assert.equal(await count(() => store.getSession(user.id, session.id)), 1)
    assert.equal(await count(() => store.recordSignIn(credential, newSession(user.id, credential.id))), 1)
    assert.equal(await count(() => store.updateSession(session)), 1)
    assert.equal(await count(() => store.listSessions(user.id)), 1)
    assert.equal(await count(() => store.addCredential(newCredential(user.id))), 2)
    assert.equal(await count(() => store.ping()), 1)
    assert.equal(await count(() => store.deleteCredential(user.id, credential.id, 'x')), 4)
    assert.equal(await count(() => store.sweepExpired({ before: T0, max: 10 })), 2, 'two queries, nothing to delete')
    assert.equal(await count(() => store.init()), TABLE_NAMES.length, 'one createTable per table')
    assert.ok(trips.every((t) => t.status !== undefined && t.url.startsWith('http://127.0.0.1:')))
  })
})

describe('Table Storage: sweepExpired on Azurite (Int64 filters)', () => {
  const int64 = (n: number) => ({ value: String(n), type: 'Int64' as const })
  const raw = (config: ReturnType<typeof tablesConfig>, table: string) =>
    TableClient.fromConnectionString(config.tablesConnectionString!, `${config.tablePrefix}${table}`, {
      allowInsecureConnection: true,
    })
  async function keysMatching(client: TableClient, filter: string): Promise<string[]> {
    const keys: string[] = []
    for await (const e of client.listEntities({ queryOptions: { filter } })) keys.push(`${e.partitionKey}/${e.rowKey}`)
    return keys.sort()
  }

  it('the filters compare Int64 times as numbers (`L` literals), not as strings, across partitions', async () => {
    const { config } = await freshTables()
    const challenges = raw(config, 'challenges')
    // Different digit counts: a string comparison (Azurite before 3.30, issue #2385) gets these wrong.
    const times: Record<string, number> = { a: 12, b: 120, c: 999, d: T0 - 1, e: T0, f: T0 + 1, g: 10 * T0 }
    for (const [pk, t] of Object.entries(times)) await challenges.createEntity({ partitionKey: pk, rowKey: '', expiresAt: int64(t) })
    await challenges.createEntity({ partitionKey: 'none', rowKey: '' })
    assert.deepEqual(await keysMatching(challenges, sweepFilters(T0).challenges), ['a/', 'b/', 'c/', 'd/'])
    assert.deepEqual(await keysMatching(challenges, sweepFilters(13).challenges), ['a/'])
    assert.deepEqual(await keysMatching(challenges, sweepFilters(T0 + 2).challenges), ['a/', 'b/', 'c/', 'd/', 'e/', 'f/'])
    assert.match(sweepFilters(T0).challenges, new RegExp(`^expiresAt lt ${T0}L$`))

    const users = raw(config, 'users')
    const rows: [string, string, number | undefined][] = [
      ['u1', 'acct', undefined],
      ['u1', 'acct:cred:x', undefined],
      ['u1', 'client', undefined],
      ['u1', 'sess:old', T0 - 1],
      ['u1', 'sess:new', T0 + 1],
      ['u1', 'sess:small', 999],
      ['u2', 'sess:old', T0 - 86_400_000],
      ['u2', 'sessx', T0 - 1], // not under the `sess:` prefix
      ['u2', 'other', T0 - 1],
    ]
    for (const [pk, rk, t] of rows)
      await users.createEntity({ partitionKey: pk, rowKey: rk, ...(t === undefined ? {} : { expiresAt: int64(t) }) })
    assert.deepEqual(await keysMatching(users, sweepFilters(T0).sessions), ['u1/sess:old', 'u1/sess:small', 'u2/sess:old'])
  })

  it('the store sends those filters and deletes exactly the matching rows, one etag-guarded delete each', async () => {
    const trips: StorageRequest[] = []
    const { store, config } = await freshTables((r) => trips.push(r))
    const challenges = raw(config, 'challenges')
    for (const [pk, t] of [['a', 999], ['b', T0 - 1], ['c', T0], ['d', 10 * T0]] as const)
      await challenges.createEntity({ partitionKey: pk, rowKey: '', expiresAt: int64(t) })
    const { user, session } = await signUp(store)
    const old = { ...newSession(user.id), expiresAt: T0 - 1 }
    await store.createSession(old)
    trips.length = 0
    assert.deepEqual(await store.sweepExpired({ before: T0, max: 100 }), { challenges: 2, sessions: 1 })
    const filters = trips
      .filter((t) => t.method === 'GET')
      .map((t) => new URL(t.url).searchParams.get('$filter'))
      .sort()
    assert.deepEqual(filters, [sweepFilters(T0).sessions, sweepFilters(T0).challenges].sort())
    assert.equal(trips.filter((t) => t.method === 'DELETE' && t.status === 204).length, 3)
    assert.equal(trips.length, 5)
    assert.deepEqual(await keysMatching(challenges, ''), ['c/', 'd/'])
    assert.deepEqual((await store.listSessions(user.id)).map((s) => s.id), [session.id])
  })

  it('a marker re-created after the sweep read it is kept (the delete carries the etag read)', async () => {
    let armed = true
    let config!: ReturnType<typeof tablesConfig>
    const { store, config: c } = await freshTables(async (r) => {
      if (!armed || r.method !== 'GET' || !/challenges\(\)/.test(new URL(r.url).pathname)) return
      armed = false
      const client = raw(config, 'challenges')
      await client.deleteEntity('m', '')
      await client.createEntity({ partitionKey: 'm', rowKey: '', expiresAt: int64(T0 - 1) })
    })
    config = c
    await store.putChallenge('m', T0 - 1)
    assert.deepEqual(await store.sweepExpired({ before: T0, max: 10 }), { challenges: 0, sessions: 0 })
    assert.equal(await store.consumeChallenge('m'), true)
  })
})

describe('Table Storage: claims left behind by a crash', () => {
  function indexTable(config: ReturnType<typeof tablesConfig>, table: string) {
    return TableClient.fromConnectionString(config.tablesConnectionString!, `${config.tablePrefix}${table}`, {
      allowInsecureConnection: true,
    })
  }

  /** Makes an existing claim look older than STALE_CLAIM_MS. */
  async function ageClaim(config: ReturnType<typeof tablesConfig>, table: string, pk: string) {
    await indexTable(config, table).updateEntity(
      { partitionKey: pk, rowKey: '', createdAt: { value: String(Date.now() - STALE_CLAIM_MS * 2), type: 'Int64' } },
      'Merge',
    )
  }

  async function plantClaim(config: ReturnType<typeof tablesConfig>, table: string, pk: string, userId: string, age: number) {
    await indexTable(config, table).createEntity({
      partitionKey: pk,
      rowKey: '',
      userId,
      createdAt: { value: String(Date.now() - age), type: 'Int64' },
    })
  }

  it('a username claim older than 60 s whose user never appeared is taken over by the next sign-up', async () => {
    const { store, config } = await freshTables()
    await plantClaim(config, 'usernames', 'erin', randomId(), STALE_CLAIM_MS + 5_000)
    const user = newUser('erin')
    await store.createAccount({ user, credential: newCredential(user.id) })
    assert.equal(await store.findUserIdByUsername('erin'), user.id)
  })

  it('a recent claim without its user (a sign-up in flight) still refuses the username', async () => {
    const { store, config } = await freshTables()
    await plantClaim(config, 'usernames', 'fay', randomId(), 1_000)
    const user = newUser('fay')
    await rejectsWith(store.createAccount({ user, credential: newCredential(user.id) }), UniquenessError, 'username')
  })

  it('concurrent takeovers of one stale claim: exactly one wins', async () => {
    const { store, config } = await freshTables()
    await plantClaim(config, 'usernames', 'gus', randomId(), STALE_CLAIM_MS * 2)
    const attempts = Array.from({ length: 4 }, () => {
      const user = newUser('gus')
      return { user, credential: newCredential(user.id) }
    })
    const results = await Promise.allSettled(attempts.map((a) => store.createAccount(a)))
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
  })

  it('a stale credential-id claim is taken over too', async () => {
    const { store, config } = await freshTables()
    const id = randomId(32)
    await plantClaim(config, 'credentials', id, randomId(), STALE_CLAIM_MS * 2)
    const { user } = await signUp(store)
    await store.addCredential(newCredential(user.id, { id }))
    assert.equal(await store.findCredentialOwner(id), user.id)
  })

  it('an old claim whose account exists is never taken over (username or credential id)', async () => {
    const { store, config } = await freshTables()
    const { user, credential } = await signUp(store, 'jill')
    await ageClaim(config, 'usernames', 'jill')
    await ageClaim(config, 'credentials', credential.id)
    const other = newUser('jill')
    await rejectsWith(store.createAccount({ user: other, credential: newCredential(other.id) }), UniquenessError, 'username')
    const { user: third } = await signUp(store)
    await rejectsWith(store.addCredential({ ...credential, userId: third.id }), UniquenessError, 'credential')
    assert.equal(await store.findUserIdByUsername('jill'), user.id)
    assert.equal(await store.findCredentialOwner(credential.id), user.id)
  })
})

describe('Table Storage: a table that went missing (storage wiped, emulator lost its data)', () => {
  it('answers StorageUnavailableError (never "no such row"), then creates the tables again by itself', async () => {
    const { store, config } = await freshTables()
    const { user } = await signUp(store)
    await TableClient.fromConnectionString(config.tablesConnectionString!, `${config.tablePrefix}users`, { allowInsecureConnection: true }).deleteTable()
    // A read of a row in a missing table must not pass for "no such user".
    await assert.rejects(store.getUser(user.id), StorageUnavailableError)
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        assert.equal(await store.getUser(user.id), undefined, 'the data is gone with the table, but the table is back')
        break
      } catch (e) {
        if (!(e instanceof StorageUnavailableError) || Date.now() > deadline) throw e
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    await signUp(store) // writes work again
  })
})

describe('Table Storage: lost responses and storage down', () => {
  it('a lost response to the account transaction: StorageUnavailableError, and the account is whole (claims kept)', async () => {
    let failBatch = false
    const { store } = await freshTables((r) => {
      if (failBatch && r.url.includes('$batch')) throw new Error('response lost')
    })
    failBatch = true
    const user = newUser('hank')
    const credential = newCredential(user.id)
    await rejectsWith(store.createAccount({ user, credential }), StorageUnavailableError)
    failBatch = false
    assert.equal(await store.findUserIdByUsername('hank'), user.id)
    assert.equal(await store.findCredentialOwner(credential.id), user.id)
    assert.equal((await store.getAccount(user.id))?.credentials.length, 1)
  })

  it('storage hangs in the middle of a sign-up: StorageUnavailableError within about 3.5 s, and no account exists', async () => {
    let armed = false
    const { store } = await freshTables((r) => {
      // The username claim got its answer: from now on nothing answers.
      if (armed && r.method === 'POST' && r.url.includes('usernames')) {
        armed = false
        azurite.pause()
      }
    })
    const user = newUser('kim')
    armed = true
    const t0 = Date.now()
    try {
      await rejectsWith(store.createAccount({ user, credential: newCredential(user.id) }), StorageUnavailableError)
      assert.ok(Date.now() - t0 < 3_500, `took ${Date.now() - t0} ms`)
    } finally {
      await azurite.resume()
    }
    assert.equal(await store.getAccount(user.id), undefined)
    assert.equal(await store.getUser(user.id), undefined)
  })

  it('Azurite paused (requests hang): StorageUnavailableError within about 3 s, for reads and writes', async () => {
    const { store } = await freshTables()
    const { user, credential } = await signUp(store)
    azurite.pause()
    try {
      for (const op of [
        () => store.getAccount(user.id),
        () => store.consumeChallenge('x'),
        () => store.recordSignIn(credential, newSession(user.id, credential.id)),
      ]) {
        const t0 = Date.now()
        await rejectsWith(op(), StorageUnavailableError)
        assert.ok(Date.now() - t0 < 3_500, `took ${Date.now() - t0} ms`)
      }
    } finally {
      await azurite.resume()
    }
  })

  it('Azurite stopped: every verb throws StorageUnavailableError fast; after a restart the store works again', async () => {
    const { store } = await freshTables()
    const { user, credential } = await signUp(store)
    await azurite.stop()
    try {
      const other = newUser('ivy')
      const ops: [string, () => Promise<unknown>][] = [
        ['ping', () => store.ping()],
        ['getAccount', () => store.getAccount(user.id)],
        ['findUserIdByUsername', () => store.findUserIdByUsername(user.username)],
        ['createAccount', () => store.createAccount({ user: other, credential: newCredential(other.id) })],
        ['consumeChallenge', () => store.consumeChallenge('x')],
        ['recordSignIn', () => store.recordSignIn(credential, newSession(user.id, credential.id))],
        ['deleteCredential', () => store.deleteCredential(user.id, credential.id, 'x')],
        ['sweepExpired', () => store.sweepExpired({ before: T0, max: 10 })],
        ['init', () => store.init()],
      ]
      for (const [name, op] of ops) {
        const t0 = Date.now()
        await assert.rejects(op(), (err: unknown) => {
          assert.ok(err instanceof StorageUnavailableError, `${name}: ${String(err)}`)
          assert.equal(err.status, 503)
          assert.ok(err.cause, `${name}: keeps the original error as cause`)
          return true
        })
        assert.ok(Date.now() - t0 < 3_000, `${name} took ${Date.now() - t0} ms`)
      }
    } finally {
      await azurite.restart()
    }
    await store.init()
    await store.ping()
    const again = newUser('ivy')
    await store.createAccount({ user: again, credential: newCredential(again.id) })
    assert.equal(await store.findUserIdByUsername('ivy'), again.id)
  })
})
