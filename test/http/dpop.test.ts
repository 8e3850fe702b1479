/**
 * CONTRACT v2 "DPoP" (RFC 9449) over HTTP against a real Azurite: issuing bound tokens at the
 * WebAuthn sign-in, sign-up and every grant; refresh tokens bound to the key (§5); each proof
 * check of §4.3 (every test here fails if its check is removed); the authorizer's refusals (§7)
 * and `ttl: 0`; our own bearer middleware (§7); introspection (§6.2); server nonces (§8, §9).
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { exportJWK } from 'jose'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post } from '../helpers/client.js'
import { DPoPKey, type ProofOptions } from '../helpers/dpop.js'
import { keyPair } from '../helpers/keys.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'
import { JWT_BEARER, adminToken, clientAssertion, hostedSignIn, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
let admin: string
let n = 0
const uniq = (p = 'dp') => `${p}${process.pid}n${++n}`
const API = 'https://api.example.com/orders/42'
const now = () => Math.floor(Date.now() / 1000)

const tokenUrl = () => `${svc.config.issuer}/oauth2/token`
const verifyUrl = () => `${svc.config.issuer}/webauthn/authentication/verify`

/** Sign-up, then a passkey sign-in whose verify carries a proof by `key` (or none). */
async function signedIn(key: DPoPKey | undefined, on = svc) {
  const auth = new SoftAuthenticator()
  const username = uniq()
  const o = await post(on.url, '/api/webauthn/registration/options', { username })
  const v = await post(on.url, '/api/webauthn/registration/verify', { credential: await auth.createCredential(o.body, { origin: ORIGIN }) })
  assert.equal(v.status, 201, JSON.stringify(v.body))
  const r = await verifyWith(auth, key ? { dpop: await key.proof({ htm: 'POST', htu: `${on.config.issuer}/webauthn/authentication/verify` }) } : {}, on)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return { auth, id: v.body.user.id as string, access: r.body.access_token as string, refresh: r.body.refresh_token as string, body: r.body }
}

async function verifyWith(auth: SoftAuthenticator, headers: Record<string, string>, on = svc) {
  const o = await post(on.url, '/api/webauthn/authentication/options', {})
  const credential = await auth.getAssertion(o.body, { origin: ORIGIN } as never)
  return post(on.url, '/api/webauthn/authentication/verify', { credential }, headers)
}

/** POST /api/authz/check as the gateway forwards a DPoP call. */
async function check(token: string, proof: string | undefined, opts: { scheme?: string; url?: string; method?: string; path?: string } = {}, on = svc) {
  const body: Record<string, unknown> = { method: opts.method ?? 'GET', path: opts.path ?? '/orders/42', url: opts.url ?? API }
  if (proof !== undefined) body.dpop = proof
  return post(on.url, '/api/authz/check', body, { authorization: `${opts.scheme ?? 'DPoP'} ${token}` })
}

const refresh = (refreshToken: string, headers: Record<string, string> = {}) =>
  form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, headers)

/** Proofs that are no compact JWS, or whose segments do not decode (base64url length ≡ 1 mod 4). */
const malformed = (h: string, b: string, sig: string) => [
  `${h}.${b}.A`,
  `${h}.${b}.${sig}A`,
  `${h}.${b}A.${sig}`,
  `${h}A.${b}.${sig}`,
  `${h}.${b}.`,
  `..`,
  `A.A.A`,
  `${h}.${b}.${sig.slice(0, 10)}`,
  `${Buffer.from('not json').toString('base64url')}.${b}.${sig}`,
  `${h}.${Buffer.from('[1]').toString('base64url')}.${sig}`,
  `${h}.${b}.${sig}.${sig}`,
]

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, port: await freePort(), env: { BOOTSTRAP_ADMINS: 'dpop-admin' } })
  admin = await adminToken(svc.url, new SoftAuthenticator(), 'dpop-admin')
  const r = await call(svc.url, 'PUT', '/api/manage/roles/reader', { permissions: [{ methods: ['GET'], path: '/orders/**' }] }, bearer(admin))
  assert.equal(r.status, 200)
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

async function reader(key: DPoPKey | undefined) {
  const u = await signedIn(key)
  assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${u.id}/roles/reader`, undefined, bearer(admin))).status, 200)
  return u
}

describe('Issuing DPoP-bound tokens (RFC 9449 §5)', () => {
  it('authentication/verify with a proof: token_type DPoP, cnf.jkt the key thumbprint; without one: Bearer, no cnf', async () => {
    const key = await DPoPKey.generate()
    const bound = await signedIn(key)
    assert.equal(bound.body.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(bound.access).payload.cnf, { jkt: key.jkt })
    const plain = await signedIn(undefined)
    assert.equal(plain.body.token_type, 'Bearer')
    assert.equal(decodeJwt(plain.access).payload.cnf, undefined)
  })

  it('sign-up (registration/verify) with a proof binds the first session', async () => {
    const key = await DPoPKey.generate()
    const auth = new SoftAuthenticator()
    const o = await post(svc.url, '/api/webauthn/registration/options', { username: uniq() })
    const credential = await auth.createCredential(o.body, { origin: ORIGIN })
    const dpop = await key.proof({ htm: 'POST', htu: `${svc.config.issuer}/webauthn/registration/verify` })
    const v = await post(svc.url, '/api/webauthn/registration/verify', { credential }, { dpop })
    assert.equal(v.status, 201, JSON.stringify(v.body))
    assert.equal(v.body.tokens.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(v.body.tokens.access_token).payload.cnf, { jkt: key.jkt })
  })

  it('a bad proof at authentication/verify → 400 problem invalid_dpop_proof, and the challenge is not used up', async () => {
    const key = await DPoPKey.generate()
    const u = await signedIn(undefined)
    const o = await post(svc.url, '/api/webauthn/authentication/options', {})
    const credential = await u.auth.getAssertion(o.body, { origin: ORIGIN } as never)
    const bad = await post(svc.url, '/api/webauthn/authentication/verify', { credential }, { dpop: await key.proof({ htm: 'GET', htu: verifyUrl() }) })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'invalid_dpop_proof')
    assert.match(bad.headers.get('content-type') ?? '', /problem\+json/)
    const good = await post(svc.url, '/api/webauthn/authentication/verify', { credential }, { dpop: await key.proof({ htm: 'POST', htu: verifyUrl() }) })
    assert.equal(good.status, 200, JSON.stringify(good.body))
  })

  it('a bad proof at the token endpoint → 400 RFC 6749 JSON invalid_dpop_proof', async () => {
    const key = await DPoPKey.generate()
    const u = await signedIn(key)
    const r = await refresh(u.refresh, { dpop: await key.proof({ htm: 'POST', htu: `${svc.config.issuer}/oauth2/other` }) })
    assert.equal(r.status, 400)
    assert.equal(r.body.error, 'invalid_dpop_proof')
    assert.equal(typeof r.body.error_description, 'string')
  })

  it('malformed proofs at the token endpoint and authentication/verify (e.g. a signature segment `A`) → 400 invalid_dpop_proof, never a 5xx', async () => {
    const key = await DPoPKey.generate()
    const u = await signedIn(key)
    const [h, b, sig] = (await key.proof({ htm: 'POST', htu: tokenUrl() })).split('.') as [string, string, string]
    for (const bad of malformed(h, b, sig)) {
      const r = await refresh(u.refresh, { dpop: bad })
      assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.body)}`)
      assert.equal(r.body.error, 'invalid_dpop_proof', bad)
    }
    const v = await verifyWith(u.auth, { dpop: `${h}.${b}.A` })
    assert.equal(v.status, 400, JSON.stringify(v.body))
    assert.equal(v.body.code, 'invalid_dpop_proof')
    const me = await call(svc.url, 'GET', '/api/me', undefined, { authorization: `DPoP ${u.access}`, dpop: `${h}.${b}.A` })
    assert.equal(me.status, 401)
    assert.match(me.headers.get('www-authenticate') ?? '', /^DPoP error="invalid_dpop_proof"/)
  })

  it('the token endpoint checks the proof after client authentication: a failed client authentication does not use up the proof (nor fill the replay cache)', async () => {
    const key = await DPoPKey.generate()
    const u = await signedIn(key)
    const p = await key.proof({ htm: 'POST', htu: tokenUrl() })
    const bad = await form(svc.url, '/api/oauth2/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: 'not.an.assertion' }, { dpop: p })
    assert.equal(bad.status, 401, JSON.stringify(bad.body))
    assert.equal(bad.body.error, 'invalid_client')
    const ok = await refresh(u.refresh, { dpop: p })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
  })

  it('discovery lists dpop_signing_alg_values_supported', async () => {
    const d = await call(svc.url, 'GET', '/api/.well-known/openid-configuration')
    assert.deepEqual(d.body.dpop_signing_alg_values_supported, ['ES256', 'PS256', 'RS256', 'EdDSA'])
  })

  for (const alg of ['ES256', 'PS256', 'RS256', 'EdDSA'] as const)
    it(`a proof signed with ${alg} (advertised) is accepted`, async () => {
      const key = await DPoPKey.generate(alg)
      const u = await signedIn(key)
      assert.deepEqual(decodeJwt(u.access).payload.cnf, { jkt: key.jkt })
    })
})

describe('Refresh tokens bound to the key (RFC 9449 §5)', () => {
  it('a bound refresh token: without a proof → invalid_dpop_proof; by another key → invalid_dpop_proof; by its key → new bound tokens', async () => {
    const key = await DPoPKey.generate()
    const u = await signedIn(key)
    const none = await refresh(u.refresh)
    assert.equal(none.status, 400)
    assert.equal(none.body.error, 'invalid_dpop_proof')
    const other = await DPoPKey.generate()
    const wrong = await refresh(u.refresh, { dpop: await other.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(wrong.status, 400)
    assert.equal(wrong.body.error, 'invalid_dpop_proof')
    // Neither attempt rotated (or revoked) anything: the rightful holder still refreshes.
    const ok = await refresh(u.refresh, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(ok.body.access_token).payload.cnf, { jkt: key.jkt })
  })

  it('an old rotated-out refresh token of a bound session without a proof (or by another key) → invalid_dpop_proof, nothing revoked; by the key → reuse revokes the session', async () => {
    const key = await DPoPKey.generate()
    const u = await signedIn(key)
    const rotated = await refresh(u.refresh, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body))
    // A thief with the old token but not the key: refused for the proof, before reuse detection.
    const stolen = await refresh(u.refresh)
    assert.equal(stolen.status, 400)
    assert.equal(stolen.body.error, 'invalid_dpop_proof', JSON.stringify(stolen.body))
    const other = await DPoPKey.generate()
    const wrongKey = await refresh(u.refresh, { dpop: await other.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(wrongKey.body.error, 'invalid_dpop_proof', JSON.stringify(wrongKey.body))
    // The holder's session was not revoked: its current refresh token still works.
    const next = await refresh(rotated.body.refresh_token, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(next.status, 200, JSON.stringify(next.body))
    // The old token with a proof by the key is reuse (RFC 9700 §4.14.2): the session is revoked.
    const reuse = await refresh(u.refresh, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(reuse.body.error, 'invalid_grant')
    assert.match(reuse.body.error_description, /already used/)
    const after = await refresh(next.body.refresh_token, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(after.body.error, 'invalid_grant')
    assert.match(after.body.error_description, /revoked/)
  })

  it('an unbound session stays unbound when refreshed with a proof (Bearer, no cnf)', async () => {
    const u = await signedIn(undefined)
    const key = await DPoPKey.generate()
    const r = await refresh(u.refresh, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.token_type, 'Bearer')
    assert.equal(decodeJwt(r.body.access_token).payload.cnf, undefined)
  })

  it('htu of the token endpoint is the issuer-derived public URL (scheme and host case-insensitive, default port dropped)', async () => {
    const key = await DPoPKey.generate()
    const u = await signedIn(key)
    const issuer = new URL(svc.config.issuer)
    const htu = `HTTP://${issuer.host.toUpperCase()}${issuer.pathname}/oauth2/token?x=1#f`
    const r = await refresh(u.refresh, { dpop: await key.proof({ htm: 'POST', htu }) })
    assert.equal(r.status, 200, JSON.stringify(r.body))
  })
})

describe('authorization_code (RFC 9449 §5, §10 dpop_jkt)', () => {
  const CALLBACK = 'https://app.example/cb'
  let app: string
  let person: SoftAuthenticator
  before(async () => {
    app = (await registerClient(svc.url, admin, { name: 'dpop spa', redirect_uris: [CALLBACK] })).client_id
    person = (await signedIn(undefined)).auth
  })
  /** The hosted sign-in for `extra` authorization parameters; the code and its verifier. */
  async function code(extra: Record<string, string> = {}) {
    const verifier = randomBytes(32).toString('base64url')
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    const q = new URLSearchParams({ client_id: app, redirect_uri: CALLBACK, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', scope: 'openid', state: 's', ...extra })
    const back = await hostedSignIn(svc.url, `${svc.url}/api/oauth2/authorize?${q}`, person)
    return { code: back.searchParams.get('code')!, verifier }
  }
  const exchange = (c: { code: string; verifier: string }, headers: Record<string, string> = {}) =>
    form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code: c.code, redirect_uri: CALLBACK, client_id: app, code_verifier: c.verifier }, headers)

  it('a code exchanged with a proof: DPoP tokens, and the refresh token bound to that key', async () => {
    const key = await DPoPKey.generate()
    const r = await exchange(await code(), { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(r.body.access_token).payload.cnf, { jkt: key.jkt })
    const refreshed = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: r.body.refresh_token, client_id: app })
    assert.equal(refreshed.body.error, 'invalid_dpop_proof')
  })

  it('dpop_jkt: the code is exchanged only with a proof by that key (none, or another key → invalid_dpop_proof)', async () => {
    const key = await DPoPKey.generate()
    const other = await DPoPKey.generate()
    const attempts: Record<string, string>[] = [{}, { dpop: await other.proof({ htm: 'POST', htu: tokenUrl() }) }]
    for (const headers of attempts) {
      const r = await exchange(await code({ dpop_jkt: key.jkt }), headers)
      assert.equal(r.status, 400)
      assert.equal(r.body.error, 'invalid_dpop_proof', JSON.stringify(r.body))
    }
    const ok = await exchange(await code({ dpop_jkt: key.jkt }), { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.deepEqual(decodeJwt(ok.body.access_token).payload.cnf, { jkt: key.jkt })
  })

  it('dpop_jkt: a replayed code without the key → invalid_dpop_proof and revokes nothing; replayed with the key → reuse revokes', async () => {
    const key = await DPoPKey.generate()
    const c = await code({ dpop_jkt: key.jkt })
    const ok = await exchange(c, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    const replay = await exchange(c)
    assert.equal(replay.body.error, 'invalid_dpop_proof', JSON.stringify(replay.body))
    const stillOk = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: ok.body.refresh_token, client_id: app }, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(stillOk.status, 200, JSON.stringify(stillOk.body))
    const reuse = await exchange(c, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(reuse.body.error, 'invalid_grant')
    const revoked = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: stillOk.body.refresh_token, client_id: app }, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(revoked.body.error, 'invalid_grant')
  })

  it('dpop_jkt that is not a thumbprint → invalid_request at the authorization endpoint', async () => {
    const verifier = randomBytes(32).toString('base64url')
    const q = new URLSearchParams({ client_id: app, redirect_uri: CALLBACK, response_type: 'code', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', state: 's', dpop_jkt: 'short' })
    const res = await fetch(`${svc.url}/api/oauth2/authorize?${q}`, { redirect: 'manual' })
    assert.equal(res.status, 302)
    assert.equal(new URL(res.headers.get('location')!).searchParams.get('error'), 'invalid_request')
  })
})

describe('Machine clients (client_credentials) and introspection (RFC 9449 §6.2)', () => {
  it('client_credentials with a proof: a DPoP token; introspection says token_type DPoP with cnf', async () => {
    const keys = keyPair('ec', { namedCurve: 'P-256' })
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
    const client = (await registerClient(svc.url, admin, { name: 'dpop job', jwks: { keys: [jwk] }, roles: ['reader'] })).client_id
    const assertion = () => clientAssertion({ clientId: client, key: keys.privateKey, kid: 'k1', aud: svc.config.issuer })
    const key = await DPoPKey.generate()
    const r = await form(svc.url, '/api/oauth2/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: await assertion() }, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(r.body.access_token).payload.cnf, { jkt: key.jkt })
    const i = await form(svc.url, '/api/oauth2/introspect', { token: r.body.access_token, client_assertion_type: JWT_BEARER, client_assertion: await assertion() })
    assert.equal(i.status, 200, JSON.stringify(i.body))
    assert.equal(i.body.active, true)
    assert.equal(i.body.token_type, 'DPoP')
    assert.deepEqual(i.body.cnf, { jkt: key.jkt })
    // At the authorizer it needs its proof like any bound token.
    assert.equal((await check(r.body.access_token, undefined)).body.status, 401)
    const ok = await check(r.body.access_token, await key.proof({ htm: 'GET', htu: API, accessToken: r.body.access_token }))
    assert.equal(ok.body.allow, true, JSON.stringify(ok.body))
  })
})

describe('Proof checks at the authorizer (RFC 9449 §4.3, §7; CONTRACT v2 "DPoP")', () => {
  let key: DPoPKey
  let u: Awaited<ReturnType<typeof reader>>
  before(async () => {
    key = await DPoPKey.generate()
    u = await reader(key)
  })
  const proof = (o: Partial<ProofOptions> = {}) => key.proof({ htm: 'GET', htu: API, accessToken: u.access, ...o })
  const refusedWith = async (r: { body: any }, why: RegExp) => {
    assert.equal(r.body.allow, false, JSON.stringify(r.body))
    assert.equal(r.body.status, 401)
    assert.equal(r.body.ttl, 0)
    assert.match(r.body.wwwAuthenticate, /^DPoP error="invalid_dpop_proof", error_description="[^"]+", algs="ES256 PS256 RS256 EdDSA"$/)
    assert.match(r.body.reason, why)
  }

  it('a good proof → allow, with ttl 0 (the gateway must not cache it)', async () => {
    const r = await check(u.access, await proof())
    assert.equal(r.body.allow, true, JSON.stringify(r.body))
    assert.equal(r.body.ttl, 0)
  })
  it('no proof → 401', async () => refusedWith(await check(u.access, undefined), /proof is required/))
  it('the bound token sent as Bearer (even with a good proof) → 401', async () =>
    refusedWith(await check(u.access, await proof(), { scheme: 'Bearer' }), /DPoP-bound/))
  it('an unbound token sent with the DPoP scheme → 401 invalid_token', async () => {
    const plain = await reader(undefined)
    const r = await check(plain.access, undefined)
    assert.equal(r.body.status, 401)
    assert.match(r.body.wwwAuthenticate, /^Bearer error="invalid_token"/)
  })
  it('typ other than dpop+jwt → 401', async () => refusedWith(await check(u.access, await proof({ header: { typ: 'JWT' } })), /typ/))
  it('alg not advertised (ES384) → 401', async () => {
    const p = await proof()
    const [h, b] = p.split('.')
    const header = { ...JSON.parse(Buffer.from(h!, 'base64url').toString()), alg: 'ES384' }
    await refusedWith(await check(u.access, `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${b}.${p.split('.')[2]}`), /alg must be one of/)
  })
  it('alg none (unsigned) → 401', async () => {
    const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'none', jwk: key.jwk })).toString('base64url')
    const body = Buffer.from(JSON.stringify({ jti: uniq(), htm: 'GET', htu: API, iat: now() })).toString('base64url')
    await refusedWith(await check(u.access, `${header}.${body}.AAAA`), /alg must be one of/)
  })
  it('a jwk with private members → 401', async () => {
    const withD = { ...key.jwk, d: randomBytes(32).toString('base64url') }
    await refusedWith(await check(u.access, await proof({ header: { jwk: withD } })), /private/)
  })
  it('no jwk → 401', async () => refusedWith(await check(u.access, await proof({ header: { jwk: undefined } })), /jwk/))
  it('a signature that does not verify → 401', async () => {
    const p = await proof()
    const other = await (await DPoPKey.generate()).proof({ htm: 'GET', htu: API, accessToken: u.access })
    await refusedWith(await check(u.access, `${p.split('.').slice(0, 2).join('.')}.${other.split('.')[2]}`), /signature/)
  })
  it('htm other than the method → 401', async () => refusedWith(await check(u.access, await proof({ htm: 'POST' })), /htm/))
  it('htu of another host or path → 401; the same URL with case, default port, query and fragment differences → allowed', async () => {
    await refusedWith(await check(u.access, await proof({ htu: 'https://evil.example.com/orders/42' })), /htu/)
    await refusedWith(await check(u.access, await proof({ htu: 'https://api.example.com/orders/43' })), /htu/)
    await refusedWith(await check(u.access, await proof({ htu: 'http://api.example.com/orders/42' })), /htu/)
    const same = await check(u.access, await proof({ htu: 'HTTPS://API.Example.com:443/orders/%34%32?a=b#c' }))
    assert.equal(same.body.allow, true, JSON.stringify(same.body))
  })
  it('iat older than 5 minutes, or too far ahead → 401', async () => {
    await refusedWith(await check(u.access, await proof({ iat: now() - 301 })), /too old/)
    await refusedWith(await check(u.access, await proof({ iat: now() + 120 })), /future/)
  })
  it('jti missing → 401; a jti used before (a replayed proof) → 401', async () => {
    await refusedWith(await check(u.access, await proof({ claims: { jti: undefined } })), /jti/)
    const p = await proof()
    assert.equal((await check(u.access, p)).body.allow, true)
    await refusedWith(await check(u.access, p), /already used/)
  })
  it('ath missing or for another token → 401', async () => {
    await refusedWith(await check(u.access, await proof({ accessToken: undefined })), /ath/)
    await refusedWith(await check(u.access, await proof({ accessToken: 'another.token.value' })), /ath/)
  })
  it('a valid proof by another key than cnf.jkt → 401', async () => {
    const other = await DPoPKey.generate()
    await refusedWith(await check(u.access, await other.proof({ htm: 'GET', htu: API, accessToken: u.access })), /another key/)
  })
  it('two DPoP headers (joined by a comma) → 401', async () => {
    await refusedWith(await check(u.access, `${await proof()}, ${await proof()}`), /one DPoP header/)
  })
  it('an oversized proof is the client\'s fault: 401 invalid_dpop_proof, not a malformed call (which the gateway would answer 503)', async () => {
    const r = await check(u.access, 'a'.repeat(9000))
    assert.equal(r.status, 200)
    await refusedWith(r, /compact JWS/)
  })
  it('malformed proofs (a segment of length ≡ 1 mod 4, empty segments, no JSON, a cut signature) → 401 decision, never a 5xx', async () => {
    const good = await proof()
    const [h, b, sig] = good.split('.') as [string, string, string]
    for (const bad of malformed(h, b, sig)) {
      const r = await check(u.access, bad)
      assert.equal(r.status, 200, `${bad}: ${JSON.stringify(r.body)}`)
      assert.equal(r.body.allow, false, bad)
      assert.equal(r.body.status, 401, bad)
      assert.match(r.body.wwwAuthenticate, /^DPoP error="invalid_dpop_proof"/, bad)
    }
    const r = await check(u.access, `${h}.${b}.A`)
    await refusedWith(r, /compact JWS/)
  })
  it("a url that is no URL: a bearer token's decision does not depend on it; a proof's htu matches nothing", async () => {
    const plain = await reader(undefined)
    const b = await post(svc.url, '/api/authz/check', { method: 'GET', path: '/orders/42', url: 'not a url' }, bearer(plain.access))
    assert.equal(b.body.allow, true, JSON.stringify(b.body))
    await refusedWith(await check(u.access, await proof({ htu: 'not a url' }), { url: 'not a url' }), /htu/)
  })
  it("a path near its 4096 cap makes a url longer than 4096: still a decision (200), never a 400 the gateway would turn into 503; a proof's htu that long matches nothing", async () => {
    const plain = await reader(undefined)
    const long = `/orders/${'9'.repeat(4080)}`
    const url = `${API.replace(/\/orders\/42$/, '')}${long}`
    assert.ok(url.length > 4096)
    const b = await post(svc.url, '/api/authz/check', { method: 'GET', path: long, url }, bearer(plain.access))
    assert.equal(b.status, 200, JSON.stringify(b.body))
    assert.equal(typeof b.body.allow, 'boolean')
    await refusedWith(await check(u.access, await proof({ htu: url }), { url, path: long }), /htu/)
  })
  it('the gateway sent no url → 401 (fails closed)', async () => {
    const r = await post(svc.url, '/api/authz/check', { method: 'GET', path: '/orders/42', dpop: await proof() }, { authorization: `DPoP ${u.access}` })
    await refusedWith(r, /url/)
  })
  it("a cached decision is never served without a fresh proof (the authorizer's own cache)", async () => {
    assert.equal((await check(u.access, await proof())).body.allow, true)
    assert.equal((await check(u.access, await proof())).body.allow, true) // from the decision cache
    await refusedWith(await check(u.access, undefined), /proof is required/)
    await refusedWith(await check(u.access, await proof({ htm: 'DELETE' })), /htm/)
    await refusedWith(await check(u.access, await proof(), { scheme: 'Bearer' }), /DPoP-bound/)
  })
  it("the body's token (managed-identity gateway) with a good proof → allow; without → 401", async () => {
    const body = { method: 'GET', path: '/orders/42', url: API, token: u.access }
    assert.equal((await post(svc.url, '/api/authz/check', { ...body, dpop: await proof() })).body.allow, true)
    await refusedWith(await post(svc.url, '/api/authz/check', body), /proof is required/)
  })
  it("the body's token with the caller's scheme (managed-identity gateway): Bearer with a good proof → 401; DPoP (any case) → allow; an unbound token as DPoP → invalid_token", async () => {
    const body = { method: 'GET', path: '/orders/42', url: API, token: u.access }
    await refusedWith(await post(svc.url, '/api/authz/check', { ...body, scheme: 'Bearer', dpop: await proof() }), /DPoP-bound/)
    await refusedWith(await post(svc.url, '/api/authz/check', { ...body, scheme: 'bearer', dpop: await proof() }), /DPoP-bound/)
    assert.equal((await post(svc.url, '/api/authz/check', { ...body, scheme: 'DPoP', dpop: await proof() })).body.allow, true)
    assert.equal((await post(svc.url, '/api/authz/check', { ...body, scheme: 'dpop', dpop: await proof() })).body.allow, true)
    const plain = await reader(undefined)
    const asDPoP = await post(svc.url, '/api/authz/check', { method: 'GET', path: '/orders/42', url: API, token: plain.access, scheme: 'DPoP' })
    assert.equal(asDPoP.body.status, 401)
    assert.match(asDPoP.body.wwwAuthenticate, /^Bearer error="invalid_token"/)
    assert.equal((await post(svc.url, '/api/authz/check', { method: 'GET', path: '/orders/42', url: API, token: plain.access, scheme: 'Bearer' })).body.allow, true)
    const bad = await post(svc.url, '/api/authz/check', { ...body, scheme: 'Basic' })
    assert.equal(bad.status, 400, JSON.stringify(bad.body))
  })
})

describe("Our own bearer middleware (RFC 9449 §7): /api/me with the page's bound token", () => {
  it('GET /api/me: DPoP scheme with a proof → 200; as Bearer, or without a proof, or a replayed proof → 401 with a DPoP challenge', async () => {
    const key = await DPoPKey.generate()
    const u = await signedIn(key)
    const htu = `${svc.config.issuer}/me`
    const p = await key.proof({ htm: 'GET', htu, accessToken: u.access })
    const ok = await call(svc.url, 'GET', '/api/me', undefined, { authorization: `DPoP ${u.access}`, dpop: p })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    const replay = await call(svc.url, 'GET', '/api/me', undefined, { authorization: `DPoP ${u.access}`, dpop: p })
    assert.equal(replay.status, 401)
    assert.match(replay.headers.get('www-authenticate') ?? '', /^DPoP error="invalid_dpop_proof"/)
    const asBearer = await call(svc.url, 'GET', '/api/me', undefined, bearer(u.access))
    assert.equal(asBearer.status, 401)
    assert.match(asBearer.headers.get('www-authenticate') ?? '', /^DPoP error="invalid_dpop_proof"/)
    const noProof = await call(svc.url, 'GET', '/api/me', undefined, { authorization: `DPoP ${u.access}` })
    assert.equal(noProof.status, 401)
    const wrongPath = await call(svc.url, 'GET', '/api/me', undefined, { authorization: `DPoP ${u.access}`, dpop: await key.proof({ htm: 'GET', htu: `${svc.config.issuer}/me/credentials`, accessToken: u.access }) })
    assert.equal(wrongPath.status, 401)
  })
  it('an unbound token keeps working as Bearer, and is refused with the DPoP scheme', async () => {
    const u = await signedIn(undefined)
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(u.access))).status, 200)
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, { authorization: `DPoP ${u.access}` })).status, 401)
  })
})

describe('Server nonces (DPOP_NONCE=required; RFC 9449 §8, §9)', () => {
  let strict: TestService
  before(async () => {
    strict = await startService({ connectionString: azurite.connectionString, env: { DPOP_NONCE: 'required' } })
  })
  after(async () => {
    await strict?.close()
  })

  it('a proof without a nonce → 400 use_dpop_nonce with DPoP-Nonce; with that nonce → 200; a wrong nonce at the token endpoint → use_dpop_nonce', async () => {
    const key = await DPoPKey.generate()
    const auth = new SoftAuthenticator()
    const o = await post(strict.url, '/api/webauthn/registration/options', { username: uniq() })
    const v = await post(strict.url, '/api/webauthn/registration/verify', { credential: await auth.createCredential(o.body, { origin: ORIGIN }) })
    assert.equal(v.status, 201)
    const htu = `${strict.config.issuer}/webauthn/authentication/verify`
    const first = await verifyWith(auth, { dpop: await key.proof({ htm: 'POST', htu }) }, strict)
    assert.equal(first.status, 400)
    assert.equal(first.body.code, 'use_dpop_nonce')
    const nonce = first.headers.get('dpop-nonce')
    assert.ok(nonce)
    const second = await verifyWith(auth, { dpop: await key.proof({ htm: 'POST', htu, nonce }) }, strict)
    assert.equal(second.status, 200, JSON.stringify(second.body))
    // Refresh at the token endpoint: a wrong nonce → 400 RFC 6749 use_dpop_nonce with a fresh one.
    const bad = await form(strict.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: second.body.refresh_token }, { dpop: await key.proof({ htm: 'POST', htu: `${strict.config.issuer}/oauth2/token`, nonce: 'x.y' }) })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error, 'use_dpop_nonce')
    assert.ok(bad.headers.get('dpop-nonce'))
  })

  it('the authorizer: a bound token with a proof without nonce → 401 use_dpop_nonce and dpopNonce', async () => {
    const key = await DPoPKey.generate()
    const auth = new SoftAuthenticator()
    const o = await post(strict.url, '/api/webauthn/registration/options', { username: uniq() })
    const credential = await auth.createCredential(o.body, { origin: ORIGIN })
    const probe = await post(strict.url, '/api/webauthn/registration/verify', { credential }, { dpop: await key.proof({ htm: 'POST', htu: `${strict.config.issuer}/webauthn/registration/verify` }) })
    assert.equal(probe.status, 400)
    const nonce = probe.headers.get('dpop-nonce')!
    const o2 = await post(strict.url, '/api/webauthn/registration/options', { username: uniq() })
    const v = await post(strict.url, '/api/webauthn/registration/verify', { credential: await auth.createCredential(o2.body, { origin: ORIGIN }) }, { dpop: await key.proof({ htm: 'POST', htu: `${strict.config.issuer}/webauthn/registration/verify`, nonce }) })
    assert.equal(v.status, 201, JSON.stringify(v.body))
    const token = v.body.tokens.access_token
    const r = await post(strict.url, '/api/authz/check', { method: 'GET', path: '/x', url: API, dpop: await key.proof({ htm: 'GET', htu: API, accessToken: token }) }, { authorization: `DPoP ${token}` })
    assert.equal(r.body.status, 401)
    assert.match(r.body.wwwAuthenticate, /^DPoP error="use_dpop_nonce"/)
    assert.match(r.body.dpopNonce, /^[0-9a-z]+\.[A-Za-z0-9_-]+$/)
    assert.equal(r.body.ttl, 0)
    const ok = await post(strict.url, '/api/authz/check', { method: 'GET', path: '/x', url: API, dpop: await key.proof({ htm: 'GET', htu: API, accessToken: token, nonce: r.body.dpopNonce }) }, { authorization: `DPoP ${token}` })
    assert.equal(ok.body.wwwAuthenticate, undefined, JSON.stringify(ok.body))
    assert.equal(ok.body.status, 403) // no role: the proof passed
  })
})
