/**
 * Changing KEY_ENCRYPTION_KEY without downtime (docs/security.md "Changing KEY_ENCRYPTION_KEY"):
 * one instance on the old key makes the signing keys, a session, an audit trail and a challenge;
 * then instances with KEY_ENCRYPTION_KEY = new and KEY_ENCRYPTION_KEY_PREVIOUS = old take over.
 * Real Azurite: the stored rows are what is checked.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { TableClient } from '@azure/data-tables'
import { importJWK, importPKCS8, jwtVerify, SignJWT, type JWK } from 'jose'
import { deriveAuditKey } from '../../shared/audit/chain.js'
import { verifyAuditChain } from '../../shared/audit/verify.js'
import { deriveKey, keyEncryptionKeyId, open, type VersionedKey } from '../../shared/crypto/kek.js'
import type { SigningKeyRecord } from '../../shared/store/types.js'
import { scheduledRotation } from '../../shared/tokens/scheduledRotation.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post, signIn, signUp } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const OLD = randomBytes(32)
const NEW = randomBytes(32)
const b64 = (k: Buffer) => k.toString('base64')
const bytes = (k: Buffer) => new Uint8Array(k) as Uint8Array<ArrayBuffer>
const idOf = (k: Buffer) => keyEncryptionKeyId(bytes(k))
const chainKey = async (k: Buffer): Promise<VersionedKey> => ({ id: await idOf(k), key: await deriveAuditKey(bytes(k)) })

let azurite: Azurite
const services: TestService[] = []
let n = 0
const prefix = () => `kr${process.pid}n${++n}`
async function start(tablePrefix: string, env: Record<string, string>) {
  const svc = await startService({ connectionString: azurite.connectionString, env: { TABLE_PREFIX: tablePrefix, BOOTSTRAP_ADMINS: 'krboss', ...env } })
  services.push(svc)
  return svc
}

/** The signing key rows as stored (raw columns), by kid. */
async function storedKeys(tablePrefix: string): Promise<Map<string, Record<string, unknown>>> {
  const table = TableClient.fromConnectionString(azurite.connectionString, `${tablePrefix}signingkeys`, { allowInsecureConnection: true })
  const rows = new Map<string, Record<string, unknown>>()
  for await (const r of table.listEntities<Record<string, unknown>>()) rows.set(r.rowKey!, r)
  return rows
}

/** The `pdkey` row (the personal-data key) of an account, as stored. */
async function storedPdKey(tablePrefix: string, userId: string): Promise<Record<string, unknown> | undefined> {
  const table = TableClient.fromConnectionString(azurite.connectionString, `${tablePrefix}users`, { allowInsecureConnection: true })
  for await (const r of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: "RowKey eq 'pdkey'" } })) if (r.partitionKey === userId) return r
  return undefined
}

/** The private key of a record opens with `kek` and signs what its published key verifies. */
async function opensWith(rec: SigningKeyRecord, kek: Buffer): Promise<boolean> {
  const plain = await open(await deriveKey(bytes(kek), 'signing-key-wrap-v1'), rec.encryptedPrivateKey, `signing-key:${rec.kid}`)
  if (!plain) return false
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: rec.alg }).sign(await importPKCS8(new TextDecoder().decode(plain), rec.alg))
  await jwtVerify(jwt, await importJWK(rec.publicJwk as JWK, rec.alg))
  return true
}

const live = (keys: SigningKeyRecord[]) => keys.filter((k) => k.state === 'active' || k.state === 'next')

function runVerify(env: Record<string, string>): Promise<{ code: number; line: string; out: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env }
  for (const k of ['AzureWebJobsStorage', 'TABLES_ENDPOINT', 'WEBSITE_INSTANCE_ID', 'KEY_ENCRYPTION_KEY_PREVIOUS']) if (!(k in env)) delete childEnv[k]
  return new Promise((resolve) => {
    execFile('npm', ['run', '--silent', 'audit:verify'], { cwd: root, env: childEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, line: out.split('\n').find((l) => l.startsWith('audit:')) ?? '', out })
    })
  })
}

before(async () => {
  azurite = await startAzurite()
})
after(async () => {
  for (const s of services) await s.close()
  await azurite?.stop()
})

describe('KEY_ENCRYPTION_KEY rotation with KEY_ENCRYPTION_KEY_PREVIOUS', () => {
  const P = prefix()
  const boss = new SoftAuthenticator()
  const alice = new SoftAuthenticator()
  let old: TestService
  let rotated: TestService
  let aliceTokens: { access_token: string; refresh_token: string }
  let kidsBefore: string[]
  /** Authentication options issued (sealed) by the old instance, answered after the switch. */
  let inFlight: any
  /** An account made before the switch that nothing reads during it (only the timer's sweep re-wraps its key). */
  let quietId: string

  before(async () => {
    old = await start(P, { KEY_ENCRYPTION_KEY: b64(OLD) })
    await signUp(old.url, boss, 'krboss')
    aliceTokens = (await signUp(old.url, alice, 'kralice')).tokens
    quietId = (await signUp(old.url, new SoftAuthenticator(), 'krquiet')).user.id
    inFlight = (await post(old.url, '/api/webauthn/authentication/options', { username: 'kralice' })).body
    kidsBefore = (await call(old.url, 'GET', '/api/.well-known/jwks.json')).body.keys.map((k: any) => k.kid).sort()
    rotated = await start(P, { KEY_ENCRYPTION_KEY: b64(NEW), KEY_ENCRYPTION_KEY_PREVIOUS: b64(OLD) })
  })

  it('before the switch every stored key names the old key id (wrappedBy), and opens with the old key only', async () => {
    const rows = await storedKeys(P)
    const keys = await old.store.listSigningKeys()
    assert.equal(live(keys).length, 2)
    for (const k of keys) {
      assert.equal(rows.get(k.kid)!.wrappedBy, await idOf(OLD), 'the row records which key wrapped it')
      assert.equal(await opensWith(k, OLD), true)
      assert.equal(await opensWith(k, NEW), false)
    }
    assert.equal((await storedPdKey(P, quietId))!.wrappedBy, await idOf(OLD), "and so does an account's personal-data key")
  })

  it('a challenge sealed by the old key before the switch completes after it', async () => {
    const credential = await alice.getAssertion(inFlight, { origin: ORIGIN })
    const v = await post(rotated.url, '/api/webauthn/authentication/verify', { credential })
    assert.equal(v.status, 200, JSON.stringify(v.body))
    // New challenges are sealed with the new key: the old instance (old key alone) cannot open them.
    const o = await post(rotated.url, '/api/webauthn/authentication/options', { username: 'kralice' })
    const late = await post(old.url, '/api/webauthn/authentication/verify', { credential: await alice.getAssertion(o.body, { origin: ORIGIN }) })
    assert.equal(late.status, 400)
    assert.equal(late.body.code, 'challenge_unknown')
  })

  it('with both keys set: health, sign-in, refresh and the JWKS keep working on the keys wrapped with the old key', async () => {
    assert.equal((await call(rotated.url, 'GET', '/api/health')).status, 200)
    const s = await signIn(rotated.url, alice, 'kralice')
    assert.equal(s.status, 200, JSON.stringify(s.body))
    assert.ok(kidsBefore.includes(decodeJwt(s.body.access_token).header.kid), 'signed with the stored signing key')
    const r = await form(rotated.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: aliceTokens.refresh_token })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    aliceTokens = r.body
    const jwks = (await call(rotated.url, 'GET', '/api/.well-known/jwks.json')).body
    assert.deepEqual(jwks.keys.map((k: any) => k.kid).sort(), kidsBefore)
    // The authorizer verifies the token the rotated instance signed.
    const me = await call(rotated.url, 'GET', '/api/me', undefined, bearer(r.body.access_token))
    assert.equal(me.status, 200)
  })

  it('with only the new key and keys not re-wrapped yet → 503 misconfigured naming the missing key id', async () => {
    const early = await start(P, { KEY_ENCRYPTION_KEY: b64(NEW) })
    const h = await call(early.url, 'GET', '/api/health')
    assert.equal(h.status, 503)
    assert.equal(h.body.code, 'misconfigured')
    assert.match(h.body.detail, /KEY_ENCRYPTION_KEY cannot decrypt the stored signing key/)
    assert.ok(h.body.detail.includes(`key id is ${await idOf(OLD)}`), h.body.detail)
    assert.match(h.body.detail, /KEY_ENCRYPTION_KEY_PREVIOUS/)
    assert.ok(!h.body.detail.includes(b64(OLD)) && !h.body.detail.includes(b64(NEW)), 'key ids, never keys')
  })

  it('the rotation timer re-wraps the next and active keys under the new key, once, with a key.rewrapped event each', async () => {
    const before = await rotated.store.listSigningKeys()
    const lines = await scheduledRotation(rotated.core)
    const after = await rotated.store.listSigningKeys()
    const rows = await storedKeys(P)
    assert.equal(live(after).length, 2)
    for (const k of live(after)) {
      assert.equal(rows.get(k.kid)!.wrappedBy, await idOf(NEW))
      assert.notEqual(rows.get(k.kid)!.encryptedPrivateKey, before.find((b) => b.kid === k.kid)!.encryptedPrivateKey)
      assert.equal(await opensWith(k, NEW), true, 'opens with the new key')
      assert.equal(await opensWith(k, OLD), false, 'and no longer with the old one')
    }
    assert.equal(lines.filter((l) => l.startsWith('re-wrapped key')).length, 2, lines.join('\n'))
    const events = (await rotated.store.listAudit(1, 1000)).filter((e) => e.type === 'key.rewrapped')
    assert.deepEqual(events.map((e) => e.target.kid).sort(), live(after).map((k) => k.kid).sort())
    for (const e of events) assert.deepEqual(e.detail, { from: await idOf(OLD), to: await idOf(NEW) })
    // The personal-data keys too, also of an account nobody read during the switch.
    assert.ok(lines.some((l) => /^re-wrapped [1-9]\d* personal-data keys under the current KEY_ENCRYPTION_KEY$/.test(l)), lines.join('\n'))
    const pd = (await storedPdKey(P, quietId))!
    assert.equal(pd.wrappedBy, await idOf(NEW), 'the quiet account\'s key, re-wrapped by the sweep')
    // Once: the next run has nothing to re-wrap.
    assert.deepEqual((await scheduledRotation(rotated.core)).filter((l) => l.includes('personal-data')), [])
    assert.equal((await storedPdKey(P, quietId))!.etag, pd.etag, 'not written again')
    assert.deepEqual((await rotated.core.keyRing.rotate()).rewrapped, [])
    assert.deepEqual((await rotated.store.listSigningKeys()).map((k) => k.etag), after.map((k) => k.etag))
  })

  it('/api/manage/keys shows wrappedBy during the rotation, so an operator can tell it is done', async () => {
    const token = (await signIn(rotated.url, boss, 'krboss')).body.access_token
    const r = await call(rotated.url, 'GET', '/api/manage/keys', undefined, bearer(token))
    assert.equal(r.status, 200)
    for (const k of r.body) assert.equal(k.wrappedBy, await idOf(NEW), JSON.stringify(k))
  })

  it('after the re-wrap, PREVIOUS can go: an instance with the new key alone signs', async () => {
    const done = await start(P, { KEY_ENCRYPTION_KEY: b64(NEW) })
    assert.equal((await call(done.url, 'GET', '/api/health')).status, 200)
    const r = await form(done.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: aliceTokens.refresh_token })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    // The listing is as before the rotation again: no wrappedBy without KEY_ENCRYPTION_KEY_PREVIOUS.
    const token = (await signIn(done.url, boss, 'krboss')).body.access_token
    const keys = (await call(done.url, 'GET', '/api/manage/keys', undefined, bearer(token))).body
    for (const k of keys) assert.equal('wrappedBy' in k, false)
    // The quiet account's personal-data key opens with the new key alone.
    assert.equal(typeof (await done.core.personal.keyOf(quietId, { create: false })), 'object')
  })

  it('the audit chain across the switch verifies with both keys: each event names its key, the link is unbroken', async () => {
    const events = await rotated.store.listAudit(1, 1000)
    const [oldId, newId] = [await idOf(OLD), await idOf(NEW)]
    const switchAt = events.findIndex((e) => e.keyId === newId)
    assert.ok(switchAt > 0, 'events before and after the switch')
    assert.ok(events.slice(0, switchAt).every((e) => e.keyId === oldId))
    assert.equal(events[switchAt]!.prev, events[switchAt - 1]!.hash, 'the first event under the new key links to the last under the old')
    const r = await verifyAuditChain({ store: rotated.store, key: await chainKey(NEW), previousKey: await chainKey(OLD) })
    assert.equal(r.ok, true, JSON.stringify(r.problem))
    assert.equal(r.events, events.length)
  })

  it('without the previous key the chain does not verify, and the message names the missing key id', async () => {
    const r = await verifyAuditChain({ store: rotated.store, key: await chainKey(NEW) })
    assert.equal(r.ok, false)
    assert.equal(r.problem!.kind, 'hash_mismatch')
    assert.equal(r.problem!.seq, 1)
    assert.ok(r.problem!.message.includes(`key id ${await idOf(OLD)}`), r.problem!.message)
    assert.match(r.problem!.message, /KEY_ENCRYPTION_KEY_PREVIOUS/)
  })

  it('npm run audit:verify: exit 0 with KEY_ENCRYPTION_KEY_PREVIOUS, exit 1 naming the missing key id without it', async () => {
    const env = { TABLES_CONNECTION_STRING: azurite.connectionString, TABLE_PREFIX: P, KEY_ENCRYPTION_KEY: b64(NEW) }
    const both = await runVerify({ ...env, KEY_ENCRYPTION_KEY_PREVIOUS: b64(OLD) })
    assert.equal(both.code, 0, both.out)
    assert.match(both.line, /^audit: OK, \d+ events verified/)
    const without = await runVerify(env)
    assert.equal(without.code, 1, without.out)
    assert.match(without.line, /event 0000000000000001 \(seq 1\): hash_mismatch/)
    assert.ok(without.line.includes(`key id ${await idOf(OLD)}`), without.line)
    assert.match(without.line, /give that key as KEY_ENCRYPTION_KEY_PREVIOUS/)
  })
})

describe('two instances re-wrapping the same keys at once', () => {
  it('each key is re-wrapped by exactly one of them; the rows are consistent and open with the new key', async () => {
    const P = prefix()
    const seed = await start(P, { KEY_ENCRYPTION_KEY: b64(OLD) })
    await seed.core.keyRing.signingKey() // makes the keys, wrapped with the old key
    // Both read the keys before either writes: each holds its first signing-key read until the other has read too.
    let arrived = 0
    let release!: () => void
    const bothRead = new Promise<void>((r) => (release = r))
    let racing = false
    const held = new Set<number>()
    const hold = (who: number) => async (req: { method: string; url: string }) => {
      if (!racing || held.has(who) || req.method !== 'GET' || !req.url.includes('signingkeys')) return
      held.add(who)
      if (++arrived === 2) release()
      await bothRead
    }
    const env = { TABLE_PREFIX: P, BOOTSTRAP_ADMINS: 'krboss', KEY_ENCRYPTION_KEY: b64(NEW), KEY_ENCRYPTION_KEY_PREVIOUS: b64(OLD) }
    const [a, b] = await Promise.all(
      [0, 1].map(async (who) => {
        const svc = await startService({ connectionString: azurite.connectionString, env, onRequest: hold(who) })
        services.push(svc)
        return svc
      }),
    )
    racing = true
    const [ra, rb] = await Promise.all([a!.core.keyRing.rotate(), b!.core.keyRing.rotate()])
    racing = false
    const keys = await a!.store.listSigningKeys()
    const kidsA = ra.rewrapped.map((r) => r.kid)
    const kidsB = rb.rewrapped.map((r) => r.kid)
    assert.deepEqual([...kidsA, ...kidsB].sort(), live(keys).map((k) => k.kid).sort(), 'every key re-wrapped by exactly one instance')
    const rows = await storedKeys(P)
    for (const k of live(keys)) {
      assert.equal(rows.get(k.kid)!.wrappedBy, await idOf(NEW))
      assert.equal(await opensWith(k, NEW), true)
    }
    // Both sign with it, and so does an instance with the new key alone.
    for (const svc of [a!, b!, await start(P, { KEY_ENCRYPTION_KEY: b64(NEW) })]) assert.equal((await call(svc.url, 'GET', '/api/health')).status, 200)
  })
})
