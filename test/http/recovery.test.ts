/**
 * CONTRACT v2 "Recovery" against a real Azurite: POST /api/manage/users/{userId}/recovery and the
 * registration with `{ recovery }`: a passkey added without signing in, every earlier session
 * revoked (refresh → invalid_grant), the old passkeys kept; single use (also two verifies at
 * once), a new issue replaces the last, expiry, a disabled account (user_disabled), a failed verify
 * that leaves the link usable, the token hashed at rest and absent from the audit, storage failures.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { TableClient } from '@azure/data-tables'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, form, post, signIn, signUp } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'
import { keyPair } from '../helpers/keys.js'
import { registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
let admin: { token: string; id: string }
let n = 0
const uniq = (p = 'rec') => `${p}${process.pid}n${++n}`
const HOUR = 3_600_000

const issue = (userId: string, body?: unknown, token = admin.token, on = svc) =>
  call(on.url, 'POST', `/api/manage/users/${userId}/recovery`, body, bearer(token))
const options = (body: unknown, on = svc) => post(on.url, '/api/webauthn/registration/options', body)
const verify = (credential: unknown, on = svc) => post(on.url, '/api/webauthn/registration/verify', { credential })
const refresh = (token: string, on = svc) => form(on.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: token })

/** A person with one passkey and two sessions (sign-up, then a sign-in). */
async function person(on = svc) {
  const auth = new SoftAuthenticator()
  const up = await signUp(on.url, auth, uniq())
  const s = await signIn(on.url, auth)
  assert.equal(s.status, 200)
  return { auth, id: up.user.id, username: up.user.username, refreshes: [up.tokens.refresh_token as string, s.body.refresh_token as string] }
}

/** Options for a recovery, a new passkey, the verify. */
async function recover(token: string, auth = new SoftAuthenticator(), on = svc) {
  const o = await options({ recovery: token }, on)
  assert.equal(o.status, 200, JSON.stringify(o.body))
  return verify(await auth.createCredential(o.body, { origin: ORIGIN }), on)
}

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'boss' } })
  const up = await signUp(svc.url, new SoftAuthenticator(), 'boss')
  admin = { token: up.tokens.access_token, id: up.user.id }
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('POST /api/manage/users/{userId}/recovery', () => {
  it('201 { token, url, expiresAt }: the token in the fragment of the page link, 24 hours by default, up to 7 days', async () => {
    const p = await person()
    const r = await issue(p.id)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.equal(r.headers.get('cache-control'), 'no-store')
    assert.deepEqual(Object.keys(r.body).sort(), ['expiresAt', 'token', 'url'])
    assert.match(r.body.token, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/)
    assert.equal(r.body.url, `${ORIGIN}/api/ui/#recovery=${r.body.token}`)
    assert.equal(Date.parse(r.body.expiresAt), clock.now() + 24 * HOUR)
    const week = await issue(p.id, { ttl: 7 * 86_400 })
    assert.equal(Date.parse(week.body.expiresAt), clock.now() + 7 * 24 * HOUR)
    const noBody = await call(svc.url, 'POST', `/api/manage/users/${p.id}/recovery`, undefined, bearer(admin.token))
    assert.equal(noBody.status, 201)
  })

  it('refusals: ttl out of range 400; unknown user or a machine client 404; not an admin 403, no token 401', async () => {
    const p = await person()
    for (const ttl of [0, 7 * 86_400 + 1, 2.5, 'soon']) {
      const r = await issue(p.id, { ttl })
      assert.deepEqual([r.status, r.body.code], [400, 'invalid_request'], `ttl ${JSON.stringify(ttl)}`)
    }
    assert.equal((await issue('AAAAAAAAAAAAAAAAAAAAAA')).status, 404)
    assert.equal((await issue('nope')).status, 404)
    const jwk = { ...keyPair('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
    const machine = (await registerClient(svc.url, admin.token, { name: 'job', jwks: { keys: [jwk] } })).client_id
    assert.equal((await issue(machine)).status, 404)
    const s = await signIn(svc.url, p.auth)
    assert.equal((await issue(p.id, {}, s.body.access_token)).status, 403)
    assert.equal((await call(svc.url, 'POST', `/api/manage/users/${p.id}/recovery`, {})).status, 401)
    assert.equal(await svc.store.getRecovery(p.id), undefined, 'nothing issued by the refusals')
  })

  it('the token is not stored in clear: the raw row holds SHA-256 of the secret only', async () => {
    const p = await person()
    const r = await issue(p.id)
    const secret = r.body.token.split('.')[1]
    const table = TableClient.fromConnectionString(svc.config.tablesConnectionString!, `${svc.config.tablePrefix}users`, { allowInsecureConnection: true })
    const raw = JSON.stringify(await table.getEntity(p.id, 'recovery'), (_, v) => (typeof v === 'bigint' ? String(v) : v))
    assert.ok(!raw.includes(secret), raw)
    assert.ok(raw.includes(createHash('sha256').update(secret).digest('base64url')))
  })
})

describe('POST /api/webauthn/registration/options { recovery } and the verify', () => {
  it('adds a passkey without signing in; earlier sessions revoked (refresh invalid_grant), old passkeys kept and still signing in', async () => {
    const p = await person()
    const r = await issue(p.id)
    const o = await options({ recovery: r.body.token })
    assert.equal(o.status, 200, JSON.stringify(o.body))
    assert.deepEqual([o.body.user.id, o.body.user.name], [p.id, p.username])
    assert.deepEqual(o.body.excludeCredentials.map((c: any) => c.id), [p.auth.credentials()[0]!.id], 'the old passkey is excluded as usual')
    const fresh = new SoftAuthenticator()
    const v = await verify(await fresh.createCredential(o.body, { origin: ORIGIN }))
    assert.equal(v.status, 201, JSON.stringify(v.body))
    assert.equal(v.body.user.id, p.id)
    assert.ok(v.body.tokens.access_token && v.body.tokens.refresh_token)
    for (const old of p.refreshes) {
      const t = await refresh(old)
      assert.deepEqual([t.status, t.body.error], [400, 'invalid_grant'])
    }
    assert.equal((await refresh(v.body.tokens.refresh_token)).status, 200, 'the new session lives')
    const creds = await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(v.body.tokens.access_token))
    assert.deepEqual(creds.body.map((c: any) => c.id).sort(), [p.auth.credentials()[0]!.id, v.body.credential.id].sort())
    assert.equal((await signIn(svc.url, fresh)).status, 200, 'the new passkey signs in')
    assert.equal((await signIn(svc.url, p.auth)).status, 200, 'the old passkey stays')
    const live = (await svc.store.listSessions(p.id)).filter((s) => s.revokedAt === undefined)
    assert.equal(live.length, 3, 'the recovery session (refreshed) and the two new sign-ins')
  })

  it('single use: a second options or a verify with an earlier challenge → 400 recovery_invalid', async () => {
    const p = await person()
    const r = await issue(p.id)
    const o1 = await options({ recovery: r.body.token })
    const o2 = await options({ recovery: r.body.token })
    assert.equal((await verify(await new SoftAuthenticator().createCredential(o1.body, { origin: ORIGIN }))).status, 201)
    const again = await options({ recovery: r.body.token })
    assert.deepEqual([again.status, again.body.code], [400, 'recovery_invalid'])
    const second = new SoftAuthenticator()
    const late = await verify(await second.createCredential(o2.body, { origin: ORIGIN }))
    assert.deepEqual([late.status, late.body.code], [400, 'recovery_invalid'])
    assert.equal(await svc.store.findCredentialOwner(second.credentials()[0]!.id), undefined, 'nothing written')
    assert.equal((await svc.store.getAccount(p.id))!.credentials.length, 2)
  })

  it('the race: two verifies of one link at once → exactly one 201', async () => {
    for (let round = 0; round < 3; round++) {
      const p = await person()
      const r = await issue(p.id)
      const [oa, ob] = await Promise.all([options({ recovery: r.body.token }), options({ recovery: r.body.token })])
      const a = new SoftAuthenticator()
      const b = new SoftAuthenticator()
      const results = await Promise.all([verify(await a.createCredential(oa.body, { origin: ORIGIN })), verify(await b.createCredential(ob.body, { origin: ORIGIN }))])
      assert.deepEqual(results.map((x) => x.status).sort(), [201, 400], JSON.stringify(results.map((x) => x.body)))
      assert.equal(results.find((x) => x.status === 400)!.body.code, 'recovery_invalid')
      assert.equal((await svc.store.getAccount(p.id))!.credentials.length, 2, 'one passkey added')
      const loser = results[0]!.status === 400 ? a : b
      assert.equal(await svc.store.findCredentialOwner(loser.credentials()[0]!.id), undefined, "the loser's claim was released")
    }
  })

  it('a new issue replaces the last: the first token, and a challenge made with it, answer recovery_invalid', async () => {
    const p = await person()
    const first = await issue(p.id)
    const o = await options({ recovery: first.body.token })
    const second = await issue(p.id)
    const stale = await options({ recovery: first.body.token })
    assert.deepEqual([stale.status, stale.body.code], [400, 'recovery_invalid'])
    const v = await verify(await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN }))
    assert.deepEqual([v.status, v.body.code], [400, 'recovery_invalid'])
    assert.match(v.body.detail, /newer/)
    assert.equal((await recover(second.body.token)).status, 201, 'the new one works')
  })

  it('expired → recovery_invalid (options, and a verify whose challenge outlived the link)', async () => {
    const p = await person()
    const r = await issue(p.id, { ttl: 60 })
    const o = await options({ recovery: r.body.token })
    clock.advance(61_000)
    const v = await verify(await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN }))
    assert.deepEqual([v.status, v.body.code], [400, 'recovery_invalid'])
    assert.match(v.body.detail, /expired/)
    assert.equal((await options({ recovery: r.body.token })).body.code, 'recovery_invalid')
  })

  it('a verify that fails (wrong origin) leaves the link usable', async () => {
    const p = await person()
    const r = await issue(p.id)
    const o = await options({ recovery: r.body.token })
    const bad = await verify(await new SoftAuthenticator().createCredential(o.body, { origin: 'https://evil.example' }))
    assert.deepEqual([bad.status, bad.body.code], [400, 'origin_mismatch'])
    assert.equal((await refresh(p.refreshes[1]!)).status, 200, 'no session revoked by the failure')
    assert.equal((await recover(r.body.token)).status, 201)
  })

  it('a disabled account: options and verify 403 user_disabled, nothing written; enabled again, the link works', async () => {
    const p = await person()
    const r = await issue(p.id)
    const o = await options({ recovery: r.body.token })
    assert.equal((await call(svc.url, 'PATCH', `/api/manage/users/${p.id}`, { disabled: true }, bearer(admin.token))).status, 200)
    const refused = await options({ recovery: r.body.token })
    assert.deepEqual([refused.status, refused.body.code], [403, 'user_disabled'])
    const auth = new SoftAuthenticator()
    const v = await verify(await auth.createCredential(o.body, { origin: ORIGIN }))
    assert.deepEqual([v.status, v.body.code], [403, 'user_disabled'])
    assert.equal(await svc.store.findCredentialOwner(auth.credentials()[0]!.id), undefined)
    assert.equal((await svc.store.getRecovery(p.id))?.usedAt, undefined, 'the link is not used up')
    assert.equal((await call(svc.url, 'PATCH', `/api/manage/users/${p.id}`, { disabled: false }, bearer(admin.token))).status, 200)
    assert.equal((await recover(r.body.token)).status, 201)
  })

  it('unknown, malformed or wrong-secret tokens → recovery_invalid; an invitation token is no recovery token', async () => {
    const p = await person()
    const r = await issue(p.id)
    const [id, secret] = r.body.token.split('.')
    const wrong = `${id}.${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`
    for (const token of [wrong, 'nope', `${'A'.repeat(22)}.${'A'.repeat(43)}`, `${admin.id}.${secret}`]) {
      const o = await options({ recovery: token })
      assert.deepEqual([o.status, o.body.code], [400, 'recovery_invalid'], token)
    }
    assert.equal((await options({ recovery: ['x'] })).body.code, 'invalid_request')
    const inv = await post(svc.url, '/api/manage/invitations', { username: uniq() }, bearer(admin.token))
    assert.equal((await options({ recovery: inv.body.token })).body.code, 'recovery_invalid')
    assert.equal((await recover(r.body.token)).status, 201, 'a wrong secret does not use it up')
  })

  it('audits recovery.issued and recovery.used (new passkey and session, revokedSessions) with no token or secret in any event', async () => {
    const p = await person()
    const seq = (await svc.store.getAuditHead())?.seq ?? 0
    const r = await issue(p.id)
    const v = await recover(r.body.token)
    assert.equal(v.status, 201)
    const events = await svc.store.listAudit(seq + 1, 1000)
    const issued = events.filter((e) => e.type === 'recovery.issued')
    assert.deepEqual(issued.map((e) => [e.actor.userId, e.target.userId, e.detail.expiresAt]), [[admin.id, p.id, r.body.expiresAt]])
    // The username is stored encrypted under the person's personal-data key (docs/audit.md), read in clear.
    assert.ok(issued[0]!.target.username?.startsWith(`pd1:${p.id}:`), issued[0]!.target.username)
    const shown = (await call(svc.url, 'GET', `/api/manage/audit?since=${seq}`, undefined, bearer(admin.token))).body
    assert.deepEqual(shown.filter((e: any) => e.type === 'recovery.issued').map((e: any) => e.target.username), [p.username])
    const used = events.filter((e) => e.type === 'recovery.used')
    assert.equal(used.length, 1)
    assert.deepEqual([used[0]!.actor.userId, used[0]!.target.userId, used[0]!.target.credentialId, used[0]!.detail.revokedSessions], [p.id, p.id, v.body.credential.id, 2])
    assert.ok(used[0]!.target.sessionId)
    assert.equal(events.filter((e) => e.type === 'user.signed_up').length, 0, 'a recovery is no sign-up')
    const json = JSON.stringify(events)
    assert.ok(!json.includes(r.body.token.split('.')[1]), 'no secret in the audit log')
  })
})

describe('Recovery: storage failures → 503, nothing half-done', () => {
  it("a verify whose transaction loses its answer: 503, and the recovery is whole (link used, passkey, session, old sessions revoked) or absent", async () => {
    let failBatch = false
    const own = await startService({
      connectionString: azurite.connectionString,
      env: { BOOTSTRAP_ADMINS: 'root' },
      onRequest: (r) => {
        if (failBatch && r.url.includes('$batch')) throw new Error('injected: connection reset')
      },
    })
    try {
      const root = (await signUp(own.url, new SoftAuthenticator(), 'root')).tokens.access_token
      const p = await person(own)
      const r = await issue(p.id, {}, root, own)
      const o = await options({ recovery: r.body.token }, own)
      const auth = new SoftAuthenticator()
      const credential = await auth.createCredential(o.body, { origin: ORIGIN })
      failBatch = true
      const v = await verify(credential, own)
      failBatch = false
      assert.deepEqual([v.status, v.body.code], [503, 'storage_unavailable'])
      const account = (await own.store.getAccount(p.id))!
      const recovery = await own.store.getRecovery(p.id)
      if (recovery?.usedAt !== undefined) {
        // Applied: the passkey is there and signs in (its index claim was kept).
        assert.equal(account.credentials.length, 2)
        assert.equal((await signIn(own.url, auth)).status, 200)
      } else {
        assert.equal(account.credentials.length, 1)
        assert.equal(await own.store.findCredentialOwner(credential.id), undefined)
        assert.equal((await refresh(p.refreshes[1]!, own)).status, 200, 'no session revoked')
        assert.equal((await recover(r.body.token, new SoftAuthenticator(), own)).status, 201, 'the link still works')
      }
    } finally {
      await own.close()
    }
  })

  it('Azurite stopped: issuing and { recovery } options answer 503 storage_unavailable', async () => {
    const own = await startService({ connectionString: azurite.connectionString, env: { BOOTSTRAP_ADMINS: 'root' } })
    const root = (await signUp(own.url, new SoftAuthenticator(), 'root')).tokens.access_token
    const p = await person(own)
    const r = await issue(p.id, {}, root, own)
    await azurite.stop()
    try {
      const answers = [await issue(p.id, {}, root, own), await options({ recovery: r.body.token }, own)]
      assert.deepEqual(answers.map((a) => [a.status, a.body?.code]), [[503, 'storage_unavailable'], [503, 'storage_unavailable']])
    } finally {
      await own.close()
      await azurite.restart()
    }
  })
})
