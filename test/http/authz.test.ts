/**
 * CONTRACT "Authorizer" and "Administration": POST /api/authz/check against a real Azurite —
 * token checks, live roles, permission globs, caching bounds, and fail-closed behaviour.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post, signIn, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
let admin: string // admin's access token
let n = 0
const uniq = (p = 'az') => `${p}${process.pid}n${++n}`

async function check(token: string | undefined, method: string, path: string, extra: Record<string, unknown> = {}, on = svc) {
  return post(on.url, '/api/authz/check', { method, path, ...extra }, token ? bearer(token) : {})
}

async function putRole(name: string, permissions: unknown[]) {
  const r = await call(svc.url, 'PUT', `/api/manage/roles/${name}`, { permissions }, bearer(admin))
  assert.equal(r.status, 200, JSON.stringify(r.body))
}

async function grant(userId: string, role: string) {
  const r = await call(svc.url, 'PUT', `/api/manage/users/${userId}/roles/${role}`, undefined, bearer(admin))
  assert.equal(r.status, 200, JSON.stringify(r.body))
}

/** A signed-up user with the given roles; returns the token and ids. */
async function user(roles: string[] = []) {
  const auth = new SoftAuthenticator()
  const up = await signUp(svc.url, auth, uniq())
  for (const role of roles) await grant(up.user.id, role)
  return { auth, id: up.user.id, token: up.tokens.access_token as string, refresh: up.tokens.refresh_token as string }
}

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'boss' } })
  admin = (await signUp(svc.url, new SoftAuthenticator(), 'boss')).tokens.access_token
  await putRole('reader', [{ methods: ['GET'], path: '/orders/**' }])
  await putRole('writer', [{ methods: ['POST', 'DELETE'], path: '/orders/*' }, { methods: ['*'], path: '/files/*.pdf' }])
  await putRole('sales', [{ methods: ['GET'], path: '/reports/*', apiId: 'sales-api' }])
  await putRole('vault', [{ methods: ['GET'], path: '/vault/**', acr: 'phrh' }])
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('Authorizer decisions (POST /api/authz/check)', () => {
  it('a permitting role → 200 allow with sub, roles, scopes and a ttl bounded by exp', async () => {
    const u = await user(['reader'])
    const r = await check(u.token, 'GET', '/orders/42')
    assert.equal(r.status, 200)
    assert.equal(r.body.allow, true)
    assert.equal(r.body.status, 200)
    assert.equal(r.body.sub, u.id)
    assert.deepEqual(r.body.roles, ['reader'])
    assert.deepEqual(r.body.scopes, ['openid'])
    assert.equal(typeof r.body.reason, 'string')
    const { exp } = decodeJwt(u.token).payload
    assert.ok(r.body.ttl > 0 && r.body.ttl <= 30 && r.body.ttl <= exp - Math.floor(clock.now() / 1000))
  })

  it('a valid token without a permitting role → 403', async () => {
    const u = await user(['reader'])
    const r = await check(u.token, 'DELETE', '/orders/42')
    assert.equal(r.status, 200)
    assert.deepEqual([r.body.allow, r.body.status], [false, 403])
    const none = await user([])
    assert.equal((await check(none.token, 'GET', '/orders/1')).body.status, 403)
  })

  it('the token may come in the body (gateway managed identity holds Authorization)', async () => {
    const u = await user(['reader'])
    const r = await post(svc.url, '/api/authz/check', { method: 'GET', path: '/orders', token: u.token }, { authorization: 'Bearer not-the-caller' })
    assert.equal(r.body.allow, true)
  })

  it('globs: * is one segment, ** any depth, * inside a segment; methods are case-insensitive', async () => {
    const u = await user(['reader', 'writer'])
    const cases: [string, string, boolean][] = [
      ['GET', '/orders', true], // ** matches zero segments
      ['get', '/orders/1/lines/2', true],
      ['POST', '/orders/1', true],
      ['POST', '/orders/1/lines', false], // * is one segment
      ['POST', '/orders', false], // * is not empty
      ['PUT', '/files/report.pdf', true],
      ['PUT', '/files/report.pdf.exe', false],
      ['GET', '/Orders/1', false], // case-sensitive paths: fail closed
      ['GET', '/orders/1?x=/admin', true], // the query is not part of the path
    ]
    for (const [method, path, allow] of cases) assert.equal((await check(u.token, method, path)).body.allow, allow, `${method} ${path}`)
  })

  it('normalisation: dot segments and encoded slashes are refused, double slashes collapse', async () => {
    const u = await user(['reader'])
    for (const path of ['/orders/../admin', '/orders/%2e%2e/admin', '/orders/.%2E/admin', '/orders/a%2Fb', '/orders/%00', '/orders/%zz']) {
      const r = await check(u.token, 'GET', path)
      assert.deepEqual([r.body.allow, r.body.status], [false, 403], path)
    }
    assert.equal((await check(u.token, 'GET', '//orders//7/')).body.allow, true)
  })

  it('CONTRACT v2 ambiguous paths: /orders/** does not let ..;/ or double-encoded dots through (403 with a reason)', async () => {
    const u = await user(['reader'])
    for (const path of ['/orders/..;/admin/x', '/orders/%252e%252e/admin/x', '/orders/7;v=1', '/orders/a%5cb', '/orders/%2e']) {
      const r = await check(u.token, 'GET', path)
      assert.deepEqual([r.body.allow, r.body.status], [false, 403], path)
      assert.match(r.body.reason, /path has/, path)
    }
    assert.equal((await check(u.token, 'GET', '/orders/7')).body.allow, true)
  })

  it('apiId: a permission that names an API applies to that API only', async () => {
    const u = await user(['sales'])
    assert.equal((await check(u.token, 'GET', '/reports/q3', { apiId: 'sales-api' })).body.allow, true)
    assert.equal((await check(u.token, 'GET', '/reports/q3', { apiId: 'hr-api' })).body.allow, false)
    assert.equal((await check(u.token, 'GET', '/reports/q3')).body.allow, false)
  })

  it('acr: phrh is required where the permission says so (a none-attested passkey gives phr): a step-up 401 (CONTRACT v2)', async () => {
    const u = await user(['vault'])
    assert.equal(decodeJwt(u.token).payload.acr, 'phr')
    const r = await check(u.token, 'GET', '/vault/keys')
    assert.deepEqual([r.body.allow, r.body.status, r.body.error, r.body.acr_values], [false, 401, 'insufficient_user_authentication', 'phrh'])
  })
})

describe('Authorizer token checks → 401 without consulting roles', () => {
  let u: Awaited<ReturnType<typeof user>>
  before(async () => {
    u = await user(['reader'])
  })
  const expect401 = async (token: string | undefined, why: string) => {
    const r = await check(token, 'GET', '/orders/1')
    assert.equal(r.status, 200, why)
    assert.deepEqual([r.body.allow, r.body.status], [false, 401], why)
    assert.equal(r.body.ttl, 0, why)
    assert.equal(r.body.wwwAuthenticate, token === undefined ? 'Bearer' : 'Bearer error="invalid_token"', why)
  }

  it('no token', () => expect401(undefined, 'none'))

  it('tampered payload', async () => {
    const [h, p, s] = u.token.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
    await expect401(`${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${s}`, 'tampered')
  })

  it('alg none', async () => {
    const { header, payload } = decodeJwt(u.token)
    const none = `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`
    await expect401(none, 'alg none')
  })

  it('HS256 signed with our RSA public key as the HMAC secret (algorithm confusion)', async () => {
    const { header, payload } = decodeJwt(u.token)
    const jwks = (await call(svc.url, 'GET', '/api/.well-known/jwks.json')).body
    const jwk = jwks.keys.find((k: any) => k.kid === header.kid)
    for (const secret of [JSON.stringify(jwk), jwk.n]) {
      const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: header.kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(secret))
      await expect401(forged, 'HS256')
    }
  })

  it('wrong audience, wrong issuer, wrong typ (an ID token), unknown kid', async () => {
    const key = await svc.core.keyRing.signingKey()
    const { payload } = decodeJwt(u.token)
    const sign = (claims: object, typ = 'at+jwt', kid = key.kid) =>
      new SignJWT({ ...payload, ...claims }).setProtectedHeader({ alg: key.alg, kid, typ }).sign(key.privateKey)
    await expect401(await sign({ aud: 'api://other' }), 'aud')
    await expect401(await sign({ iss: 'https://evil.example/api' }), 'iss')
    await expect401(await sign({}, 'JWT'), 'typ')
    await expect401(await sign({}, 'at+jwt', 'unknown-kid'), 'kid')
  })

  it('expired (beyond the skew), also when the verified token is cached', async () => {
    const fresh = await user(['reader'])
    assert.equal((await check(fresh.token, 'GET', '/orders/1')).body.allow, true) // cached now
    clock.advance(11 * 60_000)
    try {
      await expect401(fresh.token, 'expired')
    } finally {
      clock.advance(-11 * 60_000)
    }
  })

  it('revoked session (refresh token reuse) and deleted passkey → 401', async () => {
    const a = await user(['reader'])
    assert.equal((await check(a.token, 'GET', '/orders/1')).body.allow, true)
    const r1 = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: a.refresh })
    await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: a.refresh }) // reuse
    await expect401(a.token, 'reuse revokes the session')
    await expect401(r1.body.access_token, 'the rotated token too')

    const b = await user(['reader'])
    const second = new SoftAuthenticator()
    const o = await post(svc.url, '/api/webauthn/registration/options', {}, bearer(b.token))
    await post(svc.url, '/api/webauthn/registration/verify', { credential: await second.createCredential(o.body, { origin: 'http://localhost:7071' }) }, bearer(b.token))
    const viaSecond = (await signIn(svc.url, second)).body.access_token
    assert.equal((await check(viaSecond, 'GET', '/orders/1')).body.allow, true)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/credentials/${second.credentials()[0]!.id}`, undefined, bearer(b.token))).status, 204)
    await expect401(viaSecond, 'deleted passkey')
    assert.equal((await check(b.token, 'GET', '/orders/1')).body.allow, true, 'other sessions live on')
  })
})

describe('Authorizer calls and caching', () => {
  it('a malformed call → 400 problem+json', async () => {
    const u = await user(['reader'])
    for (const body of [{}, { method: 'GET' }, { path: '/x' }, { method: 'GET', path: 'no-slash' }, { method: 'G E T', path: '/x' }, { method: 'GET', path: '/x', apiId: 5 }, { method: 'GET', path: '/x\u0000/y' }, { method: 'GET', path: '/y', apiId: 'a\u0000/x' }, { method: 'GET', path: '/x', operationId: 'op\n' }]) {
      const r = await post(svc.url, '/api/authz/check', body, bearer(u.token))
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.equal(r.body.code, 'invalid_request')
    }
    const t = await call(svc.url, 'POST', '/api/authz/check', 'method=GET', { 'content-type': 'text/plain' })
    assert.equal(t.status, 415)
  })

  it('a warm decision makes no storage call; a cold one at most 2 point reads', async () => {
    const u = await user(['reader'])
    await check(u.token, 'GET', '/orders/1') // role definitions are loaded by now
    const fresh = (await signIn(svc.url, u.auth)).body.access_token
    svc.core.authz.forgetUser(u.id)
    svc.resetTrips()
    assert.equal((await check(fresh, 'GET', '/orders/1')).body.allow, true)
    const cold = svc.trips.length
    assert.ok(cold <= 2, `cold decision: ${cold} round trips`)
    for (const t of svc.trips) assert.equal(t.method, 'GET')
    svc.resetTrips()
    assert.equal((await check(fresh, 'GET', '/orders/9')).body.allow, true)
    assert.equal(svc.trips.length, 0, 'warm decision: no storage call')
  })

  it('a repeated decision is served from memory with its ttl counted down (never past the first bound)', async () => {
    const u = await user(['reader'])
    const first = await check(u.token, 'GET', '/orders/5')
    clock.advance(12_000)
    try {
      svc.resetTrips()
      const again = await check(u.token, 'GET', '/orders/5')
      assert.equal(svc.trips.length, 0)
      assert.equal(again.body.allow, true)
      assert.ok(again.body.ttl <= first.body.ttl - 12 && again.body.ttl >= first.body.ttl - 13, `${first.body.ttl} → ${again.body.ttl}`)
      assert.deepEqual({ ...again.body, ttl: 0 }, { ...first.body, ttl: 0 })
    } finally {
      clock.advance(-12_000)
    }
  })

  it('memory stays bounded under a flood of distinct tokens', async () => {
    const small = await startService({ connectionString: azurite.connectionString, env: { AUTHZ_TOKEN_CACHE_SIZE: '3', AUTHZ_SUBJECT_CACHE_SIZE: '2' } })
    try {
      const auth = new SoftAuthenticator()
      await signUp(small.url, auth, uniq())
      for (let i = 0; i < 8; i++) {
        const t = (await signIn(small.url, auth)).body.access_token
        await check(t, 'GET', '/x', {}, small)
      }
      for (let i = 0; i < 50; i++) await check(`junk.${i}.token`, 'GET', '/x', {}, small)
      const a = small.core.authz as unknown as Record<string, { size: number }>
      assert.ok(a.tokens!.size <= 3, `tokens ${a.tokens!.size}`)
      assert.ok(a.sessions!.size <= 2, `sessions ${a.sessions!.size}`)
    } finally {
      await small.close()
    }
  })
})

describe('Revocation takes effect at once here and within AUTHZ_CACHE_TTL elsewhere', () => {
  it('removing a role: this instance denies at once; another instance within the TTL', async () => {
    const u = await user(['reader'])
    const other = await startService({
      connectionString: azurite.connectionString,
      clock,
      env: { TABLE_PREFIX: svc.config.tablePrefix, KEY_ENCRYPTION_KEY: Buffer.from(svc.config.keyEncryptionKey!).toString('base64') },
    })
    try {
      assert.equal((await check(u.token, 'GET', '/orders/1', {}, other)).body.allow, true) // other caches it
      const r = await call(svc.url, 'DELETE', `/api/manage/users/${u.id}/roles/reader`, undefined, bearer(admin))
      assert.equal(r.status, 200)
      assert.equal((await check(u.token, 'GET', '/orders/1')).body.allow, false, 'at once on this instance')
      assert.equal((await check(u.token, 'GET', '/orders/1', {}, other)).body.allow, true, 'stale within the bound')
      clock.advance(31_000)
      assert.equal((await check(u.token, 'GET', '/orders/1', {}, other)).body.allow, false, 'denied after the TTL')
      clock.advance(-31_000)
    } finally {
      await other.close()
    }
  })

  it('an answer built on cached roles is cached no longer than those roles: end to end ≤ AUTHZ_CACHE_TTL', async () => {
    const u = await user(['reader'])
    const other = await startService({
      connectionString: azurite.connectionString,
      clock,
      env: { TABLE_PREFIX: svc.config.tablePrefix, KEY_ENCRYPTION_KEY: Buffer.from(svc.config.keyEncryptionKey!).toString('base64') },
    })
    try {
      assert.equal((await check(u.token, 'GET', '/orders/1', {}, other)).body.ttl, 30) // roles cached now on `other`
      clock.advance(20_000)
      await call(svc.url, 'DELETE', `/api/manage/users/${u.id}/roles/reader`, undefined, bearer(admin))
      // `other` still answers from its cached roles, but only for what is left of their lifetime.
      const stale = await check(u.token, 'GET', '/orders/2', {}, other)
      assert.equal(stale.body.allow, true)
      assert.ok(stale.body.ttl <= 10, `ttl ${stale.body.ttl}`)
      clock.advance(10_000)
      assert.equal((await check(u.token, 'GET', '/orders/2', {}, other)).body.allow, false)
    } finally {
      clock.advance(-30_000)
      await other.close()
    }
  })

  it('an administrator revoking a passkey: credential_revoked at sign-in, its sessions 401', async () => {
    const u = await user(['reader'])
    const credId = u.auth.credentials()[0]!.id
    const r = await call(svc.url, 'DELETE', `/api/manage/credentials/${credId}`, undefined, bearer(admin))
    assert.equal(r.status, 204)
    assert.equal((await check(u.token, 'GET', '/orders/1')).body.status, 401)
    assert.equal((await signIn(svc.url, u.auth)).body.code, 'credential_revoked')
  })
})

describe('Administration API (role admin)', () => {
  it('non-admins get 403, anonymous 401', async () => {
    const u = await user([])
    assert.equal((await call(svc.url, 'GET', '/api/manage/roles', undefined, bearer(u.token))).status, 403)
    assert.equal((await call(svc.url, 'GET', '/api/manage/roles')).status, 401)
  })

  it('roles: PUT validates permissions, GET lists, DELETE removes; users lookup shows roles and passkeys', async () => {
    for (const permissions of [[{ methods: [], path: '/x' }], [{ methods: ['GET'], path: 'x' }], [{ methods: ['GET'], path: '/a/**b' }], [{ methods: ['GET'], path: '/x', acr: 'gold' }], [{ methods: ['GET'], path: '/x', extra: 1 }], 'nope']) {
      const r = await call(svc.url, 'PUT', '/api/manage/roles/bad', { permissions }, bearer(admin))
      assert.equal(r.status, 400, JSON.stringify(permissions))
    }
    assert.equal((await call(svc.url, 'PUT', '/api/manage/roles/Bad Name', { permissions: [] }, bearer(admin))).status, 400)
    await putRole('temp', [{ methods: ['get'], path: '/t/*' }])
    const list = await call(svc.url, 'GET', '/api/manage/roles', undefined, bearer(admin))
    assert.deepEqual(list.body.find((x: any) => x.name === 'temp').permissions, [{ methods: ['GET'], path: '/t/*' }])
    const u = await user(['temp'])
    assert.equal((await check(u.token, 'GET', '/t/1')).body.allow, true)
    assert.equal((await call(svc.url, 'DELETE', '/api/manage/roles/temp', undefined, bearer(admin))).status, 204)
    assert.equal((await check(u.token, 'GET', '/t/1')).body.allow, false, 'a deleted role grants nothing at once')
    assert.equal((await call(svc.url, 'DELETE', '/api/manage/roles/temp', undefined, bearer(admin))).status, 404)
    assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${u.id}/roles/undefined-role`, undefined, bearer(admin))).status, 404)
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/users/${'A'.repeat(1500)}/roles/temp`, undefined, bearer(admin))).status, 404)
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/credentials/${'A'.repeat(1500)}`, undefined, bearer(admin))).status, 404)
    const me = await call(svc.url, 'GET', '/api/me', undefined, bearer(u.token))
    const found = await call(svc.url, 'GET', `/api/manage/users?username=${me.body.username}`, undefined, bearer(admin))
    assert.equal(found.body.length, 1)
    assert.equal(found.body[0].id, u.id)
    assert.equal(found.body[0].credentials.length, 1)
    assert.deepEqual((await call(svc.url, 'GET', '/api/manage/users?username=nobody-here', undefined, bearer(admin))).body, [])
  })
})

describe('Authorizer fails closed', () => {
  it('storage unreachable → 503 for a decision it cannot make', async () => {
    const u = await user(['reader'])
    const fresh = (await signIn(svc.url, u.auth)).body.access_token
    svc.core.authz.forgetUser(u.id)
    await azurite.stop()
    try {
      const r = await check(fresh, 'GET', '/orders/1')
      assert.equal(r.status, 503)
      assert.equal(r.body.code, 'storage_unavailable')
    } finally {
      await azurite.restart()
      await svc.store.init()
    }
  })
})
