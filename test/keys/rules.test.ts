/**
 * shared/tokens/rotation.ts and the KeyRing: the lifecycle rules on fabricated records, the
 * storage transaction they rely on (both stores), races between instances (memory store with
 * random delays, and a real Azurite), and how a KeyRing's copy follows storage.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { loadConfig, type Config } from '../../shared/config.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import { createTablesStore } from '../../shared/store/tables.js'
import { ConcurrencyError, type SigningKeyRecord, type Store } from '../../shared/store/types.js'
import { KeyRing, REFRESH_MS } from '../../shared/tokens/keyRing.js'
import { isPublished, plan, rotate, signingKeyOf, type RotationDeps } from '../../shared/tokens/rotation.js'
import { ManualClock } from '../../shared/util/clock.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'

const MIN = 60_000
const HOUR = 60 * MIN
const P = 3 * HOUR
const A = 2 * HOUR
const T = 10 * MIN

let azurite: Azurite
before(async () => {
  azurite = await startAzurite()
})
after(async () => {
  await azurite?.stop()
})

function settings(extra: Record<string, string> = {}): Config {
  return loadConfig(
    {
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      TOKEN_ALG: 'ES256',
      KEY_ROTATION_PERIOD: String(P / 1000),
      KEY_PUBLISH_AHEAD: String(A / 1000),
      ACCESS_TOKEN_TTL: String(T / 1000),
      ...extra,
    },
    { local: true },
  )
}
const config = settings()

let seq = 0
function key(state: SigningKeyRecord['state'], fields: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return {
    kid: `k${++seq}`,
    alg: 'ES256',
    state,
    publicJwk: {},
    encryptedPrivateKey: 'sealed',
    createdAt: 0,
    activatesAt: 0,
    etag: `W/"${seq}"`,
    ...fields,
  }
}

/** Fast stand-in for key generation (no crypto): the rules do not look inside keys. */
const fakeGenerate: RotationDeps['generate'] = async (state, activatesAt, createdAt) =>
  key(state, { activatesAt, createdAt, etag: undefined, kid: `g${randomBytes(6).toString('hex')}` })

/** A store whose every call first waits a pseudo-random 0–3 ms: calls of several instances interleave. */
function jittery(store: Store, seed: number): Store {
  let s = seed
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) % 4)
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver)
      if (typeof v !== 'function') return v
      return async (...args: unknown[]) => {
        await new Promise((r) => setTimeout(r, rnd()))
        return v.apply(target, args)
      }
    },
  })
}

/** Exactly one active and one next key of TOKEN_ALG; every retired key that signed stays published for T + A. */
function assertRing(records: SigningKeyRecord[], cfg: Config = config): void {
  const states = (s: string) => records.filter((r) => r.state === s)
  assert.equal(states('active').length, 1, `one active key: ${JSON.stringify(records.map((r) => [r.kid, r.state]))}`)
  assert.equal(states('active')[0]!.alg, cfg.tokenAlg)
  assert.equal(states('next').length, 1, 'one next key')
  for (const r of states('retired')) {
    assert.ok(r.retiredAt !== undefined && r.expiresAt !== undefined)
    const withdrawn = r.expiresAt === r.retiredAt // a next key that never signed
    if (!withdrawn) assert.equal(r.expiresAt, r.retiredAt! + (cfg.accessTokenTtl + cfg.keyPublishAhead) * 1000)
  }
}

describe('rotation rules (plan), on fabricated records', () => {
  it('an empty store: make the active key and the next key (planned a period ahead)', () => {
    const step = plan([], 1000, config, { kind: 'scheduled' })!
    assert.deepEqual(step.update, [])
    assert.deepEqual(step.create, [
      { state: 'active', activatesAt: 1000 },
      { state: 'next', activatesAt: 1000 + P },
    ])
  })

  it('scheduled: nothing before the period is over; at P (next published ≥ A) the next key is promoted', () => {
    const active = key('active', { createdAt: 0, activatesAt: 0 })
    const next = key('next', { createdAt: 0, activatesAt: P })
    assert.equal(plan([active, next], P - 1, config, { kind: 'scheduled' }), undefined)
    assert.equal(plan([active, next], P - 1, config, { kind: 'repair' }), undefined)
    const step = plan([active, next], P, config, { kind: 'scheduled' })!
    assert.deepEqual(step.update, [
      { ...active, state: 'retired', retiredAt: P, expiresAt: P + T + A },
      { ...next, state: 'active', activatesAt: P },
    ])
    assert.deepEqual(step.create, [{ state: 'next', activatesAt: P + P }])
    // Repairs alone never rotate.
    assert.equal(plan([active, next], P, config, { kind: 'repair' }), undefined)
  })

  it('scheduled: a next key published less than KEY_PUBLISH_AHEAD ago waits, the active key keeps signing', () => {
    const active = key('active', { activatesAt: 0 })
    const next = key('next', { createdAt: 5 * HOUR, activatesAt: 7 * HOUR }) // e.g. made after a revocation
    assert.equal(plan([active, next], 5 * HOUR + A - 1, config, { kind: 'scheduled' }), undefined)
    const step = plan([active, next], 5 * HOUR + A, config, { kind: 'scheduled' })!
    assert.deepEqual(step.update.map((r) => [r.kid, r.state]), [[active.kid, 'retired'], [next.kid, 'active']])
  })

  it('KEY_ROTATION_PERIOD shorter than KEY_PUBLISH_AHEAD: the next key is planned A ahead', () => {
    const short = settings({ KEY_ROTATION_PERIOD: '3600' })
    const step = plan([], 0, short, { kind: 'repair' })!
    assert.deepEqual(step.create[1], { state: 'next', activatesAt: A })
  })

  it('forced (retire the signing key): the next key is promoted whatever its age', () => {
    const active = key('active', { activatesAt: 0 })
    const next = key('next', { createdAt: 10, activatesAt: P })
    const step = plan([active, next], 20, config, { kind: 'retire', kid: active.kid })!
    assert.deepEqual(step.update, [
      { ...active, state: 'retired', retiredAt: 20, expiresAt: 20 + T + A },
      { ...next, state: 'active', activatesAt: 20 },
    ])
    assert.deepEqual(step.create, [{ state: 'next', activatesAt: 20 + P }])
    // Asked again after another instance did it: nothing left to do.
    const done = [{ ...step.update[0]! }, { ...step.update[1]! }, key('next', { createdAt: 20, activatesAt: 20 + P })]
    assert.equal(plan(done, 20, config, { kind: 'retire', kid: active.kid }), undefined)
  })

  it('revoke the active key: revoked, the next key promoted and a new next key, in one step', () => {
    const active = key('active', { activatesAt: 0 })
    const next = key('next', { createdAt: 0, activatesAt: P })
    const step = plan([active, next], 50, config, { kind: 'revoke', kid: active.kid })!
    assert.deepEqual(step.update, [
      { ...active, state: 'revoked', expiresAt: 50, retiredAt: 50 },
      { ...next, state: 'active', activatesAt: 50 },
    ])
    assert.deepEqual(step.create, [{ state: 'next', activatesAt: 50 + P }])
  })

  it('revoke the active key when there is no next key: a new active key and a new next key', () => {
    const active = key('active')
    const step = plan([active], 50, config, { kind: 'revoke', kid: active.kid })!
    assert.deepEqual(step.update.map((r) => r.state), ['revoked'])
    assert.deepEqual(step.create.map((c) => c.state), ['active', 'next'])
  })

  it('revoke the next key → a new next key; a retired key → only that; a revoked key → nothing', () => {
    const active = key('active', { activatesAt: 0 })
    const next = key('next', { createdAt: 0, activatesAt: P })
    const retired = key('retired', { retiredAt: 5, expiresAt: 5 + T + A })
    const s1 = plan([active, next, retired], 60, config, { kind: 'revoke', kid: next.kid })!
    assert.deepEqual(s1.update, [{ ...next, state: 'revoked', expiresAt: 60 }])
    assert.deepEqual(s1.create, [{ state: 'next', activatesAt: Math.max(60 + A, 0 + P) }])
    const s2 = plan([active, next, retired], 60, config, { kind: 'revoke', kid: retired.kid })!
    assert.deepEqual(s2.update, [{ ...retired, state: 'revoked', expiresAt: 60 }])
    assert.deepEqual(s2.create, [])
    assert.equal(plan([active, next, { ...retired, state: 'revoked' }], 60, config, { kind: 'revoke', kid: retired.kid }), undefined)
  })

  it('repairs: a second active key retires (the oldest stays), a second next key is withdrawn', () => {
    const a1 = key('active', { activatesAt: 100 })
    const a2 = key('active', { activatesAt: 101 })
    const n1 = key('next', { createdAt: 100, activatesAt: P })
    const n2 = key('next', { createdAt: 101, activatesAt: P })
    assert.equal(signingKeyOf([a2, a1], 'ES256'), a1)
    const step = plan([a1, a2, n1, n2], 200, config, { kind: 'scheduled' })!
    assert.deepEqual(step.update, [
      { ...a2, state: 'retired', retiredAt: 200, expiresAt: 200 + T + A },
      { ...n2, state: 'retired', retiredAt: 200, expiresAt: 200 },
    ])
    assert.deepEqual(step.create, [])
  })

  it('repairs: a missing next key is made, guarded by rewriting the signing key as read', () => {
    const active = key('active', { activatesAt: 0 })
    const step = plan([active], 10, config, { kind: 'scheduled' })!
    assert.deepEqual(step.update, [active])
    assert.deepEqual(step.create, [{ state: 'next', activatesAt: P }])
  })

  it('TOKEN_ALG changed: the old active key retires (still published), its next key is withdrawn, new keys are made', () => {
    const rs = settings({ TOKEN_ALG: 'RS256' })
    const active = key('active', { activatesAt: 0 }) // ES256
    const next = key('next', { createdAt: 0 })
    const step = plan([active, next], 70, rs, { kind: 'repair' })!
    assert.deepEqual(step.update, [
      { ...active, state: 'retired', retiredAt: 70, expiresAt: 70 + T + A },
      { ...next, state: 'retired', retiredAt: 70, expiresAt: 70 },
    ])
    assert.deepEqual(step.create.map((c) => c.state), ['active', 'next'])
  })

  it('publication: next and active keys, retired keys until expiresAt; never revoked ones', () => {
    assert.equal(isPublished(key('next'), 5), true)
    assert.equal(isPublished(key('active'), 5), true)
    assert.equal(isPublished(key('retired', { expiresAt: 6 }), 5), true)
    assert.equal(isPublished(key('retired', { expiresAt: 5 }), 5), false)
    assert.equal(isPublished(key('revoked', { expiresAt: 99 }), 5), false)
  })
})

for (const [name, make] of [
  ['memory', async () => createMemoryStore() as Store],
  ['Azurite', async () => {
    const s = createTablesStore({ config: loadConfig({ TABLES_CONNECTION_STRING: azurite.connectionString, TABLE_PREFIX: `k${process.pid}x${++seq}`, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, { local: true }) })
    await s.init()
    return s
  }],
] as const) {
  describe(`commitSigningKeys: all or nothing (${name} store)`, () => {
    it('creates and etag-guarded replaces in one write; a lost guard or an existing kid writes nothing', async () => {
      const store = await make()
      const a = key('active', { etag: undefined })
      const b = key('next', { etag: undefined })
      await store.commitSigningKeys([a, b])
      assert.ok(a.etag && b.etag)
      const [ra, rb] = [a, b].map((k) => ({ ...k }))
      await store.commitSigningKeys([{ ...ra!, state: 'retired' }, { ...rb!, state: 'active' }])
      // Stale etag on one row + a new key: ConcurrencyError and the new key is not there.
      const c = key('next', { etag: undefined })
      await assert.rejects(store.commitSigningKeys([{ ...ra!, state: 'revoked' }, c]), ConcurrencyError)
      // An existing kid: the same.
      const fresh = (await store.listSigningKeys()).find((k) => k.kid === b.kid)!
      await assert.rejects(store.commitSigningKeys([{ ...fresh, state: 'retired' }, { ...a, etag: undefined }]), ConcurrencyError)
      const rows = new Map((await store.listSigningKeys()).map((k) => [k.kid, k.state]))
      assert.deepEqual(Object.fromEntries(rows), { [a.kid]: 'retired', [b.kid]: 'active' })
    })
  })
}

describe('races: several instances rotating the same keys at once', () => {
  it('five instances on a jittery store, every 5 minutes for 12 hours: after every round one active and one next key, rotations on time', async () => {
    const shared = createMemoryStore()
    const instances = Array.from({ length: 5 }, (_, i) => ({ store: jittery(shared, i + 1), config, generate: fakeGenerate }))
    const t0 = 1_000_000
    const activations: number[] = []
    let lastActive: string | undefined
    for (let t = t0; t <= t0 + 12 * HOUR; t += 5 * MIN) {
      await Promise.all(instances.map((deps) => rotate(deps, t, { kind: 'scheduled' })))
      const records = await shared.listSigningKeys()
      assertRing(records)
      const active = signingKeyOf(records, 'ES256')!
      if (active.kid !== lastActive) {
        activations.push(active.activatesAt - t0)
        // Promoted keys were published at least A before they signed.
        if (lastActive) assert.ok(active.activatesAt - active.createdAt >= A)
        lastActive = active.kid
      }
    }
    assert.deepEqual(activations, [0, P, 2 * P, 3 * P, 4 * P])
  })

  it('rotate, rotate now and revoke racing each other: one active key and one next key after every round', async () => {
    const shared = createMemoryStore()
    const instances = Array.from({ length: 4 }, (_, i) => ({ store: jittery(shared, 10 + i), config, generate: fakeGenerate }))
    let t = 5_000_000
    await rotate(instances[0]!, t, { kind: 'scheduled' })
    for (let round = 0; round < 40; round++) {
      t += 7 * MIN
      const records = await shared.listSigningKeys()
      const active = signingKeyOf(records, 'ES256')!
      const next = records.find((r) => r.state === 'next')!
      const victim = round % 2 ? active.kid : next.kid
      const results = await Promise.all([
        rotate(instances[0]!, t, { kind: 'scheduled' }),
        rotate(instances[1]!, t, { kind: 'retire', kid: active.kid }),
        rotate(instances[2]!, t, { kind: 'revoke', kid: victim }),
        rotate(instances[3]!, t, { kind: 'retire', kid: active.kid }),
      ])
      assert.equal(results[2].found, true)
      const after = await shared.listSigningKeys()
      assertRing(after)
      assert.equal(after.find((r) => r.kid === victim)!.state, 'revoked')
      assert.notEqual(signingKeyOf(after, 'ES256')!.kid, active.kid) // it stopped signing, once
      assert.equal(after.filter((r) => r.kid !== victim && r.state === 'retired' && r.retiredAt === t && r.expiresAt! > t).length, round % 2 ? 0 : 1)
    }
  })

  it('two KeyRings on one Azurite: first start, a due rotation, a forced one and a revocation at once — one active key each time', async () => {
    const store = createTablesStore({ config: loadConfig({ TABLES_CONNECTION_STRING: azurite.connectionString, TABLE_PREFIX: `k${process.pid}r${++seq}`, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, { local: true }) })
    await store.init()
    const clock = new ManualClock(Date.now())
    const wrapKey = crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const [a, b] = [0, 1].map(() => new KeyRing({ store, config, clock, wrapKey }))
    // First start on an empty store, both at once (no row to guard on: the repair settles it).
    await Promise.all([a!.rotate(), b!.rotate()])
    assertRing(await store.listSigningKeys())
    await Promise.all([a!.rotate(), b!.rotate()])
    const first = signingKeyOf(await store.listSigningKeys(), 'ES256')!
    assert.equal((await a!.signingKey()).kid, first.kid)
    assert.equal((await b!.signingKey()).kid, first.kid)

    clock.advance(P)
    const [ra, rb] = await Promise.all([a!.rotate(), b!.rotate()])
    assert.equal([ra, rb].filter((r) => r.changes.some((c) => c.startsWith('retired (rotation period over)'))).length, 1)
    let records = await store.listSigningKeys()
    assertRing(records)
    assert.equal(records.find((r) => r.kid === first.kid)!.state, 'retired')

    clock.advance(MIN)
    const second = signingKeyOf(records, 'ES256')!
    await Promise.all([a!.rotateNow(), b!.rotateNow()])
    records = await store.listSigningKeys()
    assertRing(records)
    assert.equal(records.find((r) => r.kid === second.kid)!.state, 'retired')
    assert.equal(records.filter((r) => r.retiredAt === clock.now() && r.state === 'retired').length, 1, 'rotated once')

    const third = signingKeyOf(records, 'ES256')!
    const [fa, fb] = await Promise.all([a!.revoke(third.kid), b!.revoke(third.kid)])
    assert.deepEqual([fa.found, fb.found], [true, true])
    // Whoever won, both report the signing key that replaced the revoked one.
    assert.equal(fa.signing.after, fb.signing.after)
    assert.notEqual(fa.signing.after, third.kid)
    records = await store.listSigningKeys()
    assertRing(records)
    assert.equal(records.find((r) => r.kid === third.kid)!.state, 'revoked')
    // Both instances wrote or read the result: neither signs with the revoked key.
    assert.notEqual((await a!.signingKey()).kid, third.kid)
    assert.notEqual((await b!.signingKey()).kid, third.kid)
    assert.equal(await a!.verificationKey(third.kid), undefined)
  })
})

describe('KeyRing: its copy of the keys', () => {
  async function rings() {
    const store = createMemoryStore()
    const clock = new ManualClock(10_000_000)
    const wrapKey = crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const a = new KeyRing({ store, config, clock, wrapKey })
    const b = new KeyRing({ store, config, clock, wrapKey })
    await a.signingKey()
    await b.signingKey()
    return { store, clock, a, b }
  }

  it('a revocation applies at once on the instance that made it, on another within REFRESH_MS (60 s)', async () => {
    const { clock, a, b } = await rings()
    const kid = (await a.signingKey()).kid
    assert.equal(a.trusts(kid), true) // synchronous while the copy is fresh
    const revoked = await a.revoke(kid)
    assert.equal(revoked.found, true)
    assert.equal(revoked.signing.before, kid)
    assert.notEqual(revoked.signing.after, kid)
    assert.equal(a.trusts(kid), false)
    assert.notEqual((await a.signingKey()).kid, kid)
    assert.equal(await a.verificationKey(kid), undefined)
    assert.ok(!(await a.jwks()).keys.some((k) => k.kid === kid))
    // The other instance: its copy is younger than REFRESH_MS.
    assert.equal(b.trusts(kid), true)
    clock.advance(REFRESH_MS - 1)
    assert.equal(b.trusts(kid), true)
    clock.advance(1)
    const late = b.trusts(kid)
    assert.ok(late instanceof Promise) // too old: it reads storage before answering
    assert.equal(await late, false)
    assert.equal(await b.verificationKey(kid), undefined)
    assert.notEqual((await b.signingKey()).kid, kid)
    assert.equal((await a.revoke('no-such-kid')).found, false)
  })

  it('from SOFT refresh age on, a busy instance refreshes in the background and never waits', async () => {
    const { store, clock, a } = await rings()
    const kid = (await a.signingKey()).kid
    const before = store.calls.listSigningKeys ?? 0
    clock.advance(REFRESH_MS / 2)
    assert.equal(a.trusts(kid), true) // served from the copy…
    await new Promise((r) => setTimeout(r, 5))
    assert.equal(store.calls.listSigningKeys, before + 1) // …and refreshed behind it
    assert.equal(a.trusts(kid), true)
    assert.equal(store.calls.listSigningKeys, before + 1)
  })

  it('revoked kids do not make it reload; unknown kids at most every 5 s', async () => {
    const { store, clock, a } = await rings()
    const kid = (await a.signingKey()).kid
    await a.revoke(kid)
    const n = () => store.calls.listSigningKeys ?? 0
    const before = n()
    for (let i = 0; i < 5; i++) assert.equal(await a.verificationKey(kid), undefined)
    assert.equal(n(), before)
    for (let i = 0; i < 5; i++) assert.equal(await a.verificationKey(`made-up-${i}`), undefined)
    assert.equal(n(), before + 1)
    clock.advance(5_000)
    assert.equal(await a.verificationKey('made-up-again'), undefined)
    assert.equal(n(), before + 2)
  })

  it('a key another instance just made verifies here at once (unknown kid → reload)', async () => {
    const { a, b } = await rings()
    const old = (await a.signingKey()).kid
    await a.revoke(old) // promotes the next key and makes a new next key, unknown to b
    const fresh = (await a.list()).find((r) => r.state === 'next')!.kid
    assert.ok(await b.verificationKey(fresh))
  })
})
