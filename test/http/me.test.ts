/**
 * CONTRACT "Account self-service" and adding a passkey to a signed-in account, over HTTP against
 * a real Azurite.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post, signIn, signUp } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'

let azurite: Azurite
let svc: TestService
let n = 0
const uniq = () => `me${process.pid}n${++n}`

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString })
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

async function addPasskey(token: string, auth: SoftAuthenticator, label?: string) {
  const o = await post(svc.url, '/api/webauthn/registration/options', {}, bearer(token))
  assert.equal(o.status, 200, JSON.stringify(o.body))
  const credential = await auth.createCredential(o.body, { origin: ORIGIN })
  return post(svc.url, '/api/webauthn/registration/verify', { credential, ...(label ? { label } : {}) }, bearer(token))
}

describe('GET /api/me', () => {
  it('returns id, username, displayName, roles; 401 without a token', async () => {
    const username = uniq()
    const o = await post(svc.url, '/api/webauthn/registration/options', { username, displayName: 'Grace H.' })
    const auth = new SoftAuthenticator()
    const v = await post(svc.url, '/api/webauthn/registration/verify', { credential: await auth.createCredential(o.body, { origin: ORIGIN }) })
    const me = await call(svc.url, 'GET', '/api/me', undefined, bearer(v.body.tokens.access_token))
    assert.equal(me.status, 200)
    assert.deepEqual(me.body, { id: v.body.user.id, username, displayName: 'Grace H.', roles: [] })
    const anon = await call(svc.url, 'GET', '/api/me')
    assert.equal(anon.status, 401)
    assert.equal(anon.body.code, 'unauthorized')
    assert.match(anon.headers.get('www-authenticate') ?? '', /^Bearer/)
  })

  it('a tampered or foreign token → 401 with WWW-Authenticate error="invalid_token"', async () => {
    const { tokens } = await signUp(svc.url, new SoftAuthenticator(), uniq())
    const [h, p, s] = tokens.access_token.split('.')
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')}.${s}`
    const r = await call(svc.url, 'GET', '/api/me', undefined, bearer(forged))
    assert.equal(r.status, 401)
    assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/)
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(none))).status, 401)
  })
})

describe('Passkeys of the signed-in account', () => {
  it('adds a second passkey (Bearer), excluding existing ones; both sign in', async () => {
    const a1 = new SoftAuthenticator()
    const { tokens, user } = await signUp(svc.url, a1, uniq())
    const o = await post(svc.url, '/api/webauthn/registration/options', {}, bearer(tokens.access_token))
    assert.deepEqual(o.body.excludeCredentials.map((c: any) => c.id), [a1.credentials()[0]!.id])
    assert.equal(o.body.user.id, user.id)
    const a2 = new SoftAuthenticator({ alg: 'RS256' })
    const v = await post(svc.url, '/api/webauthn/registration/verify', { credential: await a2.createCredential(o.body, { origin: ORIGIN }), label: 'Laptop' }, bearer(tokens.access_token))
    assert.equal(v.status, 201, JSON.stringify(v.body))
    assert.equal(v.body.tokens, undefined, 'adding a passkey does not sign in again')
    assert.equal(v.body.credential.label, 'Laptop')
    assert.equal((await signIn(svc.url, a2)).status, 200)
    const list = await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(tokens.access_token))
    assert.equal(list.body.length, 2)
  })

  it('finishing an added passkey needs the account\'s live bearer token (401 without; a revoked session cannot)', async () => {
    const { tokens } = await signUp(svc.url, new SoftAuthenticator(), uniq())
    const o = await post(svc.url, '/api/webauthn/registration/options', {}, bearer(tokens.access_token))
    const cred = await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN })
    const anon = await post(svc.url, '/api/webauthn/registration/verify', { credential: cred })
    assert.equal(anon.status, 401)
    assert.equal(anon.body.code, 'unauthorized')
    const o2 = await post(svc.url, '/api/webauthn/registration/options', {}, bearer(tokens.access_token))
    const cred2 = await new SoftAuthenticator().createCredential(o2.body, { origin: ORIGIN })
    await form(svc.url, '/api/oauth2/revoke', { token: tokens.refresh_token })
    const revoked = await post(svc.url, '/api/webauthn/registration/verify', { credential: cred2 }, bearer(tokens.access_token))
    assert.equal(revoked.status, 401)
    const list = await svc.store.getAccount(decodeJwt(tokens.access_token).payload.sub)
    assert.equal(list?.credentials.length, 1, 'no passkey was added')
  })

  it('ids too long for a storage key: 404 on routes, 400 at registration (never a storage error)', async () => {
    const { tokens } = await signUp(svc.url, new SoftAuthenticator(), uniq())
    const long = 'A'.repeat(1500)
    assert.equal((await call(svc.url, 'PATCH', `/api/me/credentials/${long}`, { label: 'x' }, bearer(tokens.access_token))).status, 404)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/credentials/${long}`, undefined, bearer(tokens.access_token))).status, 404)
    const o = await post(svc.url, '/api/webauthn/registration/options', { username: uniq() })
    const cred = await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN, credentialId: new Uint8Array(400).fill(7) })
    const r = await post(svc.url, '/api/webauthn/registration/verify', { credential: cred })
    assert.equal(r.status, 400)
    assert.equal(r.body.code, 'invalid_request')
  })

  it('the same authenticator cannot register twice → 409 credential_exists', async () => {
    const a1 = new SoftAuthenticator()
    const { tokens } = await signUp(svc.url, a1, uniq())
    const o = await post(svc.url, '/api/webauthn/registration/options', {}, bearer(tokens.access_token))
    const cred = await a1.createCredential(o.body, { origin: ORIGIN, ignoreExcludeCredentials: true, credentialId: new Uint8Array(Buffer.from(a1.credentials()[0]!.id, 'base64url')) })
    const v = await post(svc.url, '/api/webauthn/registration/verify', { credential: cred }, bearer(tokens.access_token))
    assert.equal(v.status, 409)
    assert.equal(v.body.code, 'credential_exists')
  })

  it('a known AAGUID names the authenticator model and the default label', async () => {
    const a = new SoftAuthenticator({ aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd', backupEligible: true })
    const { tokens, credential } = await signUp(svc.url, a, uniq())
    assert.equal(credential.label, 'iCloud Keychain')
    const list = await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(tokens.access_token))
    assert.equal(list.body[0].authenticatorName, 'iCloud Keychain')
    assert.equal(list.body[0].deviceBound, false)
    const unknown = await signUp(svc.url, new SoftAuthenticator(), uniq())
    assert.equal(unknown.credential.authenticatorName, undefined)
  })

  it('renames a passkey (PATCH); bad labels → 400; others\' passkeys → 404', async () => {
    const a1 = new SoftAuthenticator()
    const { tokens, credential } = await signUp(svc.url, a1, uniq())
    const r = await call(svc.url, 'PATCH', `/api/me/credentials/${credential.id}`, { label: 'YubiKey blue' }, bearer(tokens.access_token))
    assert.equal(r.status, 200)
    assert.equal(r.body.label, 'YubiKey blue')
    const list = await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(tokens.access_token))
    assert.equal(list.body[0].label, 'YubiKey blue')
    for (const label of ['', 42, 'x'.repeat(65), 'a\u202eb'])
      assert.equal((await call(svc.url, 'PATCH', `/api/me/credentials/${credential.id}`, { label }, bearer(tokens.access_token))).status, 400)
    const other = await signUp(svc.url, new SoftAuthenticator(), uniq())
    const foreign = await call(svc.url, 'PATCH', `/api/me/credentials/${credential.id}`, { label: 'mine' }, bearer(other.tokens.access_token))
    assert.equal(foreign.status, 404)
  })

  it('deleting the last passkey → 409; deleting another → 204 and revokes the sessions signed in with it', async () => {
    const a1 = new SoftAuthenticator()
    const { tokens, credential } = await signUp(svc.url, a1, uniq())
    const last = await call(svc.url, 'DELETE', `/api/me/credentials/${credential.id}`, undefined, bearer(tokens.access_token))
    assert.equal(last.status, 409)
    assert.equal(last.body.code, 'last_credential')

    const a2 = new SoftAuthenticator()
    assert.equal((await addPasskey(tokens.access_token, a2)).status, 201)
    const viaA2 = await signIn(svc.url, a2)
    assert.equal(viaA2.status, 200)
    const id2 = a2.credentials()[0]!.id
    const del = await call(svc.url, 'DELETE', `/api/me/credentials/${id2}`, undefined, bearer(tokens.access_token))
    assert.equal(del.status, 204)
    // The session signed in with the deleted passkey is revoked: its access and refresh tokens die.
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(viaA2.body.access_token))).status, 401)
    const refresh = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: viaA2.body.refresh_token })
    assert.equal(refresh.body.error, 'invalid_grant')
    // The sign-up session (first passkey) lives on; the deleted passkey no longer signs in.
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(tokens.access_token))).status, 200)
    const again = await signIn(svc.url, a2)
    assert.equal(again.body.code, 'credential_unknown')
  })
})
