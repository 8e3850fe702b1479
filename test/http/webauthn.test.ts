/**
 * CONTRACT "WebAuthn ceremonies" and "Tokens", end to end over HTTP against a real Azurite,
 * with a software authenticator (ES256, RS256, EdDSA; none and packed attestation).
 */
import assert from 'node:assert/strict'
import { createPublicKey, verify as nodeVerify } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../shared/util/clock.js'
import { sweep } from '../../shared/housekeeping.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post, signIn, signUp } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
let n = 0
const uniq = (p = 'user') => `${p}${process.pid}n${++n}`

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'root-admin' } })
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

/** Verifies a JWT with node:crypto against the published JWKS: no JOSE library involved. */
async function verifyIndependently(token: string) {
  const { header, payload } = decodeJwt(token)
  const jwks = (await call(svc.url, 'GET', '/api/.well-known/jwks.json')).body
  const jwk = jwks.keys.find((k: any) => k.kid === header.kid)
  assert.ok(jwk, 'kid is in the JWKS')
  assert.equal(jwk.alg, header.alg)
  const [h, p, s] = token.split('.')
  const key = createPublicKey({ key: jwk, format: 'jwk' })
  const data = Buffer.from(`${h}.${p}`)
  const sig = Buffer.from(s!, 'base64url')
  const ok =
    header.alg === 'RS256'
      ? nodeVerify('sha256', data, key, sig)
      : header.alg === 'PS256'
        ? nodeVerify('sha256', data, { key, padding: 6, saltLength: 32 }, sig)
        : nodeVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)
  assert.ok(ok, 'signature verifies with node:crypto')
  return { header, payload }
}

describe('Sign-up (POST /api/webauthn/registration/*)', () => {
  for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) {
    it(`creates an account with an ${alg} passkey and signs in (201 with tokens)`, async () => {
      const auth = new SoftAuthenticator({ alg, attestation: alg === 'ES256' ? 'none' : 'packed-self' })
      const username = uniq(alg.toLowerCase())
      const body = await signUp(svc.url, auth, username)
      assert.equal(body.user.username, username)
      assert.match(body.user.id, /^[A-Za-z0-9_-]{22}$/)
      assert.equal(body.credential.id, auth.credentials()[0]!.id)
      for (const k of ['id', 'label', 'createdAt', 'aaguid', 'backupEligible', 'backedUp', 'transports'])
        assert.ok(k in body.credential, `credential.${k}`)
      assert.equal(body.tokens.token_type, 'Bearer')
      assert.equal(body.tokens.expires_in, 600)
      assert.ok(body.tokens.refresh_token)
      const { header, payload } = await verifyIndependently(body.tokens.access_token)
      assert.equal(header.typ, 'at+jwt')
      assert.equal(header.alg, 'RS256')
      assert.equal(payload.iss, 'http://localhost:7071/api')
      assert.equal(payload.aud, 'api://default')
      assert.equal(payload.sub, body.user.id)
      assert.notEqual(payload.sub, username, 'sub is the stable id, not the username')
      assert.equal(payload.exp - payload.iat, 600)
      for (const k of ['jti', 'client_id', 'scope', 'auth_time', 'sid']) assert.ok(payload[k] !== undefined, k)
      assert.deepEqual(payload.amr, ['hwk', 'user', 'mfa'])
      assert.equal(payload.acr, 'phr')
      assert.deepEqual(payload.roles, [])
    })
  }

  it('gives a synced passkey amr swk, and BOOTSTRAP_ADMINS role admin', async () => {
    const auth = new SoftAuthenticator({ backupEligible: true, backedUp: true })
    const body = await signUp(svc.url, auth, 'root-admin')
    const { payload } = decodeJwt(body.tokens.access_token)
    assert.deepEqual(payload.amr, ['swk', 'user', 'mfa'])
    assert.deepEqual(payload.roles, ['admin'])
    assert.equal(body.credential.backupEligible, true)
  })

  it('options follow the contract: rp, user, ≥32-byte challenge, algorithms, residentKey required', async () => {
    const o = await post(svc.url, '/api/webauthn/registration/options', { username: uniq(), displayName: 'Ada L.' })
    assert.equal(o.status, 200)
    assert.deepEqual(o.body.rp, { id: 'localhost', name: 'Passkey Edge' })
    assert.equal(o.body.user.displayName, 'Ada L.')
    assert.ok(Buffer.from(o.body.challenge, 'base64url').length >= 32)
    assert.deepEqual(o.body.pubKeyCredParams.map((p: any) => p.alg), [-7, -8, -257])
    assert.equal(o.body.authenticatorSelection.residentKey, 'required')
    assert.equal(o.body.authenticatorSelection.userVerification, 'required')
    assert.deepEqual(o.body.excludeCredentials, [])
    assert.equal(o.headers.get('cache-control'), 'no-store')
  })

  it('a taken username → 409 username_taken (at options and at verify)', async () => {
    const username = uniq()
    const o1 = await post(svc.url, '/api/webauthn/registration/options', { username })
    const o2 = await post(svc.url, '/api/webauthn/registration/options', { username })
    const a1 = new SoftAuthenticator()
    const a2 = new SoftAuthenticator()
    const v1 = await post(svc.url, '/api/webauthn/registration/verify', { credential: await a1.createCredential(o1.body, { origin: ORIGIN }) })
    assert.equal(v1.status, 201)
    const v2 = await post(svc.url, '/api/webauthn/registration/verify', { credential: await a2.createCredential(o2.body, { origin: ORIGIN }) })
    assert.equal(v2.status, 409)
    assert.equal(v2.body.code, 'username_taken')
    assert.equal(v2.headers.get('content-type'), 'application/problem+json')
    const o3 = await post(svc.url, '/api/webauthn/registration/options', { username: username.toUpperCase() })
    assert.equal(o3.status, 409)
    assert.equal(o3.body.code, 'username_taken')
  })

  it('a failed sign-up leaves no account behind: the username stays free', async () => {
    const username = uniq()
    const o = await post(svc.url, '/api/webauthn/registration/options', { username })
    const bad = await new SoftAuthenticator({ attestation: 'packed-self' }).createCredential(o.body, { origin: ORIGIN, tamperSignature: true })
    const v = await post(svc.url, '/api/webauthn/registration/verify', { credential: bad })
    assert.equal(v.body.code, 'signature_invalid')
    assert.equal(await svc.store.findUserIdByUsername(username), undefined)
    await signUp(svc.url, new SoftAuthenticator(), username)
  })

  it('REGISTRATION=closed refuses sign-up with 403 registration_closed', async () => {
    const closed = await startService({ connectionString: azurite.connectionString, env: { REGISTRATION: 'closed' } })
    try {
      const o = await post(closed.url, '/api/webauthn/registration/options', { username: uniq() })
      assert.equal(o.status, 403)
      assert.equal(o.body.code, 'registration_closed')
    } finally {
      await closed.close()
    }
  })
})

describe('Sign-in (POST /api/webauthn/authentication/*)', () => {
  it('with a username: allowCredentials lists the passkeys; 200 TokenResponse', async () => {
    const auth = new SoftAuthenticator()
    const username = uniq()
    const { user } = await signUp(svc.url, auth, username)
    const o = await post(svc.url, '/api/webauthn/authentication/options', { username })
    assert.deepEqual(o.body.allowCredentials.map((c: any) => c.id), [auth.credentials()[0]!.id])
    assert.equal(o.body.rpId, 'localhost')
    assert.equal(o.body.userVerification, 'required')
    const res = await signIn(svc.url, auth, username)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.token_type, 'Bearer')
    const { payload } = await verifyIndependently(res.body.access_token)
    assert.equal(payload.sub, user.id)
  })

  it('usernameless (discoverable): empty allowCredentials, the user handle finds the account', async () => {
    const auth = new SoftAuthenticator({ alg: 'EdDSA' })
    const { user } = await signUp(svc.url, auth, uniq())
    const o = await post(svc.url, '/api/webauthn/authentication/options', {})
    assert.deepEqual(o.body.allowCredentials, [])
    const res = await signIn(svc.url, auth)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(decodeJwt(res.body.access_token).payload.sub, user.id)
  })

  it('an unknown username gets options shaped like a known one (no enumeration)', async () => {
    const username = uniq()
    await signUp(svc.url, new SoftAuthenticator(), username)
    const known = await post(svc.url, '/api/webauthn/authentication/options', { username })
    const ghost = uniq('ghost')
    const unknown = await post(svc.url, '/api/webauthn/authentication/options', { username: ghost })
    // Same members, same types, same lengths, except credential ids, whose length varies by
    // authenticator anyway; the decoy's is a real-world length and stable for the same name.
    // The count is drawn like real accounts' (1 to 3), so only one entry's shape is compared.
    const shape = (o: any) =>
      JSON.stringify({ ...o, allowCredentials: o.allowCredentials.slice(0, 1) }, (k, v) => (k === 'id' ? 'id' : typeof v === 'string' ? `s${v.length}` : v))
    assert.equal(unknown.status, 200)
    assert.equal(shape(unknown.body), shape(known.body))
    assert.ok([16, 20, 32, 64].includes(Buffer.from(unknown.body.allowCredentials[0].id, 'base64url').length))
    const again = await post(svc.url, '/api/webauthn/authentication/options', { username: ghost })
    assert.equal(again.body.allowCredentials[0].id, unknown.body.allowCredentials[0].id, 'stable decoy')
    assert.notEqual(again.body.challenge, unknown.body.challenge)
  })

  it('audience selects the token audience; an unknown one → 400 invalid_request', async () => {
    const multi = await startService({ connectionString: azurite.connectionString, env: { AUDIENCES: 'api://one,api://two', SCOPES: 'orders.read' } })
    try {
      const auth = new SoftAuthenticator()
      await signUp(multi.url, auth, uniq())
      const ok = await signIn(multi.url, auth, undefined, {}, { audience: 'api://two', scope: 'openid orders.read' })
      assert.equal(ok.status, 200)
      assert.equal(decodeJwt(ok.body.access_token).payload.aud, 'api://two')
      assert.equal(decodeJwt(ok.body.access_token).payload.scope, 'openid orders.read')
      const bad = await signIn(multi.url, auth, undefined, {}, { audience: 'api://evil' })
      assert.equal(bad.status, 400)
      assert.equal(bad.body.code, 'invalid_request')
    } finally {
      await multi.close()
    }
  })
})

describe('WebAuthn checks over HTTP: each refusal has its contract code', () => {
  async function registered() {
    const auth = new SoftAuthenticator()
    const username = uniq()
    const up = await signUp(svc.url, auth, username)
    return { auth, username, up }
  }
  const options = async (username?: string) =>
    (await post(svc.url, '/api/webauthn/authentication/options', username ? { username } : {})).body

  it('replay: the same assertion twice → challenge_unknown (single-use challenge)', async () => {
    const { auth } = await registered()
    const credential = await auth.getAssertion(await options(), { origin: ORIGIN })
    const first = await post(svc.url, '/api/webauthn/authentication/verify', { credential })
    assert.equal(first.status, 200)
    const second = await post(svc.url, '/api/webauthn/authentication/verify', { credential })
    assert.equal(second.status, 400)
    assert.equal(second.body.code, 'challenge_unknown')
  })

  it('two concurrent verifies of one response: exactly one succeeds', async () => {
    const { auth } = await registered()
    const credential = await auth.getAssertion(await options(), { origin: ORIGIN })
    const results = await Promise.all(
      Array.from({ length: 5 }, () => post(svc.url, '/api/webauthn/authentication/verify', { credential })),
    )
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400, 400, 400])
  })

  it('a failed attempt consumes the challenge too', async () => {
    const { auth } = await registered()
    const o = await options()
    const bad = await auth.getAssertion(o, { origin: 'https://evil.example' })
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: bad })).body.code, 'origin_mismatch')
    const good = await auth.getAssertion(o, { origin: ORIGIN, counterIncrement: 5 })
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: good })).body.code, 'challenge_unknown')
  })

  it('a verify refused for its other fields (label, audience, scope) still consumes the challenge', async () => {
    const { auth } = await registered()
    const o = await options()
    const assertion = await auth.getAssertion(o, { origin: ORIGIN })
    for (const extra of [{ audience: 'api://nope' }, { scope: 'bad\u0001scope' }]) {
      const r = await post(svc.url, '/api/webauthn/authentication/verify', { credential: assertion, ...extra })
      assert.equal(r.status, 400)
    }
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: assertion })).body.code, 'challenge_unknown')
    const reg = await post(svc.url, '/api/webauthn/registration/options', { username: uniq() })
    const cred = await new SoftAuthenticator().createCredential(reg.body, { origin: ORIGIN })
    assert.equal((await post(svc.url, '/api/webauthn/registration/verify', { credential: cred, label: 'x'.repeat(100) })).status, 400)
    assert.equal((await post(svc.url, '/api/webauthn/registration/verify', { credential: cred })).body.code, 'challenge_unknown')
  })

  it('an expired challenge whose marker housekeeping already swept → still challenge_expired', async () => {
    const { auth } = await registered()
    const o = await options()
    clock.advance(3 * 3600_000)
    try {
      await sweep(svc.core, clock.now())
      const r = await post(svc.url, '/api/webauthn/authentication/verify', { credential: await auth.getAssertion(o, { origin: ORIGIN }) })
      assert.equal(r.body.code, 'challenge_expired')
    } finally {
      clock.advance(-3 * 3600_000)
    }
  })

  it('challenge past its lifetime → challenge_expired', async () => {
    const { auth } = await registered()
    const o = await options()
    clock.advance(301_000)
    try {
      const cred = await auth.getAssertion(o, { origin: ORIGIN })
      const r = await post(svc.url, '/api/webauthn/authentication/verify', { credential: cred })
      assert.equal(r.status, 400)
      assert.equal(r.body.code, 'challenge_expired')
    } finally {
      clock.advance(-301_000)
    }
  })

  it('a registration challenge used for sign-in → challenge_unknown', async () => {
    const { auth } = await registered()
    const reg = await post(svc.url, '/api/webauthn/registration/options', { username: uniq() })
    const o = await options()
    const cred = await auth.getAssertion({ ...o, challenge: reg.body.challenge }, { origin: ORIGIN })
    const r = await post(svc.url, '/api/webauthn/authentication/verify', { credential: cred })
    assert.equal(r.body.code, 'challenge_unknown')
  })

  it('a challenge we never issued → challenge_unknown', async () => {
    const { auth } = await registered()
    const o = await options()
    const cred = await auth.getAssertion({ ...o, challenge: Buffer.alloc(48, 7).toString('base64url') }, { origin: ORIGIN })
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: cred })).body.code, 'challenge_unknown')
  })

  it('wrong origin → origin_mismatch; wrong RP ID → rp_id_mismatch', async () => {
    const { auth } = await registered()
    const a = await auth.getAssertion(await options(), { origin: 'http://localhost:9999' })
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: a })).body.code, 'origin_mismatch')
    const b = await auth.getAssertion(await options(), { origin: ORIGIN, rpId: 'evil.example' } as never)
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: b })).body.code, 'rp_id_mismatch')
  })

  it('UV missing while required → user_verification_required; UP missing → user_presence_required', async () => {
    const { auth } = await registered()
    const a = await auth.getAssertion(await options(), { origin: ORIGIN, userVerified: false })
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: a })).body.code, 'user_verification_required')
    const b = await auth.getAssertion(await options(), { origin: ORIGIN, userPresent: false })
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: b })).body.code, 'user_presence_required')
  })

  it('USER_VERIFICATION=preferred accepts UV=0 and leaves mfa out of amr', async () => {
    const pref = await startService({ connectionString: azurite.connectionString, env: { USER_VERIFICATION: 'preferred' } })
    try {
      const auth = new SoftAuthenticator()
      await signUp(pref.url, auth, uniq())
      const r = await signIn(pref.url, auth, undefined, { userVerified: false })
      assert.equal(r.status, 200)
      assert.deepEqual(decodeJwt(r.body.access_token).payload.amr, ['hwk', 'user'])
    } finally {
      await pref.close()
    }
  })

  it('bad signature → signature_invalid', async () => {
    const { auth } = await registered()
    const a = await auth.getAssertion(await options(), { origin: ORIGIN, tamperSignature: true })
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: a })).body.code, 'signature_invalid')
  })

  it('counter regression (a cloned key) → counter_regression, and the passkey is flagged → credential_revoked', async () => {
    const { auth, username } = await registered()
    const twin = new SoftAuthenticator()
    const id = auth.credentials()[0]!.id
    auth.cloneCredentialTo(twin, id)
    assert.equal((await signIn(svc.url, auth, username)).status, 200) // counter 1
    assert.equal((await signIn(svc.url, auth, username)).status, 200) // counter 2
    const cloned = await signIn(svc.url, twin, username) // twin still at 1
    assert.equal(cloned.status, 400)
    assert.equal(cloned.body.code, 'counter_regression')
    const after = await signIn(svc.url, auth, username, { counterIncrement: 10 })
    assert.equal(after.body.code, 'credential_revoked')
  })

  it('unknown credential → credential_unknown', async () => {
    const stranger = new SoftAuthenticator()
    const o = await post(svc.url, '/api/webauthn/registration/options', { username: uniq() })
    await stranger.createCredential(o.body, { origin: ORIGIN }) // never verified: not registered
    const r = await signIn(svc.url, stranger)
    assert.equal(r.status, 400)
    assert.equal(r.body.code, 'credential_unknown')
  })

  it("someone else's passkey for a named account → credential_unknown", async () => {
    const { username } = await registered()
    const other = await registered()
    const o = await options(username)
    const cred = await other.auth.getAssertion({ ...o, allowCredentials: [] }, { origin: ORIGIN })
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential: cred })).body.code, 'credential_unknown')
  })

  it('registration response with an assertion type → invalid_request; reused registration challenge → challenge_unknown', async () => {
    const o = await post(svc.url, '/api/webauthn/registration/options', { username: uniq() })
    const auth = new SoftAuthenticator()
    const cred = await auth.createCredential(o.body, { origin: ORIGIN, type: 'webauthn.get' } as never)
    assert.equal((await post(svc.url, '/api/webauthn/registration/verify', { credential: cred })).body.code, 'invalid_request')
    const again = await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN })
    assert.equal((await post(svc.url, '/api/webauthn/registration/verify', { credential: again })).body.code, 'challenge_unknown')
  })
})

describe('Bad input gets a 4xx problem+json, never a 5xx', () => {
  const paths = ['/api/webauthn/registration/options', '/api/webauthn/registration/verify', '/api/webauthn/authentication/options', '/api/webauthn/authentication/verify']
  for (const path of paths) {
    it(`${path}: malformed JSON → 400, wrong content type → 415, oversized → 413`, async () => {
      const m = await call(svc.url, 'POST', path, '{"username": ', { 'content-type': 'application/json' })
      assert.equal(m.status, 400)
      assert.equal(m.body.code, 'invalid_request')
      const t = await call(svc.url, 'POST', path, 'username=x', { 'content-type': 'text/plain' })
      assert.equal(t.status, 415)
      assert.equal(t.body.code, 'unsupported_media_type')
      const big = await call(svc.url, 'POST', path, JSON.stringify({ username: 'a'.repeat(70 * 1024) }), { 'content-type': 'application/json' })
      assert.equal(big.status, 413)
      assert.equal(big.body.code, 'payload_too_large')
      assert.equal(big.headers.get('content-type'), 'application/problem+json')
    })
  }

  const junk: [string, unknown][] = [
    ['array body', []],
    ['credential missing', {}],
    ['credential a string', { credential: 'x' }],
    ['credential without response', { credential: { id: 'AAAA', rawId: 'AAAA', type: 'public-key' } }],
    ['non-base64url clientDataJSON', { credential: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: '***', attestationObject: 'AA', authenticatorData: 'AA', signature: 'AA' } } }],
    ['clientDataJSON not JSON', { credential: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'AAAA', attestationObject: 'AAAA', authenticatorData: 'AAAA', signature: 'AAAA' } } }],
    ['wrong type', { credential: { id: 'AAAA', rawId: 'AAAA', type: 'password', response: {} } }],
  ]
  for (const [name, body] of junk) {
    it(`verify endpoints: ${name} → 400`, async () => {
      for (const path of ['/api/webauthn/registration/verify', '/api/webauthn/authentication/verify']) {
        const r = await post(svc.url, path, body)
        assert.equal(r.status, 400, `${path} ${JSON.stringify(r.body)}`)
        assert.equal(r.body.code, 'invalid_request')
      }
    })
  }

  it('usernames: missing, too short, control characters → 400 invalid_request', async () => {
    for (const username of [undefined, 'ab', 'bad\u0000name', 42, 'x'.repeat(65)]) {
      const r = await post(svc.url, '/api/webauthn/registration/options', { username })
      assert.equal(r.status, 400, String(username))
      assert.equal(r.body.code, 'invalid_request')
    }
  })
})

describe('Tokens: refresh rotation and reuse (CONTRACT "Tokens")', () => {
  it('refresh rotates; the old refresh token then revokes the whole session', async () => {
    const auth = new SoftAuthenticator()
    const { tokens } = await signUp(svc.url, auth, uniq())
    const r1 = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })
    assert.equal(r1.status, 200, JSON.stringify(r1.body))
    assert.notEqual(r1.body.refresh_token, tokens.refresh_token)
    assert.equal(decodeJwt(r1.body.access_token).payload.sid, decodeJwt(tokens.access_token).payload.sid)
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(r1.body.access_token))).status, 200)
    // Reuse of the rotated-out token:
    const reuse = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })
    assert.equal(reuse.status, 400)
    assert.equal(reuse.body.error, 'invalid_grant')
    // ...revoked the session: the newest refresh token and the access tokens stop working.
    const r2 = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: r1.body.refresh_token })
    assert.equal(r2.body.error, 'invalid_grant')
    const me = await call(svc.url, 'GET', '/api/me', undefined, bearer(r1.body.access_token))
    assert.equal(me.status, 401)
    assert.equal(me.body.code, 'unauthorized')
  })

  it('a forged secret for a real session is invalid but does not revoke it', async () => {
    const { tokens } = await signUp(svc.url, new SoftAuthenticator(), uniq())
    const [u, s] = tokens.refresh_token.split('.')
    const forged = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: `${u}.${s}.${'A'.repeat(43)}` })
    assert.equal(forged.body.error, 'invalid_grant')
    const real = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })
    assert.equal(real.status, 200)
  })

  it('token endpoint errors are RFC 6749 §5.2 JSON', async () => {
    const cases: [Record<string, string>, string][] = [
      [{}, 'invalid_request'],
      [{ grant_type: 'password', username: 'a', password: 'b' }, 'unsupported_grant_type'],
      [{ grant_type: 'refresh_token' }, 'invalid_request'],
      [{ grant_type: 'refresh_token', refresh_token: 'garbage' }, 'invalid_grant'],
    ]
    for (const [params, error] of cases) {
      const r = await form(svc.url, '/api/oauth2/token', params)
      assert.equal(r.status, 400)
      assert.equal(r.body.error, error)
      assert.equal(typeof r.body.error_description, 'string')
      assert.equal(r.headers.get('cache-control'), 'no-store')
    }
    const json = await post(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token' })
    assert.equal(json.status, 400)
    assert.equal(json.body.error, 'invalid_request')
  })

  it('RFC 7009 revocation of a refresh token ends the session', async () => {
    const { tokens } = await signUp(svc.url, new SoftAuthenticator(), uniq())
    const r = await form(svc.url, '/api/oauth2/revoke', { token: tokens.refresh_token })
    assert.equal(r.status, 200)
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(tokens.access_token))).status, 401)
  })
})

describe('Discovery and JWKS', () => {
  it('discovery lists the contract fields; JWKS has public keys only', async () => {
    const d = (await call(svc.url, 'GET', '/api/.well-known/openid-configuration')).body
    for (const k of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint', 'grant_types_supported', 'response_types_supported', 'code_challenge_methods_supported', 'token_endpoint_auth_methods_supported', 'scopes_supported', 'id_token_signing_alg_values_supported', 'subject_types_supported'])
      assert.ok(k in d, k)
    assert.equal(d.issuer, 'http://localhost:7071/api')
    assert.deepEqual(d.code_challenge_methods_supported, ['S256'])
    const d2 = (await call(svc.url, 'GET', '/api/.well-known/oauth-authorization-server')).body
    assert.deepEqual(d2, d)
    const jwks = (await call(svc.url, 'GET', '/api/.well-known/jwks.json')).body
    assert.equal(jwks.keys.length, 2, 'active and next')
    for (const k of jwks.keys) {
      assert.equal(k.use, 'sig')
      assert.equal(k.alg, 'RS256')
      assert.ok(k.kid && k.n && k.e)
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `no ${priv}`)
    }
  })

  it('private keys are encrypted at rest', async () => {
    const keys = await svc.store.listSigningKeys()
    for (const k of keys) {
      assert.doesNotMatch(k.encryptedPrivateKey, /PRIVATE KEY/)
      assert.ok(!JSON.stringify(k).includes('"d"'))
    }
  })
})
