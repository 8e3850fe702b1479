/**
 * CONTRACT v2 "Disabling and deleting accounts" and "Users and clients" against a real Azurite:
 * PATCH /api/manage/users/{userId} { disabled } (sign-ins, refresh, bearer, the authorizer here
 * and on another instance within AUTHZ_CACHE_TTL, races) and the paged GET /api/manage/users.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, form, post, signIn, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { keyPair } from '../helpers/keys.js'
import { openAuthorize, passkeyStep, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
let admin: { token: string; id: string }
let n = 0
const uniq = (p = 'mu') => `${p}${process.pid}n${++n}`
const CALLBACK = 'http://127.0.0.1/callback'
let portal: string

const patch = (userId: string, body: unknown, token = admin.token) => call(svc.url, 'PATCH', `/api/manage/users/${userId}`, body, bearer(token))
const refresh = (token: string) => form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: token })
const check = (token: string, on = svc) => post(on.url, '/api/authz/check', { method: 'GET', path: '/orders/1' }, bearer(token))

async function user(roles: string[] = []) {
  const auth = new SoftAuthenticator()
  const up = await signUp(svc.url, auth, uniq())
  for (const role of roles) assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${up.user.id}/roles/${role}`, undefined, bearer(admin.token))).status, 200)
  return { auth, id: up.user.id, username: up.user.username, token: up.tokens.access_token as string, refresh: up.tokens.refresh_token as string }
}

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, port: await freePort(), env: { BOOTSTRAP_ADMINS: 'boss' } })
  const up = await signUp(svc.url, new SoftAuthenticator(), 'boss')
  admin = { token: up.tokens.access_token, id: up.user.id }
  assert.equal((await call(svc.url, 'PUT', '/api/manage/roles/reader', { permissions: [{ methods: ['GET'], path: '/orders/*' }] }, bearer(admin.token))).status, 200)
  portal = (await registerClient(svc.url, admin.token, { name: 'Portal', redirect_uris: [CALLBACK] })).client_id
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('PATCH /api/manage/users/{userId} { disabled }', () => {
  it('disabling: sign-in 403 user_disabled, refresh invalid_grant, the old access token 401, sessions revoked; enabling signs in again', async () => {
    const u = await user()
    const r = await patch(u.id, { disabled: true })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.headers.get('cache-control'), 'no-store')
    assert.deepEqual([r.body.id, r.body.username, r.body.disabled], [u.id, u.username, true])
    assert.equal(r.body.credentials, undefined)
    const s = await signIn(svc.url, u.auth)
    assert.deepEqual([s.status, s.body.code], [403, 'user_disabled'])
    assert.equal((await signIn(svc.url, u.auth, u.username)).body.code, 'user_disabled')
    const t = await refresh(u.refresh)
    assert.deepEqual([t.status, t.body.error, t.body.error_description], [400, 'invalid_grant', 'the account is disabled'])
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(u.token))).status, 401)
    // Adding a passkey with the old token: its session is revoked.
    assert.equal((await post(svc.url, '/api/webauthn/registration/options', {}, bearer(u.token))).status, 401)
    assert.ok((await svc.store.listSessions(u.id)).every((x) => x.revokedAt !== undefined))
    const lookup = await call(svc.url, 'GET', `/api/manage/users?username=${u.username}`, undefined, bearer(admin.token))
    assert.equal(lookup.body[0].disabled, true)

    const e = await patch(u.id, { disabled: false })
    assert.deepEqual([e.status, e.body.disabled], [200, false])
    const again = await signIn(svc.url, u.auth)
    assert.equal(again.status, 200, JSON.stringify(again.body))
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(again.body.access_token))).status, 200)
    const me = await call(svc.url, 'GET', '/api/me', undefined, bearer(again.body.access_token))
    assert.equal(me.body.disabled, undefined)
    assert.equal((await refresh(again.body.refresh_token)).status, 200)
  })

  it('audits user.disabled and user.enabled with the administrator as actor, once per change', async () => {
    const u = await user()
    const head = (await svc.store.getAuditHead())?.seq ?? 0
    await patch(u.id, { disabled: true })
    await patch(u.id, { disabled: true }) // idempotent: nothing more recorded
    await patch(u.id, { disabled: false })
    const events = (await svc.store.listAudit(head + 1, 100)).filter((x) => x.type.startsWith('user.'))
    assert.deepEqual(events.map((x) => x.type), ['user.disabled', 'user.enabled'])
    // Stored rows hold the username encrypted under the person's key (docs/audit.md "Personal data").
    for (const x of events) assert.deepEqual([x.actor.userId, x.target.userId, x.target.username?.startsWith(`pd1:${u.id}:`)], [admin.id, u.id, true])
    const shown = (await call(svc.url, 'GET', `/api/manage/audit?since=${head}`, undefined, bearer(admin.token))).body.filter((x: any) => x.type.startsWith('user.'))
    for (const x of shown) assert.equal(x.target.username, u.username)
  })

  it('the authorization code flow: /authorize/complete 403 user_disabled; a code issued before, invalid_grant', async () => {
    const u = await user()
    const verifier = randomBytes(32).toString('base64url')
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    const q = new URLSearchParams({ response_type: 'code', client_id: portal, redirect_uri: CALLBACK, scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256' })
    const authorize = async () => {
      const page = await openAuthorize(`${svc.url}/api/oauth2/authorize?${q}`)
      assert.equal(page.status, 200, page.html.slice(0, 300))
      return passkeyStep(svc.url, page.handle!, u.auth)
    }
    const before = await authorize()
    assert.equal(before.status, 200, JSON.stringify(before.body))
    const code = new URL(before.body.redirect_to).searchParams.get('code')!
    await patch(u.id, { disabled: true })
    const done = await authorize()
    assert.deepEqual([done.status, done.body.code], [403, 'user_disabled'])
    const x = await form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: portal, code_verifier: verifier })
    assert.deepEqual([x.status, x.body.error, x.body.error_description], [400, 'invalid_grant', 'The account is disabled'])
  })

  it('the authorizer: 401 at once on this instance, on another within AUTHZ_CACHE_TTL', async () => {
    const u = await user(['reader'])
    const other = await startService({
      connectionString: azurite.connectionString,
      clock,
      // The same storage, keys and issuer: another instance of this service.
      env: {
        TABLE_PREFIX: svc.config.tablePrefix,
        KEY_ENCRYPTION_KEY: Buffer.from(svc.config.keyEncryptionKey!).toString('base64'),
        PORT: new URL(svc.config.issuer).port,
        ALLOWED_ORIGINS: 'http://localhost:7071',
      },
    })
    try {
      assert.equal(other.config.issuer, svc.config.issuer)
      assert.equal((await check(u.token, other)).body.allow, true) // cached on `other`
      assert.equal((await patch(u.id, { disabled: true })).status, 200)
      const here = await check(u.token)
      assert.deepEqual([here.body.allow, here.body.status, here.body.reason], [false, 401, 'subject disabled'])
      assert.equal((await check(u.token, other)).body.allow, true, 'stale within the bound')
      clock.advance(svc.config.authzCacheTtl * 1000 + 1000)
      const there = await check(u.token, other)
      assert.deepEqual([there.body.allow, there.body.status, there.body.reason], [false, 401, 'subject disabled'])
    } finally {
      clock.advance(-(svc.config.authzCacheTtl * 1000 + 1000))
      await other.close()
    }
  })

  it('disabling during a refresh or a sign-in never leaves a live session or a usable new refresh token', async () => {
    for (let i = 0; i < 4; i++) {
      const u = await user()
      const [r, d, s] = await Promise.all([refresh(u.refresh), patch(u.id, { disabled: true }), signIn(svc.url, u.auth)])
      assert.equal(d.status, 200, JSON.stringify(d.body))
      assert.ok([200, 400].includes(r.status), JSON.stringify(r.body))
      assert.ok([200, 403].includes(s.status), JSON.stringify(s.body))
      for (const res of [r, s].filter((x) => x.status === 200)) {
        assert.equal((await refresh(res.body.refresh_token)).body.error, 'invalid_grant')
        assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(res.body.access_token))).status, 401)
      }
      const live = (await svc.store.listSessions(u.id)).filter((x) => x.revokedAt === undefined)
      assert.deepEqual(live, [], `round ${i}: live sessions after disabling`)
    }
  })

  it('refusals: own account 409, a machine client 400, unknown 404, bad body 400, not an admin 403', async () => {
    assert.deepEqual([(await patch(admin.id, { disabled: true })).status, (await patch(admin.id, { disabled: true })).body.code], [409, 'conflict'])
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(admin.token))).status, 200)
    const jwk = { ...keyPair('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
    const machine = (await registerClient(svc.url, admin.token, { name: 'job', jwks: { keys: [jwk] } })).client_id
    const c = await patch(machine, { disabled: true })
    assert.deepEqual([c.status, c.body.code], [400, 'invalid_request'])
    assert.match(c.body.detail, /DELETE \/api\/manage\/clients/)
    assert.equal((await patch('AAAAAAAAAAAAAAAAAAAAAA', { disabled: true })).status, 404)
    const u = await user()
    assert.equal((await patch(u.id, { disabled: 'yes' })).status, 400)
    assert.equal((await patch(u.id, {})).status, 400)
    assert.equal((await patch(u.id, { disabled: true }, u.token)).status, 403)
    assert.equal((await signIn(svc.url, u.auth)).status, 200, 'nothing changed')
  })
})

describe('GET /api/manage/users (paged)', () => {
  let paged: TestService
  let boss: string
  const people = new Set<string>()
  let machine: string

  before(async () => {
    paged = await startService({ connectionString: azurite.connectionString, env: { BOOTSTRAP_ADMINS: 'pageboss' } })
    const up = await signUp(paged.url, new SoftAuthenticator(), 'pageboss')
    boss = up.tokens.access_token
    people.add(up.user.id)
    const jwk = { ...keyPair('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
    machine = (await registerClient(paged.url, boss, { name: 'job', jwks: { keys: [jwk] } })).client_id
    // 249 more people, written through the store (signing each up over HTTP only adds time).
    const now = Date.now()
    for (let i = 0; i < 249; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, 249 - i) }, async (_, j) => {
          const id = randomBytes(16).toString('base64url')
          const credential = { id: randomBytes(16).toString('base64url'), userId: id, publicKey: 'AA', alg: -7, counter: 0, transports: [], aaguid: '', fmt: 'none', backupEligible: false, backedUp: false, attestationTrusted: false, label: 'x', createdAt: now }
          await paged.store.createAccount({ user: { id, username: `person${i + j}`, displayName: `P ${i + j}`, roles: [], createdAt: now }, credential })
          people.add(id)
        }),
      )
    }
  })
  after(async () => paged?.close())

  const list = (query = '', token = boss) => call(paged.url, 'GET', `/api/manage/users${query}`, undefined, bearer(token))

  it('250 people → pages of 100, 100, 50: every one exactly once, no client principal', async () => {
    const seen: string[] = []
    const sizes: number[] = []
    let cursor: string | undefined
    do {
      const r = await list(cursor ? `?cursor=${encodeURIComponent(cursor)}` : '')
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.equal(r.headers.get('cache-control'), 'no-store')
      sizes.push(r.body.users.length)
      for (const x of r.body.users) {
        assert.deepEqual(Object.keys(x).sort(), ['createdAt', 'disabled', 'displayName', 'id', 'roles', 'username'])
        seen.push(x.id)
      }
      cursor = r.body.next
      assert.ok(sizes.length <= 4, 'the pages end')
    } while (cursor)
    assert.deepEqual(sizes, [100, 100, 50])
    assert.equal(new Set(seen).size, seen.length, 'no one twice')
    assert.deepEqual(new Set(seen), people)
    assert.ok(!seen.includes(machine))
  })

  it('with username: the lookup answers as before (an array, with passkeys)', async () => {
    const r = await list('?username=person7')
    assert.equal(r.status, 200)
    assert.ok(Array.isArray(r.body))
    assert.equal(r.body[0].username, 'person7')
    assert.equal(r.body[0].credentials.length, 1)
    assert.deepEqual((await list('?username=nobody')).body, [])
  })

  it('a cursor not given out → 400 invalid_request; not an admin → 403', async () => {
    const forged = Buffer.from(Buffer.from('{"nope":1}').toString('base64')).toString('base64url')
    for (const cursor of ['not!base64', 'AAAA', forged]) {
      const r = await list(`?cursor=${encodeURIComponent(cursor)}`)
      assert.deepEqual([r.status, r.body.code], [400, 'invalid_request'], cursor)
    }
    const person = await signUp(paged.url, new SoftAuthenticator(), uniq())
    assert.equal((await list('', person.tokens.access_token)).status, 403)
    assert.equal((await list('?username=person7', person.tokens.access_token)).status, 403)
  })
})
