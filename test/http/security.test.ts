/**
 * CONTRACT v2 "Security refinements", end to end over HTTP against a real Azurite: each of the
 * weaknesses reproduced against the v1 build, and what the service does instead.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post, signIn, signUp } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'
import { adminToken, openAuthorize, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
const adminKey = new SoftAuthenticator()
/** A fresh administrator token (the tests move the clock past token lifetimes). */
const admin = async () => {
  const r = await signIn(svc.url, adminKey, 'root-admin')
  assert.equal(r.status, 200)
  return r.body.access_token as string
}
let n = 0
const uniq = (p = 'sec') => `${p}${process.pid}n${++n}`

before(async () => {
  azurite = await startAzurite()
  svc = await startService({
    connectionString: azurite.connectionString,
    clock,
    env: { BOOTSTRAP_ADMINS: 'root-admin', SCOPES: 'orders.read,orders.write' },
  })
  await adminToken(svc.url, adminKey, 'root-admin')
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

/** Adds a passkey to the signed-in account (registration with Bearer `{}`). */
async function addPasskey(token: string, auth: SoftAuthenticator) {
  const o = await post(svc.url, '/api/webauthn/registration/options', {}, bearer(token))
  if (o.status !== 200) return o
  const credential = await auth.createCredential(o.body, { origin: ORIGIN })
  return post(svc.url, '/api/webauthn/registration/verify', { credential }, bearer(token))
}

async function audit(type: string) {
  const r = await call(svc.url, 'GET', '/api/manage/audit?limit=1000', undefined, bearer(await admin()))
  assert.equal(r.status, 200)
  const events = (Array.isArray(r.body) ? r.body : r.body.events) as any[]
  return events.filter((e) => e.type === type)
}

describe('Re-authentication for account changes (REAUTH_MAX_AGE, RFC 9470 challenge)', () => {
  it('a stolen refresh token can no longer plant a passkey: refresh keeps auth_time, an old sign-in gets 401 with the challenge', async () => {
    const victim = new SoftAuthenticator()
    const up = await signUp(svc.url, victim, uniq('victim'))
    const signedInAt = decodeJwt(up.tokens.access_token).payload.auth_time
    clock.advance(11 * 60 * 1000) // 11 minutes: the access token has expired, the refresh token has not
    const refreshed = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: up.tokens.refresh_token })
    assert.equal(refreshed.status, 200)
    const token = refreshed.body.access_token
    assert.equal(decodeJwt(token).payload.auth_time, signedInAt, 'a refreshed token keeps the auth_time of its sign-in')

    const attacker = new SoftAuthenticator()
    const add = await addPasskey(token, attacker)
    assert.equal(add.status, 401)
    assert.equal(add.body.code, 'insufficient_user_authentication')
    assert.equal(add.headers.get('content-type'), 'application/problem+json')
    assert.equal(
      add.headers.get('www-authenticate'),
      'Bearer error="insufficient_user_authentication", max_age=300',
    )
    const [first] = (await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(token))).body
    const rename = await call(svc.url, 'PATCH', `/api/me/credentials/${first.id}`, { label: 'mine now' }, bearer(token))
    assert.equal(rename.status, 401)
    assert.equal(rename.body.code, 'insufficient_user_authentication')
    const del = await call(svc.url, 'DELETE', `/api/me/credentials/${first.id}`, undefined, bearer(token))
    assert.equal(del.status, 401)
    assert.match(del.headers.get('www-authenticate') ?? '', /max_age=300/)
    // Verify with a bearer is checked too (options could have been fetched while fresh).
    const verify = await post(svc.url, '/api/webauthn/registration/verify', { credential: {} }, bearer(token))
    assert.equal(verify.body.code, 'insufficient_user_authentication')
    // Nothing changed: one passkey, its label as before.
    const after = (await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(token))).body
    assert.deepEqual(after.map((c: any) => [c.id, c.label]), [[first.id, first.label]])
    // Every refusal is audited.
    const refused = (await audit('account.change_refused')).filter((e) => e.target.userId === up.user.id)
    assert.deepEqual(refused.map((e) => e.detail.change).sort(), ['passkey.add', 'passkey.add', 'passkey.delete', 'passkey.rename'])
    assert.ok(refused.every((e) => e.outcome === 'failure' && e.detail.maxAge === 300 && e.detail.signInAge >= 660))
  })

  it('a fresh passkey sign-in is the step-up: within REAUTH_MAX_AGE the same changes succeed', async () => {
    const auth = new SoftAuthenticator()
    const username = uniq('fresh')
    await signUp(svc.url, auth, username)
    clock.advance(10 * 60 * 1000)
    const again = await signIn(svc.url, auth, username)
    assert.equal(again.status, 200)
    const token = again.body.access_token
    clock.advance(299 * 1000)
    assert.equal((await addPasskey(token, new SoftAuthenticator())).status, 201)
    const list = (await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(token))).body
    assert.equal((await call(svc.url, 'PATCH', `/api/me/credentials/${list[1].id}`, { label: 'spare' }, bearer(token))).status, 200)
    clock.advance(2 * 1000) // 301 s: one second too old
    assert.equal((await call(svc.url, 'DELETE', `/api/me/credentials/${list[1].id}`, undefined, bearer(token))).status, 401)
  })

  it('reading the account needs no fresh sign-in', async () => {
    const up = await signUp(svc.url, new SoftAuthenticator(), uniq('reader'))
    clock.advance(9 * 60 * 1000)
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(up.tokens.access_token))).status, 200)
    assert.equal((await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(up.tokens.access_token))).status, 200)
  })
})

describe('The last passkey stays (concurrent deletions)', () => {
  it('two concurrent deletions on an account with two passkeys: never both, one usable passkey remains (20 trials)', async () => {
    // The session signed in with one of the two, so a deletion that starts after the other one
    // committed finds its session revoked (401); one that raced it to the store gets 409.
    let raced = 0
    for (let trial = 0; trial < 20; trial++) {
      const up = await signUp(svc.url, new SoftAuthenticator(), uniq('race'))
      const token = up.tokens.access_token
      assert.equal((await addPasskey(token, new SoftAuthenticator())).status, 201)
      const ids = (await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(token))).body.map((c: any) => c.id)
      assert.equal(ids.length, 2)
      const results = await Promise.all(ids.map((id: string) => call(svc.url, 'DELETE', `/api/me/credentials/${id}`, undefined, bearer(token))))
      const statuses = results.map((r) => r.status).sort()
      const detail = `trial ${trial}: ${JSON.stringify(results.map((r) => r.body))}`
      assert.equal(statuses.filter((s) => s === 204).length, 1, detail)
      const other = results.find((r) => r.status !== 204)!
      if (other.status === 409) {
        assert.equal(other.body.code, 'last_credential', detail)
        raced++
      } else assert.deepEqual([other.status, other.body.detail], [401, 'The session of this token was revoked'], detail)
      const account = await svc.store.getAccount(up.user.id)
      assert.equal(account!.credentials.filter((c) => !c.flaggedAt).length, 1, `${detail}: one usable passkey remains`)
    }
    assert.ok(raced >= 2, `the deletions reached the store together in ${raced} of 20 trials`)
  })

  it('three concurrent deletions on an account with three passkeys: at most two succeed', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const up = await signUp(svc.url, new SoftAuthenticator(), uniq('race3'))
      const token = up.tokens.access_token
      for (let i = 0; i < 2; i++) assert.equal((await addPasskey(token, new SoftAuthenticator())).status, 201)
      const ids = (await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(token))).body.map((c: any) => c.id)
      const results = await Promise.all(ids.map((id: string) => call(svc.url, 'DELETE', `/api/me/credentials/${id}`, undefined, bearer(token))))
      // 409 for a deletion that raced the others to the store; 401 for one that started after the
      // passkey its own session signed in with was deleted (that revokes the session).
      assert.ok(
        results.every((r) => r.status === 204 || r.body.code === 'last_credential' || r.body.detail === 'The session of this token was revoked'),
        JSON.stringify(results.map((r) => r.status)),
      )
      assert.ok(results.filter((r) => r.status === 204).length <= 2)
      const account = await svc.store.getAccount(up.user.id)
      assert.ok(account!.credentials.filter((c) => !c.flaggedAt).length >= 1, `trial ${trial}`)
    }
  })

  it('a passkey revoked by an administrator does not count: deleting the only usable one is 409', async () => {
    const up = await signUp(svc.url, new SoftAuthenticator(), uniq('revoked'))
    const token = up.tokens.access_token
    assert.equal((await addPasskey(token, new SoftAuthenticator())).status, 201)
    // a: the passkey this session signed in with; b: the added one, which the administrator revokes.
    const a = up.credential.id
    const b = (await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(token))).body.map((c: any) => c.id).find((id: string) => id !== a)
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/credentials/${b}`, undefined, bearer(await admin()))).status, 204)
    const del = await call(svc.url, 'DELETE', `/api/me/credentials/${a}`, undefined, bearer(token))
    assert.equal(del.status, 409)
    assert.equal(del.body.code, 'last_credential')
  })
})

describe('Backup eligibility is fixed at registration (WebAuthn L3 §7.2 step 19)', () => {
  for (const registeredBe of [false, true]) {
    it(`a passkey registered with BE=${registeredBe ? 1 : 0} signing in with BE=${registeredBe ? 0 : 1}: 400 backup_eligibility_changed, nothing updated`, async () => {
      const auth = new SoftAuthenticator({ backupEligible: registeredBe })
      const username = uniq('be')
      const up = await signUp(svc.url, auth, username)
      const before = await svc.store.getAccount(up.user.id)
      const flip = registeredBe ? { be: false, bs: false } : { be: true, bs: true }
      const r = await signIn(svc.url, auth, username, { overrideFlags: flip })
      assert.equal(r.status, 400)
      assert.equal(r.body.code, 'backup_eligibility_changed')
      const afterwards = await svc.store.getAccount(up.user.id)
      const [c0, c1] = [before!.credentials[0]!, afterwards!.credentials[0]!]
      assert.deepEqual(
        [c1.backupEligible, c1.backedUp, c1.counter, c1.lastUsedAt, c1.etag],
        [c0.backupEligible, c0.backedUp, c0.counter, c0.lastUsedAt, c0.etag],
        'the stored credential is untouched',
      )
      assert.equal((await svc.store.listSessions(up.user.id)).length, 1, 'no session was made')
      // Without the key, a flipped flag tells nothing: the signature is checked first.
      const forged = await signIn(svc.url, auth, username, { overrideFlags: flip, tamperSignature: true })
      assert.equal(forged.body.code, 'signature_invalid', 'an unsigned probe cannot learn the stored BE flag')
      // The same passkey with its real flags still signs in, with the device-bound/synced amr it had.
      const ok = await signIn(svc.url, auth, username)
      assert.equal(ok.status, 200)
      assert.equal(decodeJwt(ok.body.access_token).payload.amr[0], registeredBe ? 'swk' : 'hwk')
    })
  }
})

describe('Scopes are granted, not echoed (SCOPES, client scopes)', () => {
  it('discovery lists exactly the grantable scopes', async () => {
    const d = await call(svc.url, 'GET', '/api/.well-known/openid-configuration')
    assert.deepEqual(d.body.scopes_supported, ['openid', 'profile', 'orders.read', 'orders.write'])
  })

  it('authentication/verify: a scope outside SCOPES → 400 invalid_scope; a grantable one is granted', async () => {
    const auth = new SoftAuthenticator()
    const username = uniq('scoped')
    await signUp(svc.url, auth, username)
    for (const scope of ['payroll.admin', 'admin', 'openid admin']) {
      const r = await signIn(svc.url, auth, username, {}, { scope })
      assert.equal(r.status, 400, scope)
      assert.equal(r.body.code, 'invalid_scope', scope)
      assert.equal(r.headers.get('content-type'), 'application/problem+json')
    }
    const ok = await signIn(svc.url, auth, username, {}, { scope: 'openid orders.read' })
    assert.equal(ok.status, 200)
    assert.equal(ok.body.scope, 'openid orders.read')
    assert.equal(decodeJwt(ok.body.access_token).payload.scope, 'openid orders.read')
  })

  it('refresh: a scope no longer grantable (SCOPES changed) → invalid_scope; a narrower grantable one is fine', async () => {
    const shared = { TABLE_PREFIX: `scopes${process.pid}`, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }
    const before = await startService({ connectionString: azurite.connectionString, env: { ...shared, SCOPES: 'orders.read' } })
    const afterwards = await startService({ connectionString: azurite.connectionString, env: { ...shared, SCOPES: 'orders.write' } })
    try {
      const auth = new SoftAuthenticator()
      const username = uniq('narrow')
      await signUp(before.url, auth, username)
      const t = await signIn(before.url, auth, username, {}, { scope: 'openid orders.read' })
      assert.equal(t.body.scope, 'openid orders.read')
      const refused = await form(afterwards.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.body.refresh_token })
      assert.deepEqual([refused.status, refused.body.error], [400, 'invalid_scope'])
      const narrowed = await form(afterwards.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, scope: 'openid' })
      assert.deepEqual([narrowed.status, narrowed.body.scope], [200, 'openid'])
    } finally {
      await afterwards.close()
      await before.close()
    }
  })

  it('client registration: scopes must be grantable; the client view shows them', async () => {
    const bad = await post(svc.url, '/api/manage/clients', { name: 'x', redirect_uris: ['https://app.example/cb'], scopes: ['payroll.admin'] }, bearer(await admin()))
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'invalid_request')
    assert.match(bad.body.detail, /payroll\.admin/)
    const ok = await registerClient(svc.url, await admin(), { name: 'orders app', redirect_uris: ['https://app.example/cb'], scopes: ['orders.read'] })
    assert.deepEqual(ok.scopes, ['orders.read'])
  })

  it('the authorization endpoint refuses a scope the client was not registered with (redirect with invalid_scope)', async () => {
    const client = (await registerClient(svc.url, await admin(), { name: 'reader app', redirect_uris: ['https://reader.example/cb'], scopes: ['orders.read'] })).client_id
    const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url')
    const url = (scope: string) =>
      `${svc.url}/api/oauth2/authorize?${new URLSearchParams({ client_id: client, redirect_uri: 'https://reader.example/cb', response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', state: 's1', scope })}`
    const refused = await openAuthorize(url('openid orders.write'))
    assert.equal(refused.status, 302)
    const to = new URL(refused.headers.get('location')!)
    assert.equal(to.searchParams.get('error'), 'invalid_scope')
    assert.equal(to.searchParams.get('state'), 's1')
    assert.equal((await openAuthorize(url('openid profile orders.read'))).status, 200)
  })
})

describe('No account enumeration by sign-in options', () => {
  const options = async (username: string) => (await post(svc.url, '/api/webauthn/authentication/options', { username })).body

  it('an unknown name gets options with the same members as a known one, no transports for anyone, the same each time', async () => {
    const known = uniq('known')
    await signUp(svc.url, new SoftAuthenticator({ transports: ['usb', 'nfc'] }), known)
    const real = await options(known)
    const unknown = uniq('nobody')
    const decoy = await options(unknown)
    assert.deepEqual(Object.keys(decoy).sort(), Object.keys(real).sort())
    assert.equal(real.allowCredentials.length, 1)
    for (const list of [real.allowCredentials, decoy.allowCredentials])
      for (const c of list) assert.deepEqual(Object.keys(c).sort(), ['id', 'type'], 'no transports: they would tell a real account')
    assert.ok(decoy.allowCredentials.length >= 1 && decoy.allowCredentials.length <= 5)
    const again = await options(unknown)
    assert.deepEqual(again.allowCredentials, decoy.allowCredentials, 'stable per name')
    assert.notEqual(again.challenge, decoy.challenge)
  })

  it('decoys follow a distribution: over many names, counts 1 to 3 and several id lengths occur', async () => {
    const counts = new Set<number>()
    const lengths = new Set<number>()
    for (let i = 0; i < 60; i++) {
      const o = await options(`ghost${process.pid}x${i}`)
      counts.add(o.allowCredentials.length)
      for (const c of o.allowCredentials) lengths.add(Buffer.from(c.id, 'base64url').length)
    }
    assert.ok(counts.has(1) && counts.has(2) && counts.has(3), `counts ${[...counts]}`)
    assert.ok([...counts].every((c) => c >= 1 && c <= 5), `counts ${[...counts]}`)
    assert.ok(lengths.size >= 3, `lengths ${[...lengths]}`)
    for (const l of lengths) assert.ok([16, 20, 32, 64].includes(l), `length ${l}`)
  })

  it('REGISTRATION=closed: 403 registration_closed whether or not the name exists (BOOTSTRAP_ADMINS excepted)', async () => {
    // Two services on the same tables: an open one makes an account, a closed one is asked.
    const shared = { TABLE_PREFIX: `closed${process.pid}`, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }
    const open = await startService({ connectionString: azurite.connectionString, env: shared })
    const closed = await startService({ connectionString: azurite.connectionString, env: { ...shared, REGISTRATION: 'closed', BOOTSTRAP_ADMINS: 'first-admin' } })
    try {
      await signUp(open.url, new SoftAuthenticator(), 'existing-person')
      for (const username of ['existing-person', 'nobody-here']) {
        const r = await post(closed.url, '/api/webauthn/registration/options', { username })
        assert.deepEqual([r.status, r.body.code], [403, 'registration_closed'], username)
      }
      const admin = await signUp(closed.url, new SoftAuthenticator(), 'first-admin')
      assert.deepEqual(decodeJwt(admin.tokens.access_token).payload.roles, ['admin'], 'the first administrator can join while closed')
      // Once taken, the bootstrap name answers like every other name: 403, not 409.
      const again = await post(closed.url, '/api/webauthn/registration/options', { username: 'first-admin' })
      assert.deepEqual([again.status, again.body.code], [403, 'registration_closed'])
    } finally {
      await closed.close()
      await open.close()
    }
  })
})

describe('Field limits before storage', () => {
  it('a 40,000-character userHandle → 400 invalid_request (not 503), and the challenge is used up', async () => {
    const auth = new SoftAuthenticator()
    const username = uniq('handle')
    await signUp(svc.url, auth, username)
    const o = await post(svc.url, '/api/webauthn/authentication/options', {})
    const credential = await auth.getAssertion(o.body, { origin: ORIGIN })
    const huge = { ...credential, response: { ...credential.response, userHandle: 'A'.repeat(40_000) } }
    const r = await post(svc.url, '/api/webauthn/authentication/verify', { credential: huge })
    assert.equal(r.status, 400)
    assert.equal(r.body.code, 'invalid_request')
    assert.match(r.body.detail, /userHandle/)
    // The challenge was consumed by that attempt.
    assert.equal((await post(svc.url, '/api/webauthn/authentication/verify', { credential })).body.code, 'challenge_unknown')
    // 65 bytes is one too many; 64 is the WebAuthn maximum and reaches the account lookup.
    for (const [bytes, code] of [[65, 'invalid_request'], [64, 'credential_unknown']] as const) {
      const oo = await post(svc.url, '/api/webauthn/authentication/options', {})
      const cc = await auth.getAssertion(oo.body, { origin: ORIGIN })
      const rr = await post(svc.url, '/api/webauthn/authentication/verify', {
        credential: { ...cc, response: { ...cc.response, userHandle: randomBytes(bytes).toString('base64url') } },
      })
      assert.equal(rr.body.code, code, `${bytes} bytes`)
    }
  })

  it('the same cap through /api/oauth2/authorize/complete', async () => {
    const auth = new SoftAuthenticator()
    await signUp(svc.url, auth, uniq('hosted'))
    const client = (await registerClient(svc.url, await admin(), { name: 'hosted app', redirect_uris: ['https://hosted.example/cb'] })).client_id
    const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url')
    const page = await openAuthorize(
      `${svc.url}/api/oauth2/authorize?${new URLSearchParams({ client_id: client, redirect_uri: 'https://hosted.example/cb', response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256' })}`,
    )
    assert.equal(page.status, 200)
    const o = await post(svc.url, '/api/oauth2/authorize/options', { request: page.handle })
    const credential = await auth.getAssertion(o.body.options, { origin: ORIGIN })
    const huge = { ...credential, response: { ...credential.response, userHandle: 'A'.repeat(40_000) } }
    const r = await post(svc.url, '/api/oauth2/authorize/complete', { request: o.body.request, credential: huge })
    assert.equal(r.status, 400)
    assert.equal(r.body.code, 'invalid_request')
  })
})
