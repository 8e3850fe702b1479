/**
 * CONTRACT v2 "Step-up authentication (RFC 9470)" at the authorizer, over HTTP against a real
 * Azurite with the controllable clock: permissions with `maxAge` and `acr`, the 401
 * `insufficient_user_authentication` answers (`acr_values`, `max_age`, `wwwAuthenticate`), an
 * allow by another permission, machine tokens (no `auth_time`), the cache bound at
 * `auth_time + maxAge`, and `wwwAuthenticate` on every kind of 401.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { keyPair } from '../helpers/keys.js'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post, signIn, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { JWT_BEARER, clientAssertion, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
let admin: string
let n = 0
const uniq = () => `su${process.pid}n${++n}`

const check = (token: string | undefined, method: string, path: string) =>
  post(svc.url, '/api/authz/check', { method, path }, token ? bearer(token) : {})

async function putRole(name: string, permissions: unknown[]) {
  const r = await call(svc.url, 'PUT', `/api/manage/roles/${name}`, { permissions }, bearer(admin))
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r
}

async function user(roles: string[]) {
  const auth = new SoftAuthenticator()
  const up = await signUp(svc.url, auth, uniq())
  for (const role of roles) assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${up.user.id}/roles/${role}`, undefined, bearer(admin))).status, 200)
  return { auth, id: up.user.id as string, token: up.tokens.access_token as string }
}

/** The same session's token with another `acr` (as a device-bound, attested passkey would give), signed by our key. */
async function withAcr(token: string, acr: string): Promise<string> {
  const key = await svc.core.keyRing.signingKey()
  const { payload } = decodeJwt(token)
  return new SignJWT({ ...payload, acr }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey)
}

const STEP_UP = 'Bearer error="insufficient_user_authentication"'

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'boss' } })
  admin = (await signUp(svc.url, new SoftAuthenticator(), 'boss')).tokens.access_token
  await putRole('fresh', [{ methods: ['GET'], path: '/fresh/**', maxAge: 60 }])
  await putRole('strong', [{ methods: ['GET'], path: '/strong/**', acr: 'phrh' }])
  await putRole('both', [{ methods: ['GET'], path: '/both/**', acr: 'phrh', maxAge: 60 }])
  await putRole('brief', [{ methods: ['GET'], path: '/brief/**', maxAge: 10 }])
  await putRole('plain', [{ methods: ['GET'], path: '/fresh/**' }])
  await putRole('machine', [
    { methods: ['GET'], path: '/jobs/**' },
    { methods: ['GET'], path: '/fresh-jobs/**', maxAge: 300 },
    { methods: ['GET'], path: '/acr-jobs/**', acr: 'phrh' },
    { methods: ['GET'], path: '/acr-jobs/**', acr: 'phr' },
  ])
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('CONTRACT v2 Step-up: permissions with maxAge (PUT /api/manage/roles/{role})', () => {
  it('maxAge must be a whole number of seconds from 1 to a year; it is stored and listed', async () => {
    for (const maxAge of [0, -1, 1.5, '60', null, 365 * 24 * 3600 + 1]) {
      const r = await call(svc.url, 'PUT', '/api/manage/roles/bad', { permissions: [{ methods: ['GET'], path: '/x', maxAge }] }, bearer(admin))
      assert.equal(r.status, 400, JSON.stringify(maxAge))
      assert.equal(r.body.code, 'invalid_request')
      assert.match(r.body.detail, /maxAge/)
    }
    const ok = await putRole('year', [{ methods: ['GET'], path: '/y', maxAge: 365 * 24 * 3600 }])
    assert.deepEqual(ok.body.permissions, [{ methods: ['GET'], path: '/y', maxAge: 365 * 24 * 3600 }])
    const list = await call(svc.url, 'GET', '/api/manage/roles', undefined, bearer(admin))
    assert.deepEqual(list.body.find((x: { name: string }) => x.name === 'fresh').permissions, [{ methods: ['GET'], path: '/fresh/**', maxAge: 60 }])
  })
})

describe('CONTRACT v2 Step-up (RFC 9470 §3): 401 insufficient_user_authentication from the authorizer', () => {
  it('maxAge: allowed right after sign-in; older than maxAge → 401 with max_age only; a fresh sign-in is the step-up', async () => {
    const u = await user(['fresh'])
    const ok = await check(u.token, 'GET', '/fresh/1')
    assert.deepEqual([ok.body.allow, ok.body.status], [true, 200])
    assert.equal(ok.body.wwwAuthenticate, undefined)
    clock.advance(61_000)
    const r = await check(u.token, 'GET', '/fresh/1')
    assert.equal(r.status, 200)
    assert.deepEqual([r.body.allow, r.body.status, r.body.error, r.body.max_age], [false, 401, 'insufficient_user_authentication', 60])
    assert.equal('acr_values' in r.body, false, 'the acr was not short')
    assert.equal(r.body.wwwAuthenticate, `${STEP_UP}, error_description="More recent authentication is required", max_age=60`)
    assert.equal(r.body.sub, u.id)
    assert.deepEqual(r.body.roles, ['fresh'])
    // A refreshed token keeps the old auth_time; a new passkey sign-in has a new one.
    const again = (await signIn(svc.url, u.auth)).body.access_token
    assert.equal((await check(again, 'GET', '/fresh/1')).body.allow, true)
    // Other methods and paths are not a step-up: no permission matches them at all.
    assert.equal((await check(u.token, 'POST', '/fresh/1')).body.status, 403)
  })

  it('acr: a phr token on a phrh permission → 401 with acr_values only; a phrh token is allowed', async () => {
    const u = await user(['strong'])
    assert.equal(decodeJwt(u.token).payload.acr, 'phr')
    const r = await check(u.token, 'GET', '/strong/vault')
    assert.deepEqual([r.body.allow, r.body.status, r.body.error, r.body.acr_values], [false, 401, 'insufficient_user_authentication', 'phrh'])
    assert.equal('max_age' in r.body, false, 'no maxAge on this permission')
    assert.equal(r.body.wwwAuthenticate, `${STEP_UP}, error_description="A different authentication level is required", acr_values="phrh"`)
    const phrh = await withAcr(u.token, 'phrh')
    assert.deepEqual([(await check(phrh, 'GET', '/strong/vault')).body.allow], [true])
  })

  it('both short: acr_values and max_age together; either one alone is still short', async () => {
    const u = await user(['both'])
    const phrh = await withAcr(u.token, 'phrh')
    assert.equal((await check(phrh, 'GET', '/both/x')).body.allow, true, 'strong and fresh')
    const weak = await check(u.token, 'GET', '/both/x')
    assert.deepEqual([weak.body.status, weak.body.acr_values, 'max_age' in weak.body], [401, 'phrh', false])
    clock.advance(61_000)
    const r = await check(u.token, 'GET', '/both/x')
    assert.deepEqual([r.body.status, r.body.error, r.body.acr_values, r.body.max_age], [401, 'insufficient_user_authentication', 'phrh', 60])
    assert.equal(r.body.wwwAuthenticate, `${STEP_UP}, error_description="A stronger and more recent authentication is required", acr_values="phrh", max_age=60`)
    const stale = await check(phrh, 'GET', '/both/x')
    assert.deepEqual([stale.body.status, 'acr_values' in stale.body, stale.body.max_age], [401, false, 60])
  })

  it('another permission that allows wins: no step-up, and its ttl is not bound by the other maxAge', async () => {
    const u = await user(['fresh', 'plain'])
    clock.advance(61_000)
    await svc.core.authz.loadRoles() // a stale role snapshot answers with ttl 0 while it refreshes
    const r = await check(u.token, 'GET', '/fresh/2')
    assert.deepEqual([r.body.allow, r.body.status], [true, 200])
    assert.equal(r.body.reason, 'granted by role plain')
    assert.equal(r.body.ttl, 30)
  })

  it('a cached allow never outlives auth_time + maxAge: ttl capped, then 401 (here and through the gateway cache)', async () => {
    const u = await user(['brief'])
    const authTime = decodeJwt(u.token).payload.auth_time as number
    const first = await check(u.token, 'GET', '/brief/1')
    assert.equal(first.body.allow, true)
    const bound = () => authTime + 10 - Math.floor(clock.now() / 1000)
    assert.ok(first.body.ttl <= bound() && first.body.ttl <= 10 && first.body.ttl < 30, `ttl ${first.body.ttl}`)
    clock.advance(5_000)
    svc.resetTrips()
    const warm = await check(u.token, 'GET', '/brief/1')
    assert.equal(svc.trips.length, 0, 'served from the decision cache')
    assert.equal(warm.body.allow, true)
    assert.ok(warm.body.ttl <= bound(), `warm ttl ${warm.body.ttl} ≤ ${bound()}`)
    // Past auth_time + maxAge: the cached allow is gone, even though AUTHZ_CACHE_TTL (30 s) is not.
    clock.set((authTime + 10) * 1000)
    const late = await check(u.token, 'GET', '/brief/1')
    assert.deepEqual([late.body.allow, late.body.status, late.body.max_age], [false, 401, 10])
  })
})

describe('CONTRACT v2 Step-up: machine tokens (client_credentials, no auth_time)', () => {
  let token: string
  before(async () => {
    const keys = keyPair('ec', { namedCurve: 'P-256' })
    const jwk = { ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
    const clientId = (await registerClient(svc.url, admin, { name: 'nightly job', jwks: { keys: [jwk] }, roles: ['machine'] })).client_id
    const iat = Math.floor(clock.now() / 1000)
    const assertion = await clientAssertion({ clientId, key: keys.privateKey, kid: 'k1', aud: svc.config.issuer, claims: { iat, exp: iat + 60 } })
    const r = await form(svc.url, '/api/oauth2/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    token = r.body.access_token
    assert.equal(decodeJwt(token).payload.auth_time, undefined)
  })

  it('a permission without maxAge (or acr) is unaffected: allowed', async () => {
    const r = await check(token, 'GET', '/jobs/7')
    assert.deepEqual([r.body.allow, r.body.status], [true, 200])
  })

  it('a permission with maxAge is never met: 401 with max_age', async () => {
    const r = await check(token, 'GET', '/fresh-jobs/7')
    assert.deepEqual([r.body.allow, r.body.status, r.body.error, r.body.max_age], [false, 401, 'insufficient_user_authentication', 300])
    assert.equal(r.body.wwwAuthenticate, `${STEP_UP}, error_description="More recent authentication is required", max_age=300`)
  })

  it('acr permissions: acr_values names the weakest acr that would satisfy', async () => {
    const r = await check(token, 'GET', '/acr-jobs/7')
    assert.deepEqual([r.body.status, r.body.acr_values], [401, 'phr'])
  })
})

describe('CONTRACT v2 Step-up: every 401 decision carries wwwAuthenticate', () => {
  it('no token → Bearer; bad token → Bearer error="invalid_token"; revoked session → invalid_token; 200 and 403 carry none', async () => {
    const none = await check(undefined, 'GET', '/fresh/1')
    assert.deepEqual([none.body.status, none.body.wwwAuthenticate], [401, 'Bearer'])
    const bad = await check('not.a.token', 'GET', '/fresh/1')
    assert.deepEqual([bad.body.status, bad.body.wwwAuthenticate], [401, 'Bearer error="invalid_token"'])
    const u = await user(['plain'])
    assert.equal((await check(u.token, 'GET', '/fresh/1')).body.wwwAuthenticate, undefined)
    const denied = await check(u.token, 'GET', '/elsewhere')
    assert.deepEqual([denied.body.status, 'wwwAuthenticate' in denied.body], [403, false])
    const sid = decodeJwt(u.token).payload.sid
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/users/${u.id}/sessions`, undefined, bearer(admin))).status, 204, `revoke ${sid}`)
    const revoked = await check(u.token, 'GET', '/fresh/1')
    assert.deepEqual([revoked.body.status, revoked.body.wwwAuthenticate], [401, 'Bearer error="invalid_token"'])
  })
})
