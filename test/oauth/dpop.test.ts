/**
 * shared/oauth/dpop.ts on its own (RFC 9449): stateless nonces shared by instances (§8, §9),
 * htu comparison (§4.3 item 9, RFC 3986 §6.2.2), the key type of the algorithm, RSA size, `crit`,
 * the bounded replay cache. The HTTP suites (test/http/dpop*.test.ts) cover every check end to end.
 */
import assert from 'node:assert/strict'
import { randomBytes, sign, type KeyObject } from 'node:crypto'
import { describe, it } from 'node:test'
import { deriveKey } from '../../shared/crypto/kek.js'
import { DPoPError, DPoPVerifier, FUTURE_SKEW, IAT_WINDOW, NONCE_WINDOW, ReplayCache, sameHtu } from '../../shared/oauth/dpop.js'
import { ManualClock } from '../../shared/util/clock.js'
import { DPoPKey } from '../helpers/dpop.js'
import { keyPair } from '../helpers/keys.js'
import { exportJWK } from 'jose'

const URL_ = 'https://api.example.com/orders/42'

function verifier(kek: Uint8Array<ArrayBuffer>, clock: ManualClock, opts: { nonceRequired?: boolean; replayCacheSize?: number } = {}) {
  const size = opts.replayCacheSize ?? 1000
  return new DPoPVerifier({ clock, nonceKey: deriveKey(kek, 'dpop-nonce-v1'), nonceRequired: opts.nonceRequired ?? false, replayCacheSize: { token: size, resource: size } })
}

/** A compact JWS signed with node:crypto (jose refuses small RSA keys and unknown `crit`). */
function handSigned(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const input = `${b64(header)}.${b64(claims)}`
  const opts = header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key
  return `${input}.${sign('sha256', Buffer.from(input), opts).toString('base64url')}`
}

async function refusal(p: Promise<unknown>): Promise<DPoPError> {
  try {
    await p
  } catch (e) {
    assert.ok(e instanceof DPoPError, String(e))
    return e
  }
  assert.fail('expected a refusal')
}

describe('DPoP nonces (RFC 9449 §8, §9): stateless, valid across instances', () => {
  it("a nonce issued by one instance is accepted by another with the same KEY_ENCRYPTION_KEY, not by one with another key", async () => {
    const kek = new Uint8Array(randomBytes(32)) as Uint8Array<ArrayBuffer>
    const clock = new ManualClock(Date.now())
    const a = verifier(kek, clock, { nonceRequired: true })
    const b = verifier(kek, clock, { nonceRequired: true })
    const c = verifier(new Uint8Array(randomBytes(32)) as Uint8Array<ArrayBuffer>, clock, { nonceRequired: true })
    const key = await DPoPKey.generate()
    const iat = Math.floor(clock.now() / 1000)
    const first = await refusal(a.verify({ proof: await key.proof({ htm: 'GET', htu: URL_, iat }), method: 'GET', url: URL_ }))
    assert.equal(first.code, 'use_dpop_nonce')
    assert.ok(first.nonce)
    assert.ok(await b.verify({ proof: await key.proof({ htm: 'GET', htu: URL_, iat, nonce: first.nonce }), method: 'GET', url: URL_ }))
    assert.equal((await refusal(c.verify({ proof: await key.proof({ htm: 'GET', htu: URL_, iat, nonce: first.nonce }), method: 'GET', url: URL_ }))).code, 'use_dpop_nonce')
  })

  it('a nonce holds for its window and the next, then is refused with a fresh one', async () => {
    const kek = new Uint8Array(randomBytes(32)) as Uint8Array<ArrayBuffer>
    const clock = new ManualClock(Math.floor(Date.now() / 1000 / NONCE_WINDOW) * NONCE_WINDOW * 1000)
    const v = verifier(kek, clock, { nonceRequired: true })
    const key = await DPoPKey.generate()
    const nonce = await v.nonce()
    clock.advance(NONCE_WINDOW * 1000 + 1000)
    const at = () => Math.floor(clock.now() / 1000)
    assert.ok(await v.verify({ proof: await key.proof({ htm: 'GET', htu: URL_, iat: at(), nonce }), method: 'GET', url: URL_ }))
    clock.advance(NONCE_WINDOW * 1000)
    const e = await refusal(v.verify({ proof: await key.proof({ htm: 'GET', htu: URL_, iat: at(), nonce }), method: 'GET', url: URL_ }))
    assert.equal(e.code, 'use_dpop_nonce')
    assert.notEqual(e.nonce, nonce)
    // A forged MAC for the current window is refused too.
    const [w] = e.nonce!.split('.')
    assert.equal((await refusal(v.verify({ proof: await key.proof({ htm: 'GET', htu: URL_, iat: at(), nonce: `${w}.AAAAAAAAAAAAAAAAAAAAAA` }), method: 'GET', url: URL_ }))).code, 'use_dpop_nonce')
  })
})

describe('htu comparison (RFC 9449 §4.3 item 9, RFC 3986 §6.2.2)', () => {
  it('scheme and host case, default port, percent-encoding case and unreserved characters, dot segments; query and fragment ignored', () => {
    for (const same of ['HTTPS://API.EXAMPLE.COM/orders/42', 'https://api.example.com:443/orders/42', 'https://api.example.com/orders/%34%32', 'https://api.example.com/x/../orders/42', 'https://api.example.com/orders/42?a=1#f'])
      assert.equal(sameHtu(same, URL_), true, same)
    assert.equal(sameHtu('https://api.example.com/a%2fb', 'https://api.example.com/a%2Fb'), true)
    for (const other of ['http://api.example.com/orders/42', 'https://api.example.com:8443/orders/42', 'https://api.example.com/orders/42/', 'https://api.example.com/Orders/42', 'https://evil.example.com/orders/42', 'not a url', 'ftp://api.example.com/orders/42'])
      assert.equal(sameHtu(other, URL_), false, other)
    assert.equal(sameHtu('https://api.example.com/a%2fb', 'https://api.example.com/a/b'), false, 'an encoded slash is not a slash')
  })
})

describe('the proof key', () => {
  const clock = new ManualClock(Date.now())
  const v = verifier(new Uint8Array(randomBytes(32)) as Uint8Array<ArrayBuffer>, clock)
  const iat = () => Math.floor(clock.now() / 1000)

  it("must be of the algorithm's type: an EC key claiming to be RSA, or a P-384 key under ES256, is refused", async () => {
    const ec = await DPoPKey.generate('ES256')
    const e = await refusal(v.verify({ proof: await ec.proof({ htm: 'GET', htu: URL_, iat: iat(), header: { alg: 'ES256', jwk: { ...ec.jwk, kty: 'RSA' } } }), method: 'GET', url: URL_ }))
    assert.match(e.message, /public key for alg ES256/)
    const p384 = await exportJWK(keyPair('ec', { namedCurve: 'P-384' }).publicKey)
    const e384 = await refusal(v.verify({ proof: await ec.proof({ htm: 'GET', htu: URL_, iat: iat(), header: { jwk: p384 } }), method: 'GET', url: URL_ }))
    assert.match(e384.message, /P-256/)
  })

  it('an RSA key under 2048 bits is refused', async () => {
    const small = keyPair('rsa', { modulusLength: 1024 })
    const jwk = await exportJWK(small.publicKey)
    // Signed by hand: jose refuses to sign with a key this small.
    const proof = handSigned({ typ: 'dpop+jwt', alg: 'RS256', jwk }, { jti: 'j1', htm: 'GET', htu: URL_, iat: iat() }, small.privateKey)
    assert.match((await refusal(v.verify({ proof, method: 'GET', url: URL_ }))).message, /2048/)
  })

  it('a critical header extension is refused (RFC 7515 §4.1.11)', async () => {
    const key = await DPoPKey.generate()
    const proof = handSigned({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk, crit: ['x'], x: 1 }, { jti: 'j2', htm: 'GET', htu: URL_, iat: iat() }, key.privateKey)
    assert.match((await refusal(v.verify({ proof, method: 'GET', url: URL_ }))).message, /crit/)
  })
})

describe('the replay cache (§11.1)', () => {
  const kek = () => new Uint8Array(randomBytes(32)) as Uint8Array<ArrayBuffer>
  /** How long a pair is remembered: longer than any proof's iat is accepted. */
  const KEEP_MS = (IAT_WINDOW + 2 * FUTURE_SKEW) * 1000
  const TOKEN = 'access.token.value'

  it('never accepts a pair inside its window again: when full it drops the oldest generation and refuses proofs not newer than it (use_dpop_nonce, with a nonce); fresher proofs are accepted at once', async () => {
    const clock = new ManualClock(Date.now())
    // Two pairs: one generation of one, and the previous one.
    const v = verifier(kek(), clock, { replayCacheSize: 2 })
    const key = await DPoPKey.generate()
    const at = () => Math.floor(clock.now() / 1000)
    const first = await key.proof({ htm: 'GET', htu: URL_, iat: at() })
    await v.verify({ proof: first, method: 'GET', url: URL_ })
    assert.match((await refusal(v.verify({ proof: first, method: 'GET', url: URL_ }))).message, /already used/)
    await v.verify({ proof: await key.proof({ htm: 'GET', htu: URL_, iat: at() }), method: 'GET', url: URL_ })
    // Full: the first generation is dropped, so nothing as old as it (this very second) is accepted.
    const full = await refusal(v.verify({ proof: await key.proof({ htm: 'GET', htu: URL_, iat: at() }), method: 'GET', url: URL_ }))
    assert.equal(full.code, 'use_dpop_nonce')
    assert.match(full.nonce ?? '', /^[0-9a-z]+\.[A-Za-z0-9_-]+$/)
    // The dropped first proof is still refused.
    assert.equal((await refusal(v.verify({ proof: first, method: 'GET', url: URL_ }))).code, 'use_dpop_nonce')
    // A proof made a second later is newer than anything dropped: accepted, once.
    clock.advance(1000)
    const fresh = await key.proof({ htm: 'GET', htu: URL_, iat: at() })
    assert.ok(await v.verify({ proof: fresh, method: 'GET', url: URL_ }))
    assert.match((await refusal(v.verify({ proof: fresh, method: 'GET', url: URL_ }))).message, /already used/)
    assert.equal((await refusal(v.verify({ proof: first, method: 'GET', url: URL_ }))).code, 'use_dpop_nonce', 'and the first one still never again')
  })

  it('the token endpoint and resources have separate caches: a flood of token-endpoint proofs (throwaway keys) leaves resource proofs remembered and accepted', async () => {
    const clock = new ManualClock(Date.now())
    const v = verifier(kek(), clock, { replayCacheSize: 2 })
    const at = () => Math.floor(clock.now() / 1000)
    const holder = await DPoPKey.generate()
    const captured = await holder.proof({ htm: 'GET', htu: URL_, iat: at(), accessToken: TOKEN })
    await v.verify({ proof: captured, method: 'GET', url: URL_, accessToken: TOKEN, jkt: holder.jkt })
    for (let i = 0; i < 3; i++) {
      const throwaway = await DPoPKey.generate()
      await v.verify({ proof: await throwaway.proof({ htm: 'POST', htu: URL_, iat: at() }), method: 'POST', url: URL_ }).catch(() => undefined)
    }
    assert.equal((await refusal(v.verify({ proof: await (await DPoPKey.generate()).proof({ htm: 'POST', htu: URL_, iat: at() }), method: 'POST', url: URL_ }))).code, 'use_dpop_nonce')
    assert.match((await refusal(v.verify({ proof: captured, method: 'GET', url: URL_, accessToken: TOKEN, jkt: holder.jkt }))).message, /already used/)
    assert.ok(await v.verify({ proof: await holder.proof({ htm: 'GET', htu: URL_, iat: at(), accessToken: TOKEN }), method: 'GET', url: URL_, accessToken: TOKEN, jkt: holder.jkt }))
  })

  it('at a resource, a proof by another key than the token is bound to is refused before its jti is remembered', async () => {
    const clock = new ManualClock(Date.now())
    const v = verifier(kek(), clock, { replayCacheSize: 2 })
    const at = () => Math.floor(clock.now() / 1000)
    const holder = await DPoPKey.generate()
    for (let i = 0; i < 3; i++) {
      const other = await DPoPKey.generate()
      const e = await refusal(v.verify({ proof: await other.proof({ htm: 'GET', htu: URL_, iat: at(), accessToken: TOKEN }), method: 'GET', url: URL_, accessToken: TOKEN, jkt: holder.jkt }))
      assert.match(e.message, /another key/)
    }
    assert.ok(await v.verify({ proof: await holder.proof({ htm: 'GET', htu: URL_, iat: at(), accessToken: TOKEN }), method: 'GET', url: URL_, accessToken: TOKEN, jkt: holder.jkt }))
  })

  it('retention (manual clock): a replay just inside the window is refused as used; past window + skew the proof is refused by iat (its jti no longer needed)', async () => {
    const clock = new ManualClock(Date.now())
    const v = verifier(kek(), clock)
    const key = await DPoPKey.generate()
    const t0 = Math.floor(clock.now() / 1000)
    // The latest-expiring proof there is: iat as far ahead as accepted.
    const p = await key.proof({ htm: 'GET', htu: URL_, iat: t0 + FUTURE_SKEW })
    await v.verify({ proof: p, method: 'GET', url: URL_ })
    clock.advance((FUTURE_SKEW + IAT_WINDOW - 1) * 1000)
    assert.match((await refusal(v.verify({ proof: p, method: 'GET', url: URL_ }))).message, /already used/)
    clock.advance(2000)
    assert.match((await refusal(v.verify({ proof: p, method: 'GET', url: URL_ }))).message, /too old/)
  })
})

describe('The replay cache at scale (RFC 9449 §11.1): compact hashed pairs', () => {
  it('200 000 distinct pairs in a cache of 400 000: every one accepted once, every repeat a replay, none forgotten', () => {
    const t0 = Date.now()
    const cache = new ReplayCache(400_000, 420_000, t0)
    const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
    const pair = (i: number) => `${jkt}\u0000jti-${i}-${(i * 2654435761) >>> 0}`
    for (let i = 0; i < 200_000; i++) assert.equal(cache.add(pair(i), t0 + i % 1000, 100), 'ok', `pair ${i}`)
    for (let i = 0; i < 200_000; i += 997) assert.equal(cache.add(pair(i), t0 + 1000, 100), 'replay', `pair ${i} again`)
    // Another key's pair with the same jti is another pair.
    assert.equal(cache.add(`other\u0000jti-0-0`, t0 + 1000, 100), 'ok')
  })

  it('full with the older generation inside its window: it is dropped, and no proof as old as its newest iat is accepted (stale), fresher ones are; past the window all turns over', () => {
    const t0 = Date.now()
    const cache = new ReplayCache(4, 1000, t0)
    assert.deepEqual(['a', 'b'].map((k) => cache.add(k, t0, 10)), ['ok', 'ok'])
    assert.equal(cache.add('c', t0 + 1, 11), 'ok', 'the first generation (a, b) moved to previous; c starts the current one')
    assert.equal(cache.add('d', t0 + 2, 12), 'ok')
    assert.equal(cache.add('a', t0 + 3, 10), 'replay', 'a is still remembered')
    assert.equal(cache.add('e', t0 + 3, 13), 'ok', 'full: (a, b) dropped early, floor at their newest iat 10; e is newer')
    assert.equal(cache.add('a', t0 + 4, 10), 'stale', 'a dropped pair is never accepted again')
    assert.equal(cache.add('x', t0 + 4, 10), 'stale', 'nor anything as old')
    assert.equal(cache.add('c', t0 + 4, 11), 'replay', 'c, d are still remembered')
    assert.equal(cache.add('f', t0 + 5, 14), 'ok')
    assert.equal(cache.add('g', t0 + 6, 15), 'ok', 'full again: (c, d) dropped, floor 12')
    assert.deepEqual([cache.add('d', t0 + 7, 12), cache.add('y', t0 + 7, 16)], ['stale', 'ok'])
    assert.equal(cache.add('y', t0 + 2010, 16), 'ok', 'past twice the window everything was forgotten (its iat would be refused by the verifier anyway)')
  })

  it('at a sustained rate far above its size per window, fresh proofs are never refused and repeats always are', () => {
    // 2 000 proofs a second for 10 simulated minutes (1 200 000 pairs) through a cache of 20 000
    // pairs: a generation lasts 5 s, far less than the 7-minute window.
    const cache = new ReplayCache(20_000, 420_000, 0)
    let refused = 0
    for (let t = 0; t < 600_000; t += 100) {
      const iat = Math.floor(t / 1000)
      for (let i = 0; i < 200; i++) if (cache.add(`k\u0000${t}-${i}`, t, iat) !== 'ok') refused++
      assert.notEqual(cache.add(`k\u0000${t}-0`, t, iat), 'ok', 'a repeat of a fresh pair')
      if (t >= 10_000) assert.notEqual(cache.add(`k\u0000${t - 10_000}-1`, t, iat - 10), 'ok', 'a repeat 10 s later, its generation dropped')
    }
    assert.equal(refused, 0)
  })
})
