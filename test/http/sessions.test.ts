/**
 * CONTRACT v2 "People and sessions" → "Sessions", over HTTP against a real Azurite: the account's
 * live sessions, signing one out, signing out everywhere else, an administrator's view, and what
 * a revoked session's tokens get afterwards (refresh `invalid_grant`, bearer 401, authorizer 401).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post, signUp } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'
import { registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
const adminKey = new SoftAuthenticator()
let n = 0
const uniq = () => `sess${process.pid}n${++n}`

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'sess-admin' } })
  await signUp(svc.url, adminKey, 'sess-admin')
  const role = await call(svc.url, 'PUT', '/api/manage/roles/reader', { permissions: [{ methods: ['GET'], path: '/orders/**' }] }, bearer(await admin()))
  assert.equal(role.status, 200)
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

interface Tokens {
  access_token: string
  refresh_token: string
}

/** A passkey sign-in from a browser that says `userAgent`. */
async function signInAs(auth: SoftAuthenticator, userAgent: string): Promise<Tokens> {
  const o = await post(svc.url, '/api/webauthn/authentication/options', {})
  const credential = await auth.getAssertion(o.body, { origin: ORIGIN })
  const r = await post(svc.url, '/api/webauthn/authentication/verify', { credential }, { 'user-agent': userAgent })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body
}

/** A person with three sessions: the sign-up's, then sign-ins from a laptop and a phone. */
async function person() {
  const auth = new SoftAuthenticator()
  const up = await signUp(svc.url, auth, uniq())
  const laptop = await signInAs(auth, 'Laptop/1.0')
  const phone = await signInAs(auth, 'Phone/2.0')
  return { auth, id: up.user.id as string, credentialId: up.credential.id as string, signUp: up.tokens as Tokens, laptop, phone }
}

const sid = (t: Tokens) => decodeJwt(t.access_token).payload.sid as string
const list = (t: Tokens | string) => call(svc.url, 'GET', '/api/me/sessions', undefined, bearer(typeof t === 'string' ? t : t.access_token))
const refresh = (t: Tokens) => form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token })
const admin = async () => (await signInAs(adminKey, 'Admin/1.0')).access_token

async function audit(type: string) {
  const r = await call(svc.url, 'GET', '/api/manage/audit?limit=1000', undefined, bearer(await admin()))
  assert.equal(r.status, 200)
  return ((Array.isArray(r.body) ? r.body : r.body.events) as any[]).filter((e) => e.type === type)
}

describe('GET /api/me/sessions', () => {
  it("lists the account's live sessions with times, client, passkey and User-Agent; current is the caller's", async () => {
    const p = await person()
    const r = await list(p.laptop)
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('cache-control'), 'no-store')
    assert.deepEqual(new Set(r.body.map((s: any) => s.id)), new Set([sid(p.signUp), sid(p.laptop), sid(p.phone)]))
    assert.deepEqual(r.body.filter((s: any) => s.current).map((s: any) => s.id), [sid(p.laptop)])
    const phone = r.body.find((s: any) => s.id === sid(p.phone))
    const claims = decodeJwt(p.phone.access_token).payload
    assert.deepEqual(phone, {
      id: sid(p.phone),
      createdAt: phone.createdAt,
      lastUsedAt: phone.createdAt,
      expiresAt: new Date(Date.parse(phone.createdAt) + svc.config.refreshTokenTtl * 1000).toISOString(),
      clientId: 'passkey-web',
      credentialId: p.credentialId,
      userAgent: 'Phone/2.0',
      current: false,
    })
    assert.equal(Math.floor(Date.parse(phone.createdAt) / 1000), claims.auth_time)
    assert.equal(r.body.find((s: any) => s.id === sid(p.laptop)).userAgent, 'Laptop/1.0')
    // The person's list only: another account's sessions are not in it.
    const other = await person()
    assert.ok(!(await list(other.laptop)).body.some((s: any) => s.id === sid(p.laptop)))
  })

  it('leaves out revoked and expired sessions; a refresh moves lastUsedAt (most recently used first)', async () => {
    const p = await person()
    assert.equal((await form(svc.url, '/api/oauth2/revoke', { token: p.signUp.refresh_token })).status, 200)
    // A session past its expiry, written as an old sign-in left it.
    const [laptop] = (await svc.store.listSessions(p.id)).filter((s) => s.id === sid(p.laptop))
    await svc.store.createSession({ ...laptop!, id: 'expiredSession0000000A', expiresAt: clock.now() - 1, etag: undefined })
    // The authorization endpoint's sessions ('-' sorts first by row key: the list sorts by use): one whose code expired unused never issued a token.
    const code = { redirectUri: 'https://app.example/cb', codeChallenge: 'x', expiresAt: clock.now() - 1 }
    await svc.store.createSession({ ...laptop!, id: 'unusedCodeSession00000A', authorizationCode: code, etag: undefined })
    await svc.store.createSession({ ...laptop!, id: '-usedCodeSession000000A', authorizationCode: { ...code, usedAt: clock.now() - 2 }, lastUsedAt: 0, etag: undefined })
    assert.equal((await svc.store.listSessions(p.id)).length, 6)
    clock.advance(60_000)
    const refreshed = await refresh(p.laptop)
    assert.equal(refreshed.status, 200)
    const r = await list(refreshed.body.access_token)
    assert.deepEqual(r.body.map((s: any) => s.id), [sid(p.laptop), sid(p.phone), '-usedCodeSession000000A'])
    assert.equal(r.body[0].lastUsedAt, new Date(clock.now()).toISOString())
    assert.ok(r.body[0].createdAt < r.body[0].lastUsedAt)
    assert.equal(r.body[1].lastUsedAt, r.body[1].createdAt)
  })

  it('keeps at most 256 characters of the User-Agent, as the audit does', async () => {
    const auth = new SoftAuthenticator()
    await signUp(svc.url, auth, uniq())
    const t = await signInAs(auth, `Browser/${'x'.repeat(400)}`)
    const mine = (await list(t)).body.find((s: any) => s.current)
    assert.equal(mine.userAgent, `Browser/${'x'.repeat(248)}`)
  })

  it('401 without a token; 403 for a token another application holds (first-party only)', async () => {
    assert.equal((await call(svc.url, 'GET', '/api/me/sessions')).status, 401)
    assert.equal((await call(svc.url, 'DELETE', '/api/me/sessions')).status, 401)
    const p = await person()
    const [s] = await svc.store.listSessions(p.id)
    const foreign = await svc.core.sessions.respond((await svc.store.getUser(p.id))!, { ...s!, clientId: 'another-app' }, 'x')
    assert.equal((await list(foreign.access_token)).status, 403)
  })
})

describe('DELETE /api/me/sessions/{id}', () => {
  it('signs one session out: its refresh gets invalid_grant, its access token is refused at once, here and by the authorizer', async () => {
    const p = await person()
    assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${p.id}/roles/reader`, undefined, bearer(await admin()))).status, 200)
    const phone = (await refresh(p.phone)).body as Tokens // a token with the role
    const check = () => post(svc.url, '/api/authz/check', { method: 'GET', path: '/orders/1' }, bearer(phone.access_token))
    assert.equal((await check()).body.allow, true) // now cached by the authorizer
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(phone.access_token))).status, 200)

    const r = await call(svc.url, 'DELETE', `/api/me/sessions/${sid(p.phone)}`, undefined, bearer(p.laptop.access_token))
    assert.equal(r.status, 204)
    const again = await refresh(phone)
    assert.equal(again.status, 400)
    assert.equal(again.body.error, 'invalid_grant')
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(phone.access_token))).status, 401)
    assert.deepEqual([(await check()).body.allow, (await check()).body.status], [false, 401])
    // The others stay; the revoked one is gone from the list and cannot be revoked again.
    assert.deepEqual(new Set((await list(p.laptop)).body.map((s: any) => s.id)), new Set([sid(p.signUp), sid(p.laptop)]))
    assert.equal((await refresh(p.signUp)).status, 200)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/sessions/${sid(p.phone)}`, undefined, bearer(p.laptop.access_token))).status, 404)

    const events = (await audit('session.revoked')).filter((e) => e.target.sessionId === sid(p.phone))
    assert.equal(events.length, 1)
    assert.deepEqual(events[0].actor, { userId: p.id })
    assert.deepEqual(events[0].target, { userId: p.id, sessionId: sid(p.phone), credentialId: p.credentialId })
    assert.deepEqual(events[0].detail, { reason: 'signed out by the user', clientId: 'passkey-web' })
    const stored = JSON.stringify(events[0])
    for (const secret of [p.phone.access_token, p.phone.refresh_token, phone.refresh_token]) assert.ok(!stored.includes(secret))
  })

  it("the current session too (signing out); another account's session or an unknown id → 404, that session untouched", async () => {
    const p = await person()
    const other = await person()
    for (const id of [sid(other.laptop), 'AAAAAAAAAAAAAAAAAAAAAA', 'A'.repeat(1500), 'not%20base64url']) {
      const r = await call(svc.url, 'DELETE', `/api/me/sessions/${id}`, undefined, bearer(p.laptop.access_token))
      assert.equal(r.status, 404, id)
      assert.equal(r.body.code, 'not_found')
    }
    assert.equal((await refresh(other.laptop)).status, 200)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/sessions/${sid(p.laptop)}`, undefined, bearer(p.laptop.access_token))).status, 204)
    assert.equal((await list(p.laptop)).status, 401)
  })
})

describe('DELETE /api/me/sessions (sign out everywhere else)', () => {
  it('keeps only the current session; the others are refused and each one is audited once', async () => {
    const p = await person()
    const r = await call(svc.url, 'DELETE', '/api/me/sessions', undefined, bearer(p.laptop.access_token))
    assert.equal(r.status, 204)
    assert.deepEqual((await list(p.laptop)).body.map((s: any) => s.id), [sid(p.laptop)])
    for (const t of [p.signUp, p.phone]) {
      assert.equal((await refresh(t)).body.error, 'invalid_grant')
      assert.equal((await list(t)).status, 401)
    }
    assert.equal((await refresh(p.laptop)).status, 200)
    const events = (await audit('session.revoked')).filter((e) => e.target.userId === p.id)
    assert.deepEqual(events.map((e) => e.target.sessionId).sort(), [sid(p.signUp), sid(p.phone)].sort())
    for (const e of events) {
      assert.deepEqual(e.actor, { userId: p.id })
      assert.equal(e.detail.reason, 'signed out everywhere else')
    }
  })

  it('two at once leave exactly the current session, each other session revoked and audited once', async () => {
    const p = await person()
    const more = [await signInAs(p.auth, 'Tablet/3.0'), await signInAs(p.auth, 'TV/4.0')]
    const both = await Promise.all([1, 2].map(() => call(svc.url, 'DELETE', '/api/me/sessions', undefined, bearer(p.laptop.access_token))))
    assert.deepEqual(both.map((r) => r.status), [204, 204])
    const stored = await svc.store.listSessions(p.id)
    assert.deepEqual(stored.filter((s) => !s.revokedAt).map((s) => s.id), [sid(p.laptop)])
    const events = (await audit('session.revoked')).filter((e) => e.target.userId === p.id)
    assert.deepEqual(events.map((e) => e.target.sessionId).sort(), [p.signUp, p.phone, ...more].map(sid).sort())
  })

  it('needs no recent sign-in: a refreshed token long after the sign-in still signs out', async () => {
    const p = await person()
    clock.advance((svc.config.reauthMaxAge + 60) * 1000)
    const late = (await refresh(p.laptop)).body as Tokens
    assert.equal((await call(svc.url, 'DELETE', '/api/me/sessions', undefined, bearer(late.access_token))).status, 204)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/sessions/${sid(p.laptop)}`, undefined, bearer(late.access_token))).status, 204)
  })
})

describe('GET / DELETE /api/manage/users/{userId}/sessions', () => {
  it("an administrator lists a person's live sessions and signs them out everywhere (audited with the administrator as actor)", async () => {
    const p = await person()
    const token = await admin()
    const adminId = decodeJwt(token).payload.sub as string
    const r = await call(svc.url, 'GET', `/api/manage/users/${p.id}/sessions`, undefined, bearer(token))
    assert.equal(r.status, 200)
    assert.deepEqual(new Set(r.body.map((s: any) => s.id)), new Set([sid(p.signUp), sid(p.laptop), sid(p.phone)]))
    assert.ok(r.body.every((s: any) => s.current === false))
    // The administrator's own list marks their own session.
    const own = await call(svc.url, 'GET', `/api/manage/users/${adminId}/sessions`, undefined, bearer(token))
    assert.deepEqual(own.body.filter((s: any) => s.current).map((s: any) => s.id), [decodeJwt(token).payload.sid])

    assert.equal((await call(svc.url, 'DELETE', `/api/manage/users/${p.id}/sessions`, undefined, bearer(token))).status, 204)
    assert.deepEqual((await call(svc.url, 'GET', `/api/manage/users/${p.id}/sessions`, undefined, bearer(token))).body, [])
    for (const t of [p.signUp, p.laptop, p.phone]) {
      assert.equal((await refresh(t)).body.error, 'invalid_grant')
      assert.equal((await list(t)).status, 401)
    }
    const events = (await audit('session.revoked')).filter((e) => e.target.userId === p.id)
    assert.equal(events.length, 3)
    for (const e of events) {
      assert.deepEqual(e.actor, { userId: adminId })
      assert.equal(e.detail.reason, 'revoked by an administrator')
    }
    // The administrator's own sessions were not touched.
    assert.equal((await call(svc.url, 'GET', `/api/manage/users/${p.id}/sessions`, undefined, bearer(token))).status, 200)
  })

  it("unknown user (or an OAuth client's id) → 404; not an administrator → 403, and nothing is revoked", async () => {
    const token = await admin()
    const client = await registerClient(svc.url, token, { name: 'portal', redirect_uris: ['https://app.example/cb'] })
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'A'.repeat(1500), client.client_id]) {
      assert.equal((await call(svc.url, 'GET', `/api/manage/users/${id}/sessions`, undefined, bearer(token))).status, 404)
      assert.equal((await call(svc.url, 'DELETE', `/api/manage/users/${id}/sessions`, undefined, bearer(token))).status, 404)
    }
    const p = await person()
    const other = await person()
    for (const method of ['GET', 'DELETE']) {
      const r = await call(svc.url, method, `/api/manage/users/${other.id}/sessions`, undefined, bearer(p.laptop.access_token))
      assert.equal(r.status, 403)
      assert.equal(r.body.code, 'forbidden')
    }
    assert.equal((await list(other.laptop)).body.length, 3)
  })
})
