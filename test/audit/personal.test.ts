/**
 * Crypto-shredding of personal audit fields (shared/audit/personal.ts, docs/audit.md "Personal
 * data"), on the memory store: which key each field goes under, the binding of a ciphertext to
 * its event and field, lazy keys (only for existing people, one under a race), erased keys, and a
 * change of KEY_ENCRYPTION_KEY.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { createApp } from '../../shared/app.js'
import { decryptField, ownerOf, PD_KEY_TTL_MS, revealPersonal } from '../../shared/audit/personal.js'
import { REDACTED } from '../../shared/audit/events.js'
import { loadConfig } from '../../shared/config.js'
import { keyEncryptionKeyId } from '../../shared/crypto/kek.js'
import { createMemoryStore, type MemoryStore } from '../../shared/store/memory.js'
import type { UserRecord } from '../../shared/store/types.js'
import { ManualClock } from '../../shared/util/clock.js'

const b64 = () => randomBytes(32).toString('base64')

function service(opts: { store?: MemoryStore; kek?: string; previous?: string } = {}) {
  const store = opts.store ?? createMemoryStore()
  const clock = new ManualClock(Date.now())
  const config = loadConfig({ KEY_ENCRYPTION_KEY: opts.kek ?? b64(), ...(opts.previous ? { KEY_ENCRYPTION_KEY_PREVIOUS: opts.previous } : {}) }, { local: true })
  const { core } = createApp({ config, store, clock, logError: () => {} })
  return { core, store, clock }
}

let n = 0
/** A person's account without a personal-data key (as accounts made before keys existed). */
async function legacyPerson(store: MemoryStore, extra: Partial<UserRecord> = {}): Promise<UserRecord> {
  const id = randomBytes(16).toString('base64url')
  const user: UserRecord = { id, username: `pat${++n}`, displayName: 'Pat', roles: [], createdAt: Date.now(), ...extra }
  await store.createAccount({ user, credential: { id: randomBytes(16).toString('base64url'), userId: id, publicKey: 'pk', alg: -7, counter: 0, transports: [], aaguid: '', fmt: 'none', backupEligible: false, backedUp: false, attestationTrusted: false, label: 'k', createdAt: Date.now() } })
  return user
}

const ORIGIN = { ip: '192.0.2.44', userAgent: 'PersonalTest/1.0' }

describe('Personal fields are encrypted under their person\'s key before the chain hash', () => {
  it('actor.username and target.username under their own keys; ip and userAgent under the actor\'s', async () => {
    const { core, store } = service()
    const admin = await legacyPerson(store)
    const pat = await legacyPerson(store)
    const e = await core.audit.append({ ...ORIGIN, type: 'user.role_granted', actor: { userId: admin.id, username: admin.username }, target: { userId: pat.id, username: pat.username, role: 'r' } })
    assert.equal(ownerOf(e.actor.username), admin.id)
    assert.equal(ownerOf(e.target.username), pat.id)
    assert.equal(ownerOf(e.ip), admin.id)
    assert.equal(ownerOf(e.userAgent), admin.id)
    const stored = JSON.stringify(await store.listAudit(1, 10))
    for (const clear of [admin.username, pat.username, ORIGIN.ip, ORIGIN.userAgent]) assert.ok(!stored.includes(clear), clear)
    const [shown] = await revealPersonal(core.personal, [e])
    assert.deepEqual([shown!.actor.username, shown!.target.username, shown!.ip, shown!.userAgent, shown!.erased], [admin.username, pat.username, ORIGIN.ip, ORIGIN.userAgent, undefined])
  })

  it('without a person as actor, ip and userAgent go under the target\'s key; with no person at all, they stay as they are', async () => {
    const { core, store } = service()
    const pat = await legacyPerson(store)
    const byClient = await core.audit.append({ ...ORIGIN, type: 'token.revoked', actor: { clientId: 'c1' }, target: { userId: pat.id, sessionId: 's' } })
    assert.equal(ownerOf(byClient.ip), pat.id)
    const system = await core.audit.append({ ...ORIGIN, type: 'key.rotated', actor: { system: 'key-rotation' }, target: { kid: 'k1' } })
    assert.deepEqual([system.ip, system.userAgent], [ORIGIN.ip, ORIGIN.userAgent])
  })

  it('a client principal (no username) is not a person: no key is made, its events keep their origin', async () => {
    const { core, store } = service()
    const principal: UserRecord = { id: randomBytes(16).toString('base64url'), username: '', displayName: 'job', roles: [], createdAt: Date.now() }
    await store.createClient({ id: principal.id, name: 'job', kind: 'confidential', redirectUris: [], createdAt: Date.now() }, principal)
    const e = await core.audit.append({ ...ORIGIN, type: 'token.issued', actor: { clientId: principal.id }, target: { userId: principal.id, sessionId: 's' } })
    assert.equal(e.ip, ORIGIN.ip)
    assert.equal(await store.getAuditKey(principal.id), undefined)
  })

  it('a value kept in clear that looks like ciphertext is stored redacted (it would read as erased)', async () => {
    const { core } = service()
    const e = await core.audit.append({ ip: '127.0.0.1', userAgent: 'pd1:someone:AAAA', type: 'token.failed', actor: {}, target: {} })
    assert.equal(e.userAgent, REDACTED)
  })
})

describe('Keys: made at sign-up, lazily for existing people only, never for claimed or missing ids', () => {
  it('ceremony.failed names a user handle as sent: no key is made for it; its origin is encrypted when a key exists, else kept (a random handle cannot hide the address)', async () => {
    const { core, store } = service()
    const pat = await legacyPerson(store)
    const before = await core.audit.append({ ...ORIGIN, type: 'ceremony.failed', outcome: 'failure', target: { userId: pat.id } })
    assert.deepEqual([before.ip, before.userAgent], [ORIGIN.ip, ORIGIN.userAgent])
    assert.equal(await store.getAuditKey(pat.id), undefined, 'no key made from unauthenticated input')
    await core.personal.keyOf(pat.id, { create: true })
    const afterKey = await core.audit.append({ ...ORIGIN, type: 'ceremony.failed', outcome: 'failure', target: { userId: pat.id } })
    assert.equal(ownerOf(afterKey.ip), pat.id)
    const made = await core.audit.append({ ...ORIGIN, type: 'ceremony.failed', outcome: 'failure', target: { userId: 'AAAAAAAAAAAAAAAAAAAAAA' } })
    assert.equal(made.ip, ORIGIN.ip)
    assert.equal(await store.getAuditKey('AAAAAAAAAAAAAAAAAAAAAA'), undefined)
  })

  it('an unknown or deleted account gets no key: its username and origin are left out, not stored readable', async () => {
    const { core, store } = service()
    const gone = await legacyPerson(store, { deletedAt: Date.now(), disabledAt: Date.now() })
    const e = await core.audit.append({ ...ORIGIN, type: 'user.signed_in', actor: { userId: gone.id, username: gone.username }, target: { userId: gone.id, username: gone.username } })
    assert.deepEqual([e.actor, e.target, e.ip, e.userAgent], [{ userId: gone.id }, { userId: gone.id }, undefined, undefined])
    assert.equal(await store.getAuditKey(gone.id), undefined)
    assert.equal(await core.personal.keyOf('BBBBBBBBBBBBBBBBBBBBBB', { create: true }), 'gone')
  })

  it('race: concurrent first uses of a person\'s key (several instances) agree on one key', async () => {
    const store = createMemoryStore()
    const kek = b64()
    const instances = [service({ store, kek }), service({ store, kek }), service({ store, kek })]
    const pat = await legacyPerson(store)
    const events = await Promise.all(instances.map(({ core }) => core.audit.append({ ...ORIGIN, type: 'passkey.deleted', actor: { userId: pat.id }, target: { userId: pat.id } })))
    const key = await instances[0]!.core.personal.keyOf(pat.id, { create: false })
    assert.ok(typeof key === 'object')
    for (const e of events) assert.equal(decryptField(key, pat.id, e.seq, 'ip', e.ip!), ORIGIN.ip, 'each instance encrypted under the winner\'s key')
  })

  it('a key cannot be added once the deletion began (the insert is guarded by the user row as read)', async () => {
    const { core, store } = service()
    const pat = await legacyPerson(store)
    const asRead = (await store.getUser(pat.id))!
    await store.shredUser({ ...asRead, deletedAt: Date.now(), disabledAt: Date.now() }, 'test')
    const { record } = await core.personal.newKey(pat.id)
    await assert.rejects(store.createAuditKey(record, asRead), { name: 'ConcurrencyError' })
    assert.equal(await store.getAuditKey(pat.id), undefined)
  })
})

describe('Moved ciphertext and destroyed keys', () => {
  it('a ciphertext copied into another field or another event does not decrypt (AAD: seq and field)', async () => {
    const { core, store } = service()
    const pat = await legacyPerson(store)
    const a = await core.audit.append({ ...ORIGIN, type: 'passkey.renamed', actor: { userId: pat.id, username: pat.username }, target: { userId: pat.id } })
    const b = await core.audit.append({ ...ORIGIN, type: 'passkey.deleted', actor: { userId: pat.id }, target: { userId: pat.id } })
    const key = await core.personal.keyOf(pat.id, { create: false })
    assert.ok(typeof key === 'object')
    assert.equal(decryptField(key, pat.id, a.seq, 'ip', a.ip!), ORIGIN.ip)
    assert.equal(decryptField(key, pat.id, a.seq, 'userAgent', a.ip!), undefined, 'another field')
    assert.equal(decryptField(key, pat.id, b.seq, 'ip', a.ip!), undefined, 'another event')
    assert.equal(decryptField(key, pat.id, a.seq, 'actor.username', a.target.username ?? a.actor.username!), pat.username)
    const [swapped] = await revealPersonal(core.personal, [{ ...b, ip: a.ip!, userAgent: a.ip! }])
    assert.deepEqual([swapped!.ip, swapped!.userAgent, swapped!.undecryptable], [undefined, undefined, ['ip', 'userAgent']])
  })

  it('once the key is gone the fields show as erased (this instance at once; others when their cached key expires)', async () => {
    const store = createMemoryStore()
    const kek = b64()
    const here = service({ store, kek })
    const there = service({ store, kek })
    const pat = await legacyPerson(store)
    const e = await here.core.audit.append({ ...ORIGIN, type: 'passkey.deleted', actor: { userId: pat.id, username: pat.username }, target: { userId: pat.id } })
    assert.equal((await revealPersonal(there.core.personal, [e]))[0]!.ip, ORIGIN.ip) // `there` caches the key now
    await store.shredUser({ ...(await store.getUser(pat.id))!, deletedAt: Date.now(), disabledAt: Date.now() }, 'test')
    here.core.personal.forget(pat.id)
    assert.deepEqual((await revealPersonal(here.core.personal, [e]))[0]!.erased, ['actor.username', 'ip', 'userAgent'])
    assert.equal((await revealPersonal(there.core.personal, [e]))[0]!.ip, ORIGIN.ip, 'within the cache TTL')
    there.clock.advance(PD_KEY_TTL_MS + 1)
    assert.deepEqual((await revealPersonal(there.core.personal, [e]))[0]!.erased, ['actor.username', 'ip', 'userAgent'])
  })
})

describe('Changing KEY_ENCRYPTION_KEY (docs/security.md)', () => {
  it('a key wrapped under the previous KEK opens, and is wrapped again under the current one on first use', async () => {
    const store = createMemoryStore()
    const oldKek = b64()
    const old = service({ store, kek: oldKek })
    const pat = await legacyPerson(store)
    const e = await old.core.audit.append({ ...ORIGIN, type: 'passkey.deleted', actor: { userId: pat.id }, target: { userId: pat.id } })
    const wrappedBefore = (await store.getAuditKey(pat.id))!
    const next = service({ store, kek: b64(), previous: oldKek })
    assert.equal((await revealPersonal(next.core.personal, [e]))[0]!.ip, ORIGIN.ip)
    const wrappedAfter = (await store.getAuditKey(pat.id))!
    assert.notEqual(wrappedAfter.wrappedBy, wrappedBefore.wrappedBy)
    assert.notEqual(wrappedAfter.wrappedKey, wrappedBefore.wrappedKey)
    const only = service({ store, kek: (next.core.config.keyEncryptionKey && Buffer.from(next.core.config.keyEncryptionKey).toString('base64'))! })
    assert.equal((await revealPersonal(only.core.personal, [e]))[0]!.ip, ORIGIN.ip, 'the new KEK alone opens it now')
  })
})

describe('The rotation sweep (rewrapStale) during a change of KEY_ENCRYPTION_KEY', () => {
  it('re-wraps the keys of the previous KEK only; keys of an older KEK, first in the table, never hold it up', async () => {
    const store = createMemoryStore()
    const [oldest, previous, current] = [b64(), b64(), b64()]
    // Accounts nobody read during an earlier change: their keys still wrapped by the oldest KEK.
    const first = service({ store, kek: oldest })
    for (let i = 0; i < 3; i++) await first.core.personal.keyOf((await legacyPerson(store)).id, { create: true })
    const second = service({ store, kek: previous })
    const live = await legacyPerson(store)
    await second.core.personal.keyOf(live.id, { create: true })
    const rotating = service({ store, kek: current, previous })
    // A batch of 2, smaller than the older keys: before, the sweep saw only those and re-wrapped nothing.
    assert.deepEqual(await rotating.core.personal.rewrapStale(2), { rewrapped: 1, left: 0 })
    assert.equal((await store.getAuditKey(live.id))!.wrappedBy, await keyEncryptionKeyId(new Uint8Array(Buffer.from(current, 'base64')) as Uint8Array<ArrayBuffer>))
    assert.deepEqual(await rotating.core.personal.rewrapStale(2), { rewrapped: 0, left: 0 }, 'done: nothing of the previous KEK is left')
    const only = service({ store, kek: current })
    assert.equal(typeof (await only.core.personal.keyOf(live.id, { create: false })), 'object', 'opens with the current KEK alone')
  })
})
