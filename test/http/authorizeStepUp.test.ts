/**
 * CONTRACT v2 "Step-up authentication": GET /api/oauth2/authorize honours `max_age`,
 * `prompt=login` and `acr_values` (OIDC Core §3.1.2.1, RFC 9470 §4), over HTTP against a real
 * Azurite with the controllable clock: the parameters are validated (errors redirected with
 * `state`), every sign-in is a fresh passkey assertion whose time is the tokens' `auth_time`, the
 * ID token carries `auth_time` and `acr`, and a passkey that reaches none of the `acr_values` is
 * refused before any session exists. In its own file: attestation roots are process-wide.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../shared/util/clock.js'
import { getTestAttestationRootPem, SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { adminToken, hostedSignIn, openAuthorize, passkeyStep, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
let app: string
const REDIRECT = 'https://app.example/callback'
/** A synced passkey (acr phr) and a device-bound one with trusted attestation (acr phrh). */
const synced = new SoftAuthenticator({ backupEligible: true })
const key = new SoftAuthenticator({ attestation: 'packed-full' })
let syncedUser: { id: string; token: string }

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

function authorizeUrl(params: Record<string, string>, challenge: string): string {
  const q = new URLSearchParams({ client_id: app, redirect_uri: REDIRECT, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', scope: 'openid', state: 'st-1', ...params })
  return `${svc.url}/api/oauth2/authorize?${q}`
}

/** The redirect of a refused request: error, description, state. */
async function refused(params: Record<string, string>) {
  const page = await openAuthorize(authorizeUrl(params, pkce().challenge))
  assert.equal(page.status, 302, JSON.stringify(params))
  const to = new URL(page.headers.get('location')!)
  assert.equal(`${to.origin}${to.pathname}`, REDIRECT)
  assert.equal(to.searchParams.get('state'), 'st-1')
  return { error: to.searchParams.get('error'), description: to.searchParams.get('error_description') ?? '' }
}

/** Hosted sign-in with `auth`, then the code exchange: the token response. */
async function signInThroughApp(params: Record<string, string>, auth: SoftAuthenticator) {
  const { verifier, challenge } = pkce()
  const callback = await hostedSignIn(svc.url, authorizeUrl(params, challenge), auth)
  const code = callback.searchParams.get('code')
  assert.ok(code, callback.toString())
  const r = await form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: app, code_verifier: verifier })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body as { access_token: string; id_token: string }
}

before(async () => {
  azurite = await startAzurite()
  svc = await startService({
    connectionString: azurite.connectionString,
    clock,
    port: await freePort(),
    env: { BOOTSTRAP_ADMINS: 'root-admin', ATTESTATION: 'direct', ATTESTATION_ROOTS: await getTestAttestationRootPem() },
  })
  const admin = await adminToken(svc.url, new SoftAuthenticator(), 'root-admin')
  app = (await registerClient(svc.url, admin, { name: 'Step-up app', redirect_uris: [REDIRECT] })).client_id
  const up = await signUp(svc.url, synced, `synced${process.pid}`)
  syncedUser = { id: up.user.id, token: up.tokens.access_token }
  assert.equal(decodeJwt(up.tokens.access_token).payload.acr, 'phr')
  assert.equal(decodeJwt((await signUp(svc.url, key, `key${process.pid}`)).tokens.access_token).payload.acr, 'phrh')
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('OIDC Core §3.1.2.1 max_age and prompt=login', () => {
  it('max_age=0 and prompt=login: a fresh passkey assertion; auth_time is its time, in the ID token with acr', async () => {
    const firstSignIn = decodeJwt(syncedUser.token).payload.auth_time as number
    clock.advance(120_000)
    const requested = Math.floor(clock.now() / 1000)
    for (const params of [{ max_age: '0' }, { prompt: 'login' }, { max_age: '60', prompt: 'login consent' }] as Record<string, string>[]) {
      const t = await signInThroughApp(params, synced)
      const id = decodeJwt(t.id_token).payload
      assert.ok(typeof id.auth_time === 'number' && id.auth_time >= requested && id.auth_time > firstSignIn, `${JSON.stringify(params)}: auth_time ${id.auth_time}`)
      assert.equal(id.acr, 'phr')
      assert.equal(decodeJwt(t.access_token).payload.auth_time, id.auth_time)
    }
  })

  it('prompt=login is never met by an existing sign-in: the page asks for the passkey even with a live token', async () => {
    const res = await fetch(authorizeUrl({ prompt: 'login', max_age: '0' }, pkce().challenge), { redirect: 'manual', headers: bearer(syncedUser.token) })
    assert.equal(res.status, 200, 'the passkey page, not a redirect with a code')
    assert.match(await res.text(), /<meta name="authorization-request" content="[^"]+">/)
  })

  it('max_age must be a non-negative integer → invalid_request, redirected with state', async () => {
    for (const max_age of ['-1', 'abc', '1.5', ' 5', '1e3', '12345678901']) {
      const r = await refused({ max_age })
      assert.equal(r.error, 'invalid_request', max_age)
      assert.match(r.description, /max_age/)
    }
  })
})

describe('RFC 9470 §4 acr_values at the authorization endpoint', () => {
  it('names no acr we issue, or too many values → invalid_request; unknown values beside a known one are dropped', async () => {
    assert.match((await refused({ acr_values: 'urn:gold' })).description, /acr_values/)
    assert.equal((await refused({ acr_values: Array.from({ length: 9 }, (_, i) => `v${i}`).join(' ') })).error, 'invalid_request')
    const t = await signInThroughApp({ acr_values: 'urn:gold phr' }, synced)
    assert.equal(decodeJwt(t.id_token).payload.acr, 'phr')
  })

  it('acr_values=phrh: a synced passkey (phr) is refused with insufficient_user_authentication and no session; a device-bound attested one passes', async () => {
    const page = await openAuthorize(authorizeUrl({ acr_values: 'phrh', max_age: '0' }, pkce().challenge))
    assert.equal(page.status, 200)
    const sessionsBefore = (await call(svc.url, 'GET', '/api/me/sessions', undefined, bearer(syncedUser.token))).body.length
    const weak = await passkeyStep(svc.url, page.handle!, synced)
    assert.equal(weak.status, 401)
    assert.equal(weak.body.code, 'insufficient_user_authentication')
    assert.match(weak.body.detail, /phrh/)
    const sessionsAfter = (await call(svc.url, 'GET', '/api/me/sessions', undefined, bearer(syncedUser.token))).body.length
    assert.equal(sessionsAfter, sessionsBefore, 'no session was made for the refused sign-in')
    // The same page, with the security key: the code, and tokens of acr phrh.
    const strong = await signInThroughApp({ acr_values: 'phrh' }, key)
    assert.equal(decodeJwt(strong.id_token).payload.acr, 'phrh')
    assert.equal(decodeJwt(strong.access_token).payload.acr, 'phrh')
    // phrh satisfies a request for phr.
    assert.equal(decodeJwt((await signInThroughApp({ acr_values: 'phr' }, key)).id_token).payload.acr, 'phrh')
  })
})
