/**
 * The whole chain, locally: passkey sign-in → token → dev gateway (the APIM stand-in applying the
 * shipped policy's checks) → authorizer → sample backend. Real Azurite, real HTTP, one clock
 * shared by the service and the gateway.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { startGateway, type Gateway } from '../../local/gateway.js'
import { startEchoBackend } from '../../local/echo.js'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, signIn, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'

let azurite: Azurite
let svc: TestService
let gw: Gateway
let echo: { url: string; close(): Promise<void> }
const clock = new ManualClock(Date.now())
let admin: string
let n = 0
const uniq = () => `gw${process.pid}n${++n}`

async function user(roles: string[]) {
  const auth = new SoftAuthenticator()
  const up = await signUp(svc.url, auth, uniq())
  for (const role of roles) {
    const r = await call(svc.url, 'PUT', `/api/manage/users/${up.user.id}/roles/${role}`, undefined, bearer(admin))
    assert.equal(r.status, 200)
  }
  return { auth, id: up.user.id as string, token: up.tokens.access_token as string }
}

const api = (path: string, headers: Record<string, string> = {}, method = 'GET') => call(gw.url, method, `/sample${path}`, undefined, headers)

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, port: await freePort(), env: { BOOTSTRAP_ADMINS: 'boss' } })
  admin = (await signUp(svc.url, new SoftAuthenticator(), 'boss')).tokens.access_token
  const r = await call(svc.url, 'PUT', '/api/manage/roles/reader', { permissions: [{ methods: ['GET'], path: '/orders/**' }] }, bearer(admin))
  assert.equal(r.status, 200)
  echo = await startEchoBackend({ port: 0 })
  gw = await startGateway({
    port: 0,
    issuer: svc.config.issuer,
    discoveryUrl: `${svc.url}/api/.well-known/openid-configuration`,
    audiences: [...svc.config.audiences],
    authzUrl: `${svc.url}/api/authz/check`,
    backendUrl: echo.url,
    now: () => clock.now(),
    log: () => {},
  })
})
after(async () => {
  await gw?.close()
  await echo?.close()
  await svc?.close()
  await azurite?.stop()
})

describe('Through the dev gateway (apim/policy.xml checks)', () => {
  it('a permitting role → the backend answers, with X-User-Id and X-User-Roles; client X-User-* is stripped', async () => {
    const u = await user(['reader'])
    const r = await api('/orders/7', { ...bearer(u.token), 'x-user-id': 'forged', 'x-user-roles': 'admin' })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.userId, u.id)
    assert.equal(r.body.roles, 'reader')
    assert.equal(r.body.path, '/orders/7')
  })

  it('a valid token without a permitting role → 403 insufficient_scope', async () => {
    const u = await user([])
    const r = await api('/orders/7', bearer(u.token))
    assert.equal(r.status, 403)
    assert.match(r.headers.get('www-authenticate') ?? '', /insufficient_scope/)
  })

  describe('bad tokens → 401 with WWW-Authenticate', () => {
    let u: Awaited<ReturnType<typeof user>>
    before(async () => {
      u = await user(['reader'])
    })
    const expect401 = async (headers: Record<string, string>, why: string) => {
      const r = await api('/orders/1', headers)
      assert.equal(r.status, 401, `${why}: ${JSON.stringify(r.body)}`)
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/, why)
    }
    it('no token', () => expect401({}, 'none'))
    it('tampered', async () => {
      const [h, p, s] = u.token.split('.')
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
      await expect401(bearer(`${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')}.${s}`), 'tampered')
    })
    it('alg none', async () => {
      const { header, payload } = decodeJwt(u.token)
      await expect401(bearer(`${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`), 'none')
    })
    it('HS256 with the public key as secret', async () => {
      const { header, payload } = decodeJwt(u.token)
      const jwk = (await call(svc.url, 'GET', '/api/.well-known/jwks.json')).body.keys.find((k: any) => k.kid === header.kid)
      const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: header.kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(JSON.stringify(jwk)))
      await expect401(bearer(forged), 'HS256')
    })
    it('wrong audience', async () => {
      const key = await svc.core.keyRing.signingKey()
      const { payload } = decodeJwt(u.token)
      const t = await new SignJWT({ ...payload, aud: 'api://someone-else' }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey)
      await expect401(bearer(t), 'aud')
    })
    it('expired', async () => {
      const fresh = await user(['reader'])
      assert.equal((await api('/orders/1', bearer(fresh.token))).status, 200)
      clock.advance(11 * 60_000)
      try {
        await expect401(bearer(fresh.token), 'expired')
      } finally {
        clock.advance(-11 * 60_000)
      }
    })
  })

  it('revoking a role denies within the bound (gateway ttl ≤ AUTHZ_CACHE_TTL)', async () => {
    const u = await user(['reader'])
    assert.equal((await api('/orders/1', bearer(u.token))).status, 200)
    await call(svc.url, 'DELETE', `/api/manage/users/${u.id}/roles/reader`, undefined, bearer(admin))
    assert.equal((await api('/orders/2', bearer(u.token))).status, 403, 'an uncached path: at once')
    clock.advance(31_000)
    try {
      assert.equal((await api('/orders/1', bearer(u.token))).status, 403, 'a cached path: after the ttl')
    } finally {
      clock.advance(-31_000)
    }
  })

  it('revoking a passkey denies its sessions within the bound', async () => {
    const u = await user(['reader'])
    assert.equal((await api('/orders/1', bearer(u.token))).status, 200)
    await call(svc.url, 'DELETE', `/api/manage/credentials/${u.auth.credentials()[0]!.id}`, undefined, bearer(admin))
    assert.equal((await api('/orders/3', bearer(u.token))).status, 401, 'an uncached path: at once')
    clock.advance(31_000)
    try {
      assert.equal((await api('/orders/1', bearer(u.token))).status, 401, 'a cached path: after the ttl')
    } finally {
      clock.advance(-31_000)
    }
  })

  it('CONTRACT v2 Step-up: a maxAge permission → 401 with the RFC 9470 challenge once the sign-in is older; the gateway cache does not outlive auth_time + maxAge', async () => {
    const r = await call(svc.url, 'PUT', '/api/manage/roles/approver', { permissions: [{ methods: ['DELETE'], path: '/orders/*', maxAge: 10 }] }, bearer(admin))
    assert.equal(r.status, 200)
    const u = await user(['approver'])
    const authTime = decodeJwt(u.token).payload.auth_time as number
    const start = clock.now()
    try {
      assert.equal((await api('/orders/5', bearer(u.token), 'DELETE')).status, 200, 'a fresh sign-in passes (and the gateway caches the allow)')
      clock.set((authTime + 10) * 1000)
      const late = await api('/orders/5', bearer(u.token), 'DELETE')
      assert.equal(late.status, 401, 'not the cached allow')
      // RFC 9728 §5.1: the gateway adds its resource_metadata to the authorizer's challenge.
      const metadata = `resource_metadata="${gw.url}/.well-known/oauth-protected-resource/sample"`
      assert.equal(late.headers.get('www-authenticate'), `Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age=10, ${metadata}`)
      assert.equal(late.body.code, 'unauthorized')
      assert.match(late.body.detail, /within 10 s/)
      const stepped = (await signIn(svc.url, u.auth)).body.access_token
      assert.equal((await api('/orders/5', bearer(stepped), 'DELETE')).status, 200, 'the fresh sign-in is the step-up')
      // A revoked session's 401 carries the authorizer's invalid_token challenge.
      await call(svc.url, 'DELETE', `/api/manage/users/${u.id}/sessions`, undefined, bearer(admin))
      const revoked = await api('/orders/6', bearer(stepped), 'DELETE')
      assert.equal(revoked.status, 401)
      assert.equal(revoked.headers.get('www-authenticate'), `Bearer error="invalid_token", ${metadata}`)
    } finally {
      clock.set(start)
    }
  })

  it('storage stopped → 503 (fail closed)', async () => {
    const u = await user(['reader'])
    const fresh = (await signIn(svc.url, u.auth)).body.access_token
    await azurite.stop()
    try {
      const r = await api('/orders/1', bearer(fresh))
      assert.equal(r.status, 503)
    } finally {
      await azurite.restart()
      await svc.store.init()
    }
  })
})
