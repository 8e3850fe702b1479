/**
 * CONTRACT v2 "Invitations" against a real Azurite: POST/GET /api/manage/invitations, DELETE
 * /api/manage/invitations/{id}, and the sign-up with `{ invitation }` (also while
 * REGISTRATION=closed): single use, the race of two enrolments, a failed verify that leaves the
 * invitation usable, used/revoked/expired → invitation_invalid, the token never stored or audited
 * in clear, storage failures → 503 with nothing half-done.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { TableClient } from '@azure/data-tables'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, post, signIn, signUp } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
let admin: { token: string; id: string }
let n = 0
const uniq = (p = 'inv') => `${p}${process.pid}n${++n}`
const DAY = 86_400_000

const invite = (body: unknown, token = admin.token, on = svc) => post(on.url, '/api/manage/invitations', body, bearer(token))
const list = (token = admin.token, on = svc) => call(on.url, 'GET', '/api/manage/invitations', undefined, bearer(token))
const revoke = (id: string, token = admin.token) => call(svc.url, 'DELETE', `/api/manage/invitations/${id}`, undefined, bearer(token))
const options = (body: unknown, headers?: Record<string, string>, on = svc) => post(on.url, '/api/webauthn/registration/options', body, headers)
const verify = (credential: unknown, on = svc) => post(on.url, '/api/webauthn/registration/verify', { credential })
const me = (token: string) => call(svc.url, 'GET', '/api/me', undefined, bearer(token))

/** Options for an invitation, a passkey made for them, and the verify. */
async function enrol(token: string, auth = new SoftAuthenticator(), on = svc) {
  const o = await options({ invitation: token }, undefined, on)
  assert.equal(o.status, 200, JSON.stringify(o.body))
  return verify(await auth.createCredential(o.body, { origin: ORIGIN }), on)
}

/** Every audit event since `seq`, as stored (JSON). */
async function eventsSince(seq: number, on = svc) {
  return on.store.listAudit(seq + 1, 1000)
}
const headSeq = async (on = svc) => (await on.store.getAuditHead())?.seq ?? 0

function rawTable(on: TestService, table: string) {
  return TableClient.fromConnectionString(on.config.tablesConnectionString!, `${on.config.tablePrefix}${table}`, { allowInsecureConnection: true })
}

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { REGISTRATION: 'closed', BOOTSTRAP_ADMINS: 'boss' } })
  const up = await signUp(svc.url, new SoftAuthenticator(), 'boss')
  admin = { token: up.tokens.access_token, id: up.user.id }
  const reader = [{ methods: ['GET'], path: '/orders/*' }]
  assert.equal((await call(svc.url, 'PUT', '/api/manage/roles/reader', { permissions: reader }, bearer(admin.token))).status, 200)
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('POST /api/manage/invitations', () => {
  it('201 { id, username, roles, expiresAt, token, url }: the token in the fragment of the page link, 7 days by default', async () => {
    const username = uniq()
    const r = await invite({ username, displayName: 'Ada L.', roles: ['reader'] })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.equal(r.headers.get('cache-control'), 'no-store')
    assert.deepEqual([r.body.username, r.body.displayName, r.body.roles], [username, 'Ada L.', ['reader']])
    assert.match(r.body.id, /^[A-Za-z0-9_-]{22}$/)
    assert.match(r.body.token, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/)
    assert.equal(r.body.token.split('.')[0], r.body.id)
    assert.equal(r.body.url, `${ORIGIN}/api/ui/#invitation=${r.body.token}`)
    assert.equal(Date.parse(r.body.expiresAt), clock.now() + 7 * DAY)
  })

  it('ttl: up to 30 days; 0, more than 30 days, a fraction or a string → 400 invalid_request', async () => {
    const ok = await invite({ username: uniq(), ttl: 30 * 86_400 })
    assert.equal(ok.status, 201)
    assert.equal(Date.parse(ok.body.expiresAt), clock.now() + 30 * DAY)
    for (const ttl of [0, 30 * 86_400 + 1, 1.5, '3600', -60]) {
      const r = await invite({ username: uniq(), ttl })
      assert.deepEqual([r.status, r.body.code], [400, 'invalid_request'], `ttl ${JSON.stringify(ttl)}`)
      assert.match(r.body.detail, /ttl/)
    }
  })

  it('refusals: a taken username 409 username_taken; a bad role name 400; an undefined role 404; a bad username 400', async () => {
    const taken = await invite({ username: 'boss' })
    assert.deepEqual([taken.status, taken.body.code], [409, 'username_taken'])
    const badRole = await invite({ username: uniq(), roles: ['Not A Role'] })
    assert.deepEqual([badRole.status, badRole.body.code], [400, 'invalid_request'])
    assert.match(badRole.body.detail, /role names/)
    const undefinedRole = await invite({ username: uniq(), roles: ['ghost'] })
    assert.deepEqual([undefinedRole.status, undefinedRole.body.code], [404, 'not_found'])
    assert.deepEqual([(await invite({ username: 'x' })).status, (await invite({})).status], [400, 400])
    assert.equal((await list()).body.filter((i: any) => i.roles.includes('ghost')).length, 0)
  })

  it('administrators only: no token 401, a person without the role 403 (also for GET and DELETE)', async () => {
    const r = await invite({ username: uniq() })
    const person = await enrol(r.body.token)
    assert.equal(person.status, 201)
    const token = person.body.tokens.access_token
    assert.equal((await post(svc.url, '/api/manage/invitations', { username: uniq() })).status, 401)
    assert.equal((await invite({ username: uniq() }, token)).status, 403)
    assert.equal((await list(token)).status, 403)
    assert.equal((await revoke(r.body.id, token)).status, 403)
  })

  it('the token is not stored in clear: the raw row holds SHA-256 of the secret, never the secret or the token', async () => {
    const r = await invite({ username: uniq() })
    const secret = r.body.token.split('.')[1]
    const row = await rawTable(svc, 'roles').getEntity('invitations', r.body.id)
    const raw = JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? String(v) : v))
    assert.ok(!raw.includes(secret), 'the secret is not in the row')
    assert.ok(raw.includes(createHash('sha256').update(secret).digest('base64url')), 'its hash is')
  })

  it('audits invitation.created (administrator → the account id it will make, no username; invitationId, roles, expiresAt) without the token', async () => {
    const seq = await headSeq()
    const r = await invite({ username: uniq(), roles: ['reader'] })
    const events = (await eventsSince(seq)).filter((e) => e.type === 'invitation.created')
    assert.equal(events.length, 1)
    const e = events[0]!
    const stored = await svc.store.getInvitation(r.body.id)
    assert.deepEqual([e.actor.userId, e.target.userId, e.target.username, e.detail.invitationId, e.detail.roles, e.detail.expiresAt], [admin.id, stored!.userId, undefined, r.body.id, ['reader'], r.body.expiresAt])
    const json = JSON.stringify(e)
    assert.ok(!json.includes(r.body.username), 'no username: it could never be shredded')
    assert.ok(!json.includes(r.body.token) && !json.includes(r.body.token.split('.')[1]), json)
  })
})

describe('GET /api/manage/invitations', () => {
  it('lists the pending ones only (not used, revoked or expired), oldest first, without tokens or hashes', async () => {
    const own = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'root' } })
    try {
      const root = (await signUp(own.url, new SoftAuthenticator(), 'root')).tokens.access_token
      const make = async (body: Record<string, unknown>) => {
        const r = await invite({ username: uniq(), ...body }, root, own)
        assert.equal(r.status, 201)
        clock.advance(1)
        return r.body
      }
      const pending = await make({ displayName: 'Pending' })
      const used = await make({})
      const revoked = await make({})
      const expiring = await make({ ttl: 60 })
      const later = await make({ roles: ['admin'] })
      assert.equal((await enrol(used.token, undefined, own)).status, 201)
      assert.equal((await call(own.url, 'DELETE', `/api/manage/invitations/${revoked.id}`, undefined, bearer(root))).status, 204)
      clock.advance(61_000)
      const r = await list(root, own)
      assert.equal(r.status, 200)
      assert.equal(r.headers.get('cache-control'), 'no-store')
      assert.deepEqual(r.body.map((i: any) => i.id), [pending.id, later.id])
      assert.deepEqual(r.body[0], { id: pending.id, username: pending.username, displayName: 'Pending', roles: [], createdAt: r.body[0].createdAt, expiresAt: pending.expiresAt })
      const text = JSON.stringify(r.body)
      for (const i of [pending, used, revoked, expiring, later]) assert.ok(!text.includes(i.token.split('.')[1]))
      assert.ok(!/secret|hash|token|userId/i.test(text), text)
      assert.ok(expiring)
    } finally {
      await own.close()
    }
  })
})

describe('POST /api/webauthn/registration/options { invitation } and the verify', () => {
  it('enrols while REGISTRATION=closed: the invited username, display name and roles, signed in; { username } alone is 403 registration_closed', async () => {
    const closedSignUp = await options({ username: uniq() })
    assert.deepEqual([closedSignUp.status, closedSignUp.body.code], [403, 'registration_closed'])
    const username = uniq()
    const r = await invite({ username, displayName: 'Grace H.', roles: ['reader'] })
    const o = await options({ invitation: r.body.token })
    assert.equal(o.status, 200, JSON.stringify(o.body))
    assert.deepEqual([o.body.user.name, o.body.user.displayName, o.body.excludeCredentials], [username, 'Grace H.', []])
    const auth = new SoftAuthenticator()
    const v = await verify(await auth.createCredential(o.body, { origin: ORIGIN }))
    assert.equal(v.status, 201, JSON.stringify(v.body))
    assert.equal(v.body.user.username, username)
    assert.equal(v.body.user.id, o.body.user.id)
    assert.ok(v.body.tokens.refresh_token)
    const profile = await me(v.body.tokens.access_token)
    assert.deepEqual([profile.body.username, profile.body.displayName, profile.body.roles], [username, 'Grace H.', ['reader']])
    // The account signs in like any other.
    assert.equal((await signIn(svc.url, auth, username)).status, 200)
  })

  it('the displayName of the options is used when the invitation names none; BOOTSTRAP_ADMINS still get admin', async () => {
    const own = await startService({ connectionString: azurite.connectionString, env: { REGISTRATION: 'closed', BOOTSTRAP_ADMINS: 'root,chief' } })
    try {
      const root = (await signUp(own.url, new SoftAuthenticator(), 'root')).tokens.access_token
      const r = await invite({ username: 'chief' }, root, own)
      const o = await options({ invitation: r.body.token, displayName: 'The Chief' }, undefined, own)
      assert.equal(o.body.user.displayName, 'The Chief')
      const v = await verify(await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN }), own)
      assert.equal(v.status, 201)
      const profile = await call(own.url, 'GET', '/api/me', undefined, bearer(v.body.tokens.access_token))
      assert.deepEqual([profile.body.displayName, profile.body.roles], ['The Chief', ['admin']])
    } finally {
      await own.close()
    }
  })

  it('single use: after the account is made, options and a second verify answer 400 invitation_invalid', async () => {
    const r = await invite({ username: uniq() })
    const o1 = await options({ invitation: r.body.token })
    const o2 = await options({ invitation: r.body.token })
    assert.equal((await verify(await new SoftAuthenticator().createCredential(o1.body, { origin: ORIGIN }))).status, 201)
    const again = await options({ invitation: r.body.token })
    assert.deepEqual([again.status, again.body.code], [400, 'invitation_invalid'])
    const late = await verify(await new SoftAuthenticator().createCredential(o2.body, { origin: ORIGIN }))
    assert.deepEqual([late.status, late.body.code], [400, 'invitation_invalid'])
    assert.equal((await revoke(r.body.id)).status, 404, 'a used invitation is not pending')
  })

  it('the race: two enrolments with one invitation, verifies in parallel → exactly one 201 and one account', async () => {
    for (let round = 0; round < 3; round++) {
      const username = uniq()
      const r = await invite({ username })
      const a = new SoftAuthenticator()
      const b = new SoftAuthenticator()
      const [oa, ob] = await Promise.all([options({ invitation: r.body.token }), options({ invitation: r.body.token })])
      const [ca, cb] = await Promise.all([a.createCredential(oa.body, { origin: ORIGIN }), b.createCredential(ob.body, { origin: ORIGIN })])
      const results = await Promise.all([verify(ca), verify(cb)])
      const statuses = results.map((x) => x.status).sort()
      assert.deepEqual(statuses, [201, 400], JSON.stringify(results.map((x) => x.body)))
      const loser = results.find((x) => x.status === 400)!
      assert.equal(loser.body.code, 'invitation_invalid')
      const userId = await svc.store.findUserIdByUsername(username)
      const account = await svc.store.getAccount(userId!)
      assert.equal(account?.credentials.length, 1, 'one account with one passkey')
      const winner = results.find((x) => x.status === 201)!
      assert.equal(account!.credentials[0]!.id, winner.body.credential.id)
      assert.equal(await svc.store.findCredentialOwner(loser === results[0] ? ca.id : cb.id), undefined, "the loser's passkey is not indexed")
      assert.ok(!(await list()).body.some((i: any) => i.id === r.body.id))
    }
  })

  it('a verify that fails (wrong origin, bad signature) does not use the invitation up; the next one enrols', async () => {
    const username = uniq()
    const r = await invite({ username })
    const o1 = await options({ invitation: r.body.token })
    const bad = await verify(await new SoftAuthenticator().createCredential(o1.body, { origin: 'https://evil.example' }))
    assert.deepEqual([bad.status, bad.body.code], [400, 'origin_mismatch'])
    const o2 = await options({ invitation: r.body.token })
    const forged = await verify(await new SoftAuthenticator({ attestation: 'packed-self' }).createCredential(o2.body, { origin: ORIGIN, tamperSignature: true }))
    assert.deepEqual([forged.status, forged.body.code], [400, 'signature_invalid'])
    assert.equal(await svc.store.findUserIdByUsername(username), undefined, 'no account yet')
    assert.ok((await list()).body.some((i: any) => i.id === r.body.id), 'still pending')
    assert.equal((await enrol(r.body.token)).status, 201)
  })

  it('revoked → invitation_invalid, also for a challenge issued before the revocation; DELETE again or unknown → 404', async () => {
    const username = uniq()
    const r = await invite({ username })
    const o = await options({ invitation: r.body.token })
    const seq = await headSeq()
    const d = await revoke(r.body.id)
    assert.equal(d.status, 204)
    const events = (await eventsSince(seq)).filter((e) => e.type === 'invitation.revoked')
    const stored = await svc.store.getInvitation(r.body.id)
    assert.deepEqual(events.map((e) => [e.actor.userId, e.target.userId, e.target.username, e.detail.invitationId]), [[admin.id, stored!.userId, undefined, r.body.id]])
    const v = await verify(await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN }))
    assert.deepEqual([v.status, v.body.code], [400, 'invitation_invalid'])
    assert.match(v.body.detail, /revoked/)
    assert.equal(await svc.store.findUserIdByUsername(username), undefined, 'no account')
    const again = await options({ invitation: r.body.token })
    assert.deepEqual([again.status, again.body.code], [400, 'invitation_invalid'])
    assert.equal((await revoke(r.body.id)).status, 404)
    assert.equal((await revoke('AAAAAAAAAAAAAAAAAAAAAA')).status, 404)
    assert.equal((await revoke('not%20an%20id')).status, 404)
  })

  it('expired → invitation_invalid at options, and at a verify whose challenge outlived the invitation', async () => {
    const r = await invite({ username: uniq(), ttl: 60 })
    const o = await options({ invitation: r.body.token })
    clock.advance(61_000)
    const v = await verify(await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN }))
    assert.deepEqual([v.status, v.body.code], [400, 'invitation_invalid'])
    assert.match(v.body.detail, /expired/)
    const late = await options({ invitation: r.body.token })
    assert.deepEqual([late.status, late.body.code], [400, 'invitation_invalid'])
  })

  it('unknown, malformed or wrong-secret tokens → invitation_invalid; a non-string → invalid_request', async () => {
    const r = await invite({ username: uniq() })
    const [id, secret] = r.body.token.split('.')
    const wrong = `${id}.${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`
    for (const token of [wrong, 'nope', `${'A'.repeat(22)}.${'A'.repeat(43)}`, '', `${r.body.token}x`]) {
      const o = await options({ invitation: token })
      assert.deepEqual([o.status, o.body.code], [400, 'invitation_invalid'], token)
    }
    assert.deepEqual([(await options({ invitation: 42 })).status, (await options({ invitation: 42 })).body.code], [400, 'invalid_request'])
    assert.equal((await options({ invitation: 'x'.repeat(200) })).body.code, 'invalid_request')
    assert.ok((await list()).body.some((i: any) => i.id === r.body.id), 'a wrong secret does not touch it')
  })

  it('exactly one of username, invitation, recovery, or a bearer and {}: combinations → 400 saying so', async () => {
    const r = await invite({ username: uniq() })
    const both = await options({ username: uniq(), invitation: r.body.token })
    assert.deepEqual([both.status, both.body.code], [400, 'invalid_request'])
    assert.match(both.body.detail, /one of username, invitation or recovery/)
    const three = await options({ invitation: r.body.token, recovery: r.body.token })
    assert.match(three.body.detail, /invitation and recovery/)
    const withBearer = await options({ invitation: r.body.token }, bearer(admin.token))
    assert.deepEqual([withBearer.status, withBearer.body.code], [400, 'invalid_request'])
    assert.match(withBearer.body.detail, /bearer/)
    assert.equal((await options({ username: 'boss' }, bearer(admin.token))).status, 400)
    assert.equal((await options({}, bearer(admin.token))).status, 200, 'a bearer and {} still adds a passkey')
  })

  it('a username taken since the invitation (open registration) → 409 username_taken; the invitation stays pending', async () => {
    const open = await startService({ connectionString: azurite.connectionString, env: { BOOTSTRAP_ADMINS: 'root' } })
    try {
      const root = (await signUp(open.url, new SoftAuthenticator(), 'root')).tokens.access_token
      const username = uniq()
      const r = await invite({ username }, root, open)
      const o = await options({ invitation: r.body.token }, undefined, open)
      await signUp(open.url, new SoftAuthenticator(), username) // someone else takes the name
      const again = await options({ invitation: r.body.token }, undefined, open)
      assert.deepEqual([again.status, again.body.code], [409, 'username_taken'])
      const v = await verify(await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN }), open)
      assert.deepEqual([v.status, v.body.code], [409, 'username_taken'])
    } finally {
      await open.close()
    }
  })

  it('audits invitation.used and user.signed_up (the new user; invitationId) with no token or secret in any event', async () => {
    const seq = await headSeq()
    const username = uniq()
    const r = await invite({ username, roles: ['reader'] })
    const v = await enrol(r.body.token)
    assert.equal(v.status, 201)
    const events = await eventsSince(seq)
    const used = events.filter((e) => e.type === 'invitation.used')
    assert.deepEqual(used.map((e) => [e.actor.userId, e.target.userId, e.detail.invitationId]), [[v.body.user.id, v.body.user.id, r.body.id]])
    // Stored encrypted under the new account's personal-data key (docs/audit.md); read in clear.
    assert.ok(used[0]!.target.username?.startsWith(`pd1:${v.body.user.id}:`), used[0]!.target.username)
    const shown = (await call(svc.url, 'GET', `/api/manage/audit?since=${seq}`, undefined, bearer(admin.token))).body
    assert.deepEqual(shown.filter((e: any) => e.type === 'invitation.used').map((e: any) => e.target.username), [username])
    assert.equal(events.filter((e) => e.type === 'user.signed_up' && e.target.userId === v.body.user.id).length, 1)
    const json = JSON.stringify(events)
    const secret = r.body.token.split('.')[1]
    assert.ok(!json.includes(secret), 'no secret in the audit log')
    assert.ok(!json.includes(v.body.tokens.refresh_token.split('.')[2]), 'no refresh token either')
  })
})

describe('Invitations: storage failures → 503, nothing half-done', () => {
  it('deleting the account (CONTRACT v2 "Disabling and deleting accounts") erases the invitation rows naming it; others stay', async () => {
    const username = uniq()
    const r = await invite({ username, roles: ['reader'] })
    const other = await invite({ username: uniq() })
    const person = await enrol(r.body.token)
    assert.equal(person.status, 201)
    assert.ok(await svc.store.getInvitation(r.body.id), 'the used invitation row is kept until the account goes')
    const d = await call(svc.url, 'DELETE', `/api/manage/users/${person.body.user.id}`, undefined, bearer(admin.token))
    assert.equal(d.status, 204)
    assert.equal(await svc.store.getInvitation(r.body.id), undefined, 'the row with the username is erased')
    assert.ok(await svc.store.getInvitation(other.body.id), "another person's pending invitation stays")
    const again = await invite({ username })
    assert.equal(again.status, 201, 'the username can be invited again')
  })

  it('an invitation whose insert loses its answer: 503, and it is listed whole or not at all', async () => {
    let failInsert = false
    const own = await startService({
      connectionString: azurite.connectionString,
      env: { BOOTSTRAP_ADMINS: 'root' },
      onRequest: (r) => {
        // The invitation's insert (POST …/<prefix>roles): applied, but its answer lost.
        if (failInsert && r.method === 'POST' && new URL(r.url).pathname.endsWith('roles')) throw new Error('injected: connection reset')
      },
    })
    try {
      const root = (await signUp(own.url, new SoftAuthenticator(), 'root')).tokens.access_token
      failInsert = true
      const r = await invite({ username: uniq() }, root, own)
      failInsert = false
      assert.deepEqual([r.status, r.body.code, r.body.token], [503, 'storage_unavailable', undefined])
      const listed = (await list(root, own)).body
      assert.ok(listed.length <= 1)
      for (const i of listed) assert.ok(i.id && i.username && i.expiresAt)
    } finally {
      await own.close()
    }
  })

  it('an enrolment whose account transaction loses its answer: 503 and the account is whole or absent; absent → the invitation still enrols', async () => {
    let failBatch = false
    const own = await startService({
      connectionString: azurite.connectionString,
      env: { REGISTRATION: 'closed', BOOTSTRAP_ADMINS: 'root' },
      onRequest: (r) => {
        if (failBatch && r.url.includes('$batch')) throw new Error('injected: connection reset')
      },
    })
    try {
      const root = (await signUp(own.url, new SoftAuthenticator(), 'root')).tokens.access_token
      const username = uniq()
      const r = await invite({ username }, root, own)
      const o = await options({ invitation: r.body.token }, undefined, own)
      const auth = new SoftAuthenticator()
      const credential = await auth.createCredential(o.body, { origin: ORIGIN })
      failBatch = true
      const v = await verify(credential, own)
      failBatch = false
      assert.ok(v.status === 503 || v.status === 201, String(v.status))
      const userId = await own.store.findUserIdByUsername(username)
      const account = userId ? await own.store.getAccount(userId) : undefined
      if (account) {
        assert.equal(account.credentials.length, 1)
        assert.equal((await signIn(own.url, auth, username)).status, 200)
        // The invitation cannot make a second account, whatever its row says.
        const again = await options({ invitation: r.body.token }, undefined, own)
        assert.deepEqual([again.status, again.body.code], [400, 'invitation_invalid'])
      } else {
        assert.equal(v.body.code, 'storage_unavailable')
        assert.equal(await own.store.getAccount(o.body.user.id), undefined)
        assert.equal(await own.store.findCredentialOwner(credential.id), undefined)
        assert.ok((await list(root, own)).body.some((i: any) => i.id === r.body.id), 'still pending')
        assert.equal((await enrol(r.body.token, new SoftAuthenticator(), own)).status, 201)
      }
    } finally {
      await own.close()
    }
  })

  it('Azurite stopped: the invitation routes and { invitation } options answer 503 storage_unavailable', async () => {
    const own = await startService({ connectionString: azurite.connectionString, env: { BOOTSTRAP_ADMINS: 'root' } })
    const root = (await signUp(own.url, new SoftAuthenticator(), 'root')).tokens.access_token
    const r = await invite({ username: uniq() }, root, own)
    // Warm: the admin's role check is cached for AUTHZ_CACHE_TTL, so the routes reach storage.
    assert.equal((await list(root, own)).status, 200)
    await azurite.stop()
    try {
      const answers = [
        await invite({ username: uniq() }, root, own),
        await list(root, own),
        await call(own.url, 'DELETE', `/api/manage/invitations/${r.body.id}`, undefined, bearer(root)),
        await options({ invitation: r.body.token }, undefined, own),
      ]
      assert.deepEqual(answers.map((a) => [a.status, a.body?.code]), Array(4).fill([503, 'storage_unavailable']))
    } finally {
      await own.close()
      await azurite.restart()
    }
  })
})
