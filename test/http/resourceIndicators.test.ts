/**
 * RFC 8707 resource indicators over HTTP against a real Azurite (CONTRACT v2 "AI clients and MCP
 * servers behind the gateway"): `resource` on GET /api/oauth2/authorize (one of AUDIENCES, else
 * an `invalid_target` redirect; repeated → invalid_target), remembered by the code (the token's
 * `aud`), and at the token endpoint on authorization_code and refresh_token (§2.2: only the
 * resource the grant was issued for) and client_credentials (any one of AUDIENCES). CIBA's poll
 * is in test/http/agents.test.ts, token exchange in test/http/tokenExchange.test.ts.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { keyPair } from '../helpers/keys.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { decodeJwt, form, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { JWT_BEARER, adminToken, clientAssertion, hostedSignIn, openAuthorize, passkeyStep, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
let app: string
let machine: string
const alice = new SoftAuthenticator()
const REDIRECT = 'https://app.example/cb'
const OTHER = 'https://elsewhere.example/api'
const keys = keyPair('ec', { namedCurve: 'P-256' })
const jwk = { ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
/** The storage and keys, so that a second service can stand for this one redeployed. */
const shared = { TABLE_PREFIX: `ri${process.pid}`, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }
/** The second audience: locally the dev gateway's sample API URL (the PRM resource). */
let resource: string

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, port: await freePort(), env: { BOOTSTRAP_ADMINS: 'ri-admin', ...shared } })
  resource = svc.config.audiences[1]!
  const admin = await adminToken(svc.url, new SoftAuthenticator(), 'ri-admin')
  await signUp(svc.url, alice, 'alice')
  app = (await registerClient(svc.url, admin, { name: 'MCP app', redirect_uris: [REDIRECT] })).client_id
  machine = (await registerClient(svc.url, admin, { name: 'batch', jwks: { keys: [jwk] } })).client_id
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

function authorizeUrl(extra: [string, string][] = []) {
  const verifier = randomBytes(32).toString('base64url')
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: app,
    redirect_uri: REDIRECT,
    scope: 'openid',
    state: 's1',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })
  for (const [k, v] of extra) q.append(k, v)
  return { url: `${svc.url}/api/oauth2/authorize?${q}`, verifier }
}

async function codeFor(extra: [string, string][]) {
  const { url, verifier } = authorizeUrl(extra)
  const back = await hostedSignIn(svc.url, url, alice)
  return { code: back.searchParams.get('code')!, verifier }
}

const exchange = (code: string, verifier: string, extra: Record<string, string> = {}) =>
  form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: app, code_verifier: verifier, ...extra })

describe('RFC 8707 §2 resource at the authorization endpoint', () => {
  it('not one of AUDIENCES, relative, with a fragment, or repeated → redirect with error=invalid_target and state', async () => {
    for (const extra of [[['resource', OTHER]], [['resource', '/sample']], [['resource', `${resource}#x`]], [['resource', resource], ['resource', 'api://default']]] as [string, string][][]) {
      const page = await openAuthorize(authorizeUrl(extra).url)
      assert.equal(page.status, 302, JSON.stringify(extra))
      const to = new URL(page.headers.get('location')!)
      assert.equal(`${to.origin}${to.pathname}`, REDIRECT)
      assert.equal(to.searchParams.get('error'), 'invalid_target', JSON.stringify(extra))
      assert.equal(to.searchParams.get('state'), 's1')
    }
  })

  it('resource= present but empty → invalid_target (as at the token endpoint), not the default audience', async () => {
    const page = await openAuthorize(authorizeUrl([['resource', '']]).url)
    assert.equal(page.status, 302)
    const to = new URL(page.headers.get('location')!)
    assert.equal(to.searchParams.get('error'), 'invalid_target')
    assert.equal(to.searchParams.get('state'), 's1')
  })

  it('AUDIENCES changed after the page opened: completing refuses the resource (no code); after the sign-in, the exchange refuses it', async () => {
    // The same storage and keys, AUDIENCES without the resource: the service after a redeployment.
    const later = await startService({ connectionString: azurite.connectionString, port: await freePort(), env: { ...shared, AUDIENCES: svc.config.audiences[0]! } })
    try {
      const page = await openAuthorize(authorizeUrl([['resource', resource]]).url)
      assert.equal(page.status, 200)
      const done = await passkeyStep(later.url, page.handle!, alice)
      assert.equal(done.status, 400, JSON.stringify(done.body))
      assert.match(JSON.stringify(done.body), /no longer served/)
      const { code, verifier } = await codeFor([['resource', resource]])
      const t = await form(later.url, '/api/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: app, code_verifier: verifier })
      assert.equal(t.status, 400, JSON.stringify(t.body))
      assert.equal(t.body.error, 'invalid_target')
    } finally {
      await later.close()
    }
  })

  it('the code remembers the resource: the access token\'s aud is it; without one, the default audience', async () => {
    const a = await codeFor([['resource', resource]])
    const t = await exchange(a.code, a.verifier)
    assert.equal(t.status, 200, JSON.stringify(t.body))
    assert.equal(decodeJwt(t.body.access_token).payload.aud, resource)
    const b = await codeFor([])
    const u = await exchange(b.code, b.verifier)
    assert.equal(decodeJwt(u.body.access_token).payload.aud, svc.config.audiences[0])
  })
})

describe('RFC 8707 §2.2 resource at the token endpoint', () => {
  it('authorization_code: the same resource passes; another (even one of AUDIENCES) → invalid_target, the code still unused', async () => {
    const { code, verifier } = await codeFor([['resource', resource]])
    for (const other of [OTHER, svc.config.audiences[0]!]) {
      const r = await exchange(code, verifier, { resource: other })
      assert.equal(r.status, 400)
      assert.equal(r.body.error, 'invalid_target', other)
    }
    const ok = await exchange(code, verifier, { resource })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(decodeJwt(ok.body.access_token).payload.aud, resource)
  })

  it('refresh_token: only the session\'s resource; another → invalid_target and the refresh token still works', async () => {
    const { code, verifier } = await codeFor([['resource', resource]])
    const t = await exchange(code, verifier)
    const refresh = (extra: Record<string, string>) =>
      form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: app, ...extra })
    const wrong = await refresh({ resource: svc.config.audiences[0]! })
    assert.equal(wrong.status, 400)
    assert.equal(wrong.body.error, 'invalid_target')
    assert.equal((await refresh({ resource: OTHER })).body.error, 'invalid_target')
    const ok = await refresh({ resource })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(decodeJwt(ok.body.access_token).payload.aud, resource)
  })

  it('client_credentials: aud = resource; not one of AUDIENCES or repeated → invalid_target', async () => {
    const assertion = () => clientAssertion({ clientId: machine, key: keys.privateKey, kid: 'k1', aud: svc.config.issuer })
    const base = async () => ({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: await assertion() })
    const ok = await form(svc.url, '/api/oauth2/token', { ...(await base()), resource })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(decodeJwt(ok.body.access_token).payload.aud, resource)
    const bad = await form(svc.url, '/api/oauth2/token', { ...(await base()), resource: OTHER })
    assert.equal(bad.body.error, 'invalid_target')
    const body = new URLSearchParams({ ...(await base()), resource })
    body.append('resource', 'api://default')
    const twice = await fetch(`${svc.url}/api/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    assert.equal(twice.status, 400)
    assert.equal(((await twice.json()) as { error: string }).error, 'invalid_target')
  })
})
