/**
 * Authorization code + PKCE with the hosted passkey page (RFC 6749 §4.1, RFC 7636, OIDC Core
 * §3.1), end to end over HTTP against a real Azurite: first with the off-the-shelf `openid-client`
 * (discovery, authorization URL, code grant, refresh, revocation), the page's HTTP calls driven by
 * the software authenticator; then the error cases of the authorization and token endpoints.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import * as oidc from 'openid-client'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post, signIn, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { adminToken, hostedSignIn, openAuthorize, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
const alice = new SoftAuthenticator()
let aliceId: string
let aliceFirstParty: string
let admin: string
let portal: string
/** What the APIM developer portal registers: /signin-oauth/code/callback/{serverName}. */
const PORTAL_CALLBACK = 'https://contoso.developer.azure-api.net/signin-oauth/code/callback/passkey-edge'

before(async () => {
  azurite = await startAzurite()
  // A fixed port, so that the issuer in discovery (http://localhost:<port>/api) reaches this server.
  svc = await startService({ connectionString: azurite.connectionString, port: await freePort(), env: { BOOTSTRAP_ADMINS: 'root-admin' } })
  admin = await adminToken(svc.url, new SoftAuthenticator(), 'root-admin')
  const up = await signUp(svc.url, alice, 'alice')
  aliceId = up.user.id
  aliceFirstParty = up.tokens.access_token
  // alice is an administrator: a third-party app's token for her must still not administer.
  assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${aliceId}/roles/admin`, undefined, bearer(admin))).status, 200)
  portal = (await registerClient(svc.url, admin, { name: 'Developer portal', redirect_uris: [PORTAL_CALLBACK, 'http://127.0.0.1/callback'] })).client_id
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

function authorizeUrl(base: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v)
  return `${base}/api/oauth2/authorize?${q}`
}

describe('openid-client: discovery → authorization code + PKCE (passkey) → refresh → revocation', () => {
  it('signs in through the hosted page and uses the tokens', async () => {
    const config = await oidc.discovery(new URL(svc.config.issuer), portal, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] })
    const meta = config.serverMetadata()
    assert.equal(meta.issuer, svc.config.issuer)
    assert.ok(meta.supportsPKCE('S256'))

    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const nonce = oidc.randomNonce()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: PORTAL_CALLBACK,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    assert.equal(`${url.origin}${url.pathname}`, meta.authorization_endpoint)
    const callback = await hostedSignIn(svc.url, url, alice)
    assert.equal(`${callback.origin}${callback.pathname}`, PORTAL_CALLBACK)
    assert.equal(callback.searchParams.get('state'), state)
    assert.equal(callback.searchParams.get('iss'), svc.config.issuer, 'RFC 9207')

    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    })
    assert.equal(tokens.token_type.toLowerCase(), 'bearer')
    assert.ok(tokens.refresh_token)
    // OIDC Core §3.1.3.6 / §2: the ID token's claims, all of them in claims_supported.
    const claims = tokens.claims()!
    assert.equal(claims.iss, svc.config.issuer)
    assert.equal(claims.sub, aliceId)
    assert.equal(claims.aud, portal)
    assert.equal(claims.nonce, nonce)
    for (const k of ['exp', 'iat', 'auth_time', 'amr', 'acr', 'at_hash', 'sid']) assert.ok(claims[k] !== undefined, k)
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa'])
    for (const k of Object.keys(claims)) assert.ok((meta.claims_supported as string[]).includes(k), `claims_supported lists ${k}`)
    // ID token signature against the published JWKS; at_hash = left half of SHA-256(access token).
    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri!))
    await jwtVerify(tokens.id_token!, jwks, { issuer: svc.config.issuer, audience: portal })
    const digest = createHash('sha256').update(tokens.access_token).digest()
    assert.equal(claims.at_hash, digest.subarray(0, 16).toString('base64url'))
    // The access token is the RFC 9068 token of the contract, issued to the portal for alice.
    const at = decodeJwt(tokens.access_token).payload
    assert.equal(at.sub, aliceId)
    assert.equal(at.client_id, portal)
    assert.equal(at.scope, 'openid profile')
    assert.equal(at.sid, claims.sid)
    // A third-party app's token is for APIs behind the gateway, not for managing the account:
    // with it an app could plant its own passkey (account takeover) or use the user's admin role.
    for (const [method, path, body] of [
      ['GET', '/api/me', undefined],
      ['GET', '/api/me/credentials', undefined],
      ['POST', '/api/webauthn/registration/options', {}],
      ['GET', '/api/manage/roles', undefined],
    ] as const) {
      const r = await call(svc.url, method, path, body, bearer(tokens.access_token))
      assert.equal(r.status, 403, `${method} ${path}`)
    }
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(aliceFirstParty))).body.username, 'alice')
    assert.equal((await call(svc.url, 'GET', '/api/manage/roles', undefined, bearer(aliceFirstParty))).status, 200)

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!)
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token)
    assert.equal(decodeJwt(refreshed.access_token).payload.sid, at.sid)

    await oidc.tokenRevocation(config, refreshed.refresh_token!)
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!), (e: any) => e.error === 'invalid_grant')
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(refreshed.access_token))).status, 401)
  })
})

describe('GET /api/oauth2/authorize: the hosted passkey page', () => {
  const { challenge } = pkce()
  const good = (extra: Record<string, string> = {}) =>
    authorizeUrl(svc.url, { client_id: portal, redirect_uri: PORTAL_CALLBACK, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', state: 'xyz', ...extra })

  it('is usernameless first with autofill, under a strict CSP with our own script only', async () => {
    const page = await openAuthorize(good({ login_hint: 'alice' }))
    assert.equal(page.status, 200)
    const csp = page.headers.get('content-security-policy')!
    assert.match(csp, /script-src 'self'(;|$)/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.match(csp, /default-src 'none'/)
    assert.equal(page.headers.get('cache-control'), 'no-store')
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer')
    assert.match(page.html, /autocomplete="username webauthn"/)
    assert.match(page.html, /value="alice"/)
    assert.match(page.html, /<script src="authorize\/app\.js" defer><\/script>/)
    assert.doesNotMatch(page.html, /<script>/, 'no inline script')
    assert.match(page.html, /Developer portal/)
    const js = await fetch(`${svc.url}/api/oauth2/authorize/app.js`)
    assert.equal(js.status, 200)
    assert.match(js.headers.get('content-type')!, /^text\/javascript/)
    const src = await js.text()
    assert.match(src, /isConditionalMediationAvailable/)
    assert.match(src, /mediation: conditional \? ["']conditional["']/, 'esbuild prints strings in double quotes')
    assert.match(src, /authorize\/options/)
    assert.match(src, /authorize\/complete/)
  })

  it('cancel goes back with access_denied, state and iss', async () => {
    const page = await openAuthorize(good())
    const cancel = new URL(/<a id="cancel" href="([^"]+)"/.exec(page.html)![1]!.replace(/&amp;/g, '&'))
    assert.equal(`${cancel.origin}${cancel.pathname}`, PORTAL_CALLBACK)
    assert.equal(cancel.searchParams.get('error'), 'access_denied')
    assert.equal(cancel.searchParams.get('state'), 'xyz')
    assert.equal(cancel.searchParams.get('iss'), svc.config.issuer)
  })

  it('redirect URIs match exactly (CONTRACT), loopback ones too: another port is an error page', async () => {
    assert.equal((await openAuthorize(good({ redirect_uri: 'http://127.0.0.1/callback' }))).status, 200)
    const page = await openAuthorize(good({ redirect_uri: 'http://127.0.0.1:49152/callback' }))
    assert.equal(page.status, 400)
    assert.equal(page.headers.get('location'), null)
  })

  it('a username asks for that account\'s passkeys; an assertion for another request is refused', async () => {
    const page = await openAuthorize(good())
    const o = await post(svc.url, '/api/oauth2/authorize/options', { request: page.handle, username: 'alice' })
    assert.equal(o.status, 200)
    assert.deepEqual(o.body.options.allowCredentials.map((c: any) => c.id), [alice.credentials()[0]!.id])
    // An assertion over a challenge of the first-party sign-in is not this request's.
    const other = await post(svc.url, '/api/webauthn/authentication/options', {})
    const credential = await alice.getAssertion(other.body, { origin: 'http://localhost:7071' })
    const r = await post(svc.url, '/api/oauth2/authorize/complete', { request: o.body.request, credential })
    assert.equal(r.status, 400)
    assert.equal(r.body.code, 'challenge_unknown')
    // The page's own (unbound) handle, or a forged one, is not accepted by complete.
    const unbound = await post(svc.url, '/api/oauth2/authorize/complete', { request: page.handle, credential })
    assert.equal(unbound.body.code, 'invalid_request')
    const forged = await post(svc.url, '/api/oauth2/authorize/options', { request: page.handle!.slice(0, -4) + 'AAAA' })
    assert.equal(forged.status, 400)
    assert.equal(forged.body.code, 'invalid_request')
  })
})

describe('RFC 6749 §4.1.2.1: authorization errors', () => {
  const { challenge } = pkce()
  const base = { client_id: undefined as string | undefined, redirect_uri: PORTAL_CALLBACK, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', state: 'st8' }

  it('unknown client or unregistered redirect URI → an error page, never a redirect', async () => {
    const cases: Record<string, string | undefined>[] = [
      { ...base, client_id: 'AAAAAAAAAAAAAAAAAAAAAA' },
      { ...base, client_id: undefined },
      { ...base, client_id: portal, redirect_uri: 'https://evil.example/cb' },
      { ...base, client_id: portal, redirect_uri: `${PORTAL_CALLBACK}/` },
      { ...base, client_id: portal, redirect_uri: PORTAL_CALLBACK.replace('https:', 'http:') },
      { ...base, client_id: portal, redirect_uri: undefined },
    ]
    for (const params of cases) {
      const page = await openAuthorize(authorizeUrl(svc.url, params))
      assert.equal(page.status, 400, JSON.stringify(params))
      assert.equal(page.headers.get('location'), null)
      assert.match(page.headers.get('content-type')!, /^text\/html/)
      assert.match(page.html, /not valid/)
    }
    // A repeated client_id or redirect_uri cannot be trusted either.
    const twice = await openAuthorize(authorizeUrl(svc.url, { ...base, client_id: portal }) + `&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`)
    assert.equal(twice.status, 400)
    assert.equal(twice.headers.get('location'), null)
  })

  it('bad PKCE, response_type, prompt=none → redirect with error, error_description, state, iss', async () => {
    const cases: [Record<string, string | undefined>, string][] = [
      [{ code_challenge: undefined }, 'invalid_request'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge_method: undefined }, 'invalid_request'],
      [{ code_challenge: 'short' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ response_type: undefined }, 'invalid_request'],
      [{ prompt: 'none' }, 'login_required'],
      [{ scope: 'bad"scope' }, 'invalid_scope'],
    ]
    for (const [extra, error] of cases) {
      const res = await fetch(authorizeUrl(svc.url, { ...base, client_id: portal, ...extra }), { redirect: 'manual' })
      assert.equal(res.status, 302, JSON.stringify(extra))
      const to = new URL(res.headers.get('location')!)
      assert.equal(`${to.origin}${to.pathname}`, PORTAL_CALLBACK)
      assert.equal(to.searchParams.get('error'), error, JSON.stringify(extra))
      assert.ok(to.searchParams.get('error_description'))
      assert.equal(to.searchParams.get('state'), 'st8')
      assert.equal(to.searchParams.get('iss'), svc.config.issuer)
      assert.equal(to.searchParams.get('code'), null)
    }
  })
})

describe('authorization_code grant: RFC 6749 §4.1.3, RFC 7636 §4.6 (ManualClock)', () => {
  const clock = new ManualClock(Date.now())
  let timed: TestService
  const bob = new SoftAuthenticator()
  let app1: string
  let app2: string
  const cb = 'https://app.example/cb'

  before(async () => {
    timed = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'boss' } })
    const boss = await adminToken(timed.url, new SoftAuthenticator(), 'boss')
    await signUp(timed.url, bob, 'bob')
    app1 = (await registerClient(timed.url, boss, { name: 'one', redirect_uris: [cb] })).client_id
    app2 = (await registerClient(timed.url, boss, { name: 'two', redirect_uris: [cb] })).client_id
  })
  after(() => timed?.close())

  async function code(clientId = app1) {
    const p = pkce()
    const to = await hostedSignIn(
      timed.url,
      authorizeUrl(timed.url, { client_id: clientId, redirect_uri: cb, response_type: 'code', code_challenge: p.challenge, code_challenge_method: 'S256', scope: 'openid' }),
      bob,
    )
    return { code: to.searchParams.get('code')!, verifier: p.verifier }
  }
  const exchange = (params: Record<string, string>) => form(timed.url, '/api/oauth2/token', { grant_type: 'authorization_code', redirect_uri: cb, client_id: app1, ...params })

  it('a code used twice → invalid_grant, and the session it produced is revoked', async () => {
    const c = await code()
    const first = await exchange({ code: c.code, code_verifier: c.verifier })
    assert.equal(first.status, 200, JSON.stringify(first.body))
    assert.ok(first.body.id_token && first.body.refresh_token)
    const second = await exchange({ code: c.code, code_verifier: c.verifier })
    assert.equal(second.status, 400)
    assert.equal(second.body.error, 'invalid_grant')
    assert.equal((await call(timed.url, 'GET', '/api/me', undefined, bearer(first.body.access_token))).status, 401)
    const refresh = await form(timed.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: app1 })
    assert.equal(refresh.body.error, 'invalid_grant')
  })

  it('an app\'s refresh token needs that app\'s client_id (RFC 6749 §6); the first-party page may omit it', async () => {
    const c = await code()
    const t = (await exchange({ code: c.code, code_verifier: c.verifier })).body
    for (const extra of [{}, { client_id: app2 }] as Record<string, string>[]) {
      const r = await form(timed.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token, ...extra })
      assert.equal(r.body.error, 'invalid_grant', JSON.stringify(extra))
    }
    const ok = await form(timed.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: app1 })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
  })

  it('wrong or missing code_verifier → invalid_grant (the code is not spent by a failed check)', async () => {
    const c = await code()
    for (const code_verifier of [pkce().verifier, 'x'.repeat(43), undefined]) {
      const r = await exchange({ code: c.code, ...(code_verifier ? { code_verifier } : {}) })
      assert.equal(r.status, 400)
      assert.equal(r.body.error, 'invalid_grant')
    }
    assert.equal((await exchange({ code: c.code, code_verifier: c.verifier })).status, 200)
  })

  it('wrong redirect_uri or another client → invalid_grant; no client_id → invalid_request; unknown → invalid_client', async () => {
    const c = await code()
    assert.equal((await exchange({ code: c.code, code_verifier: c.verifier, redirect_uri: 'https://app.example/other' })).body.error, 'invalid_grant')
    assert.equal((await exchange({ code: c.code, code_verifier: c.verifier, client_id: app2 })).body.error, 'invalid_grant')
    const noClient = await form(timed.url, '/api/oauth2/token', { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: cb })
    assert.equal(noClient.body.error, 'invalid_request')
    const unknown = await exchange({ code: c.code, code_verifier: c.verifier, client_id: 'AAAAAAAAAAAAAAAAAAAAAA' })
    assert.equal(unknown.status, 401)
    assert.equal(unknown.body.error, 'invalid_client')
    assert.equal((await exchange({ code: 'garbage', code_verifier: c.verifier })).body.error, 'invalid_grant')
    assert.equal((await exchange({ code: c.code, code_verifier: c.verifier })).status, 200)
  })

  it('a code older than 60 s → invalid_grant', async () => {
    const c = await code()
    clock.advance(61_000)
    const r = await exchange({ code: c.code, code_verifier: c.verifier })
    assert.equal(r.status, 400)
    assert.equal(r.body.error, 'invalid_grant')
    assert.match(r.body.error_description, /expired/)
  })

  it('the first-party sign-in and its revocation without client_id keep working', async () => {
    const s = await signIn(timed.url, bob)
    assert.equal(s.status, 200)
    assert.equal(decodeJwt(s.body.access_token).payload.client_id, 'passkey-web')
    assert.equal((await form(timed.url, '/api/oauth2/revoke', { token: s.body.refresh_token, token_type_hint: 'refresh_token' })).status, 200)
    assert.equal((await call(timed.url, 'GET', '/api/me', undefined, bearer(s.body.access_token))).status, 401)
  })

  it('a public client revokes its own tokens, not another client\'s', async () => {
    const c = await code()
    const t = (await exchange({ code: c.code, code_verifier: c.verifier })).body
    const foreign = await form(timed.url, '/api/oauth2/revoke', { token: t.refresh_token, client_id: app2 })
    assert.equal(foreign.status, 400)
    assert.equal(foreign.body.error, 'invalid_request')
    const firstParty = await form(timed.url, '/api/oauth2/revoke', { token: t.access_token })
    assert.equal(firstParty.status, 400, 'without client_id the caller is the first-party page')
    // Liveness of the app's token as the authorizer sees it (403: valid but no role; 401: revoked).
    const live = async () => (await post(timed.url, '/api/authz/check', { method: 'GET', path: '/x' }, bearer(t.access_token))).body.status
    assert.equal(await live(), 403)
    assert.equal((await form(timed.url, '/api/oauth2/revoke', { token: t.access_token, client_id: app1 })).status, 200)
    assert.equal(await live(), 401)
    assert.equal((await form(timed.url, '/api/oauth2/revoke', { token: 'not-a-token', client_id: app1 })).status, 200, 'RFC 7009 §2.2')
  })

  it('a sign-in request past its lifetime (15 min) → invalid_request', async () => {
    const page = await openAuthorize(authorizeUrl(timed.url, { client_id: app1, redirect_uri: cb, response_type: 'code', code_challenge: pkce().challenge, code_challenge_method: 'S256' }))
    clock.advance(16 * 60_000)
    const o = await post(timed.url, '/api/oauth2/authorize/options', { request: page.handle })
    assert.equal(o.status, 400)
    assert.equal(o.body.code, 'invalid_request')
  })
})
