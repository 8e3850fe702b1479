/**
 * CONTRACT v2 "Rate limits": RATE_LIMIT requests per minute per client address on the
 * unauthenticated routes, then 429 rate_limited with Retry-After; 0 turns it off; the authorizer
 * is never limited; memory stays bounded under a flood of distinct addresses.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { RateLimiter, clientAddress } from '../../shared/middleware/rateLimit.js'
import { ManualClock } from '../../shared/util/clock.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { call, form, post } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { RATE_LIMIT: '5' } })
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('RATE_LIMIT per client address on the unauthenticated routes', () => {
  it('the 6th options call in a minute → 429 problem rate_limited with Retry-After; the next minute is open again', async () => {
    clock.advance(60_000)
    for (let i = 0; i < 5; i++) assert.equal((await post(svc.url, '/api/webauthn/authentication/options', {})).status, 200, `call ${i + 1}`)
    const r = await post(svc.url, '/api/webauthn/authentication/options', {})
    assert.equal(r.status, 429)
    assert.equal(r.headers.get('content-type'), 'application/problem+json')
    assert.equal(r.body.code, 'rate_limited')
    const retry = Number(r.headers.get('retry-after'))
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`)
    // Every limited route shares the address's budget.
    assert.equal((await post(svc.url, '/api/webauthn/registration/options', { username: 'someone' })).status, 429)
    assert.equal((await call(svc.url, 'GET', '/api/oauth2/authorize?client_id=x')).status, 429)
    const token = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'x.y.z' })
    assert.deepEqual([token.status, token.body.error], [429, 'rate_limited'], 'RFC 6749 JSON at the token endpoint')
    assert.ok(token.headers.get('retry-after'))
    clock.advance(retry * 1000)
    assert.equal((await post(svc.url, '/api/webauthn/authentication/options', {})).status, 200, 'a new window')
  })

  it('the authorizer, discovery and health are never limited', async () => {
    clock.advance(60_000)
    for (let i = 0; i < 6; i++) await post(svc.url, '/api/webauthn/authentication/options', {})
    assert.equal((await post(svc.url, '/api/webauthn/authentication/options', {})).status, 429)
    for (let i = 0; i < 10; i++) {
      assert.equal((await post(svc.url, '/api/authz/check', { method: 'GET', path: '/x' })).status, 200)
      assert.equal((await call(svc.url, 'GET', '/api/.well-known/openid-configuration')).status, 200)
      assert.equal((await call(svc.url, 'GET', '/api/health')).status, 200)
    }
  })

  it('RATE_LIMIT=0 turns it off', async () => {
    const off = await startService({ connectionString: azurite.connectionString, env: { RATE_LIMIT: '0' } })
    try {
      for (let i = 0; i < 30; i++) assert.equal((await post(off.url, '/api/webauthn/authentication/options', {})).status, 200)
    } finally {
      await off.close()
    }
  })
})

describe('RateLimiter (unit)', () => {
  it('counts per key in one-minute windows', () => {
    const c = new ManualClock(0)
    const l = new RateLimiter(2, c)
    assert.deepEqual([l.hit('a'), l.hit('a'), l.hit('b')], [0, 0, 0])
    assert.equal(l.hit('a'), 60)
    c.advance(59_000)
    assert.equal(l.hit('a'), 1)
    c.advance(1_000)
    assert.equal(l.hit('a'), 0)
  })

  it('a flood of distinct addresses keeps memory bounded', () => {
    const c = new ManualClock(0)
    const l = new RateLimiter(1, c, 1000)
    l.hit('attacker')
    assert.ok(l.hit('attacker') > 0)
    for (let i = 0; i < 100_000; i++) {
      l.hit(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)
      assert.ok(l.size <= 1000)
    }
    c.advance(60_000)
    for (let i = 0; i < 5000; i++) l.hit(`k${i}`)
    assert.ok(l.size <= 1000, `size ${l.size}`)
  })

  it('a flood of new addresses does not free an address that is being limited', () => {
    const c = new ManualClock(0)
    const l = new RateLimiter(1, c, 100)
    l.hit('attacker')
    assert.ok(l.hit('attacker') > 0)
    for (let i = 0; i < 10_000; i++) l.hit(`flood${i}`)
    assert.ok(l.hit('attacker') > 0, 'still limited within its window')
  })

  it('a clock that goes back starts a fresh window (Retry-After never exceeds the window)', () => {
    const c = new ManualClock(100_000)
    const l = new RateLimiter(1, c)
    l.hit('a')
    c.set(10_000)
    assert.equal(l.hit('a'), 0)
    assert.ok(l.hit('a') <= 60)
  })
})

describe('clientAddress: the X-Forwarded-For entry TRUSTED_PROXY_HOPS from the right', () => {
  const ctx = (xff: string | undefined, remoteAddr?: string) =>
    ({ req: { header: (n: string) => (n === 'x-forwarded-for' ? xff : undefined) }, env: { remoteAddr } }) as never
  it('ignores the caller-written left part; falls back to the socket address', () => {
    assert.equal(clientAddress(ctx('6.6.6.6, 203.0.113.7'), 1), '203.0.113.7', 'App Service front end appended the real one')
    assert.equal(clientAddress(ctx('6.6.6.6, 203.0.113.7, 10.0.0.4'), 2), '203.0.113.7', 'APIM in front')
    assert.equal(clientAddress(ctx('203.0.113.7:5123'), 1), '203.0.113.7')
    assert.equal(clientAddress(ctx('[2001:db8::1]:443'), 1), '2001:db8:0:0::/64', 'IPv6 counts by its /64')
    assert.equal(clientAddress(ctx('2001:db8:0:0:ffff:1:2:3'), 1), clientAddress(ctx('2001:DB8::9'), 1), 'one /64, one budget')
    assert.notEqual(clientAddress(ctx('2001:db8:0:1::9'), 1), clientAddress(ctx('2001:db8::9'), 1))
    assert.equal(clientAddress(ctx('::ffff:192.0.2.1'), 1), '192.0.2.1')
    assert.equal(clientAddress(ctx('6.6.6.6', '127.0.0.1'), 0), '127.0.0.1', 'hops 0: the header is not trusted')
    assert.equal(clientAddress(ctx(undefined, '127.0.0.1'), 1), '127.0.0.1')
    assert.equal(clientAddress(ctx(undefined), 1), undefined)
    const functionsCtx = { req: { header: () => '6.6.6.6' }, env: { remoteAddr: '6.6.6.6', invocation: {} } } as never
    assert.equal(clientAddress(functionsCtx, 0), undefined, 'in the Functions host there is no socket address to trust')
  })
})
