/**
 * CONTRACT v2 "Disabling and deleting accounts" (deleting) and "Security refinements"
 * (re-authentication), against a real Azurite: DELETE /api/manage/users/{userId} and
 * DELETE /api/me erase the account and free the username; the person's username, IPs and user
 * agents become unreadable in the audit log (their key is destroyed: crypto-shredding,
 * docs/audit.md "Personal data") while the chain still verifies; an interrupted deletion is
 * finished by a retry.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TableClient } from '@azure/data-tables'
import { deriveAuditKey } from '../../shared/audit/chain.js'
import { auditId } from '../../shared/audit/events.js'
import { verifyAuditChain } from '../../shared/audit/verify.js'
import { sweep } from '../../shared/housekeeping.js'
import { UNFINISHED_DELETION_MS } from '../../shared/account/deletion.js'
import { keyEncryptionKeyId } from '../../shared/crypto/kek.js'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, form, post, signIn, signUp } from '../helpers/client.js'
import { keyPair } from '../helpers/keys.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'
import { clientAssertion, JWT_BEARER, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())
const adminKey = new SoftAuthenticator()
let adminId = ''
let n = 0
const uniq = (p = 'del') => `${p}${process.pid}n${++n}`
const inspectorKey = keyPair('ec', { namedCurve: 'P-256' })
let inspector = ''

/** A fresh administrator token (tests move the clock past sign-in ages). */
async function admin(): Promise<string> {
  const r = await signIn(svc.url, adminKey, 'root-admin')
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body.access_token as string
}

/** The request origin a person's requests carry: unique per test, searched for in the raw rows. */
function origin() {
  const ip = `203.0.113.${100 + (++n % 150)}` // three digits: no address is a prefix of another
  const userAgent = `DeleteTest/${process.pid}.${n} (${uniq('ua')})`
  return { ip, userAgent, headers: { 'x-forwarded-for': ip, 'user-agent': userAgent } }
}

/** Sign-up, sign-in and refresh of a person, every request from `from`. */
async function person(from = origin()) {
  const auth = new SoftAuthenticator()
  const username = uniq()
  const o = await post(svc.url, '/api/webauthn/registration/options', { username }, from.headers)
  const credential = await auth.createCredential(o.body, { origin: ORIGIN })
  const up = await post(svc.url, '/api/webauthn/registration/verify', { credential }, from.headers)
  assert.equal(up.status, 201, JSON.stringify(up.body))
  const ao = await post(svc.url, '/api/webauthn/authentication/options', { username }, from.headers)
  const s = await post(svc.url, '/api/webauthn/authentication/verify', { credential: await auth.getAssertion(ao.body, { origin: ORIGIN }) }, from.headers)
  assert.equal(s.status, 200, JSON.stringify(s.body))
  const r = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: s.body.refresh_token }, from.headers)
  assert.equal(r.status, 200)
  return { auth, username, id: up.body.user.id as string, credentialId: credential.id as string, access: r.body.access_token as string, refresh: r.body.refresh_token as string, from }
}

const auditTable = () => TableClient.fromConnectionString(azurite.connectionString, `${svc.config.tablePrefix}audit`, { allowInsecureConnection: true })
/** Every stored audit row, as JSON text (what an operator with table access sees). */
async function rawAudit(): Promise<string> {
  const rows: unknown[] = []
  for await (const r of auditTable().listEntities()) rows.push(r)
  return JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? String(v) : v))
}
async function auditView(): Promise<any[]> {
  const r = await call(svc.url, 'GET', '/api/manage/audit?limit=1000', undefined, bearer(await admin()))
  assert.equal(r.status, 200)
  return r.body
}
async function verify() {
  const kek = svc.config.keyEncryptionKey!
  return verifyAuditChain({ store: svc.store, key: { id: await keyEncryptionKeyId(kek), key: await deriveAuditKey(kek) } })
}
const deleteUser = async (userId: string, token?: string) => call(svc.url, 'DELETE', `/api/manage/users/${userId}`, undefined, bearer(token ?? (await admin())))
const introspect = async (token: string) =>
  form(svc.url, '/api/oauth2/introspect', {
    token,
    client_assertion_type: JWT_BEARER,
    client_assertion: await clientAssertion({ clientId: inspector, key: inspectorKey.privateKey, kid: 'k1', aud: svc.config.issuer }),
  })

/** What must hold once an account is gone: nothing of it is left, and the username is free. */
async function assertErased(p: Awaited<ReturnType<typeof person>>) {
  assert.equal(await svc.store.getUser(p.id), undefined)
  assert.equal(await svc.store.getAccount(p.id), undefined)
  assert.equal(await svc.store.getAuditKey(p.id), undefined, 'the personal-data key is destroyed')
  assert.deepEqual(await svc.store.listSessions(p.id), [])
  assert.equal(await svc.store.getCredential(p.id, p.credentialId), undefined)
  assert.equal(await svc.store.findCredentialOwner(p.credentialId), undefined, 'the credential-id index row is gone')
  assert.equal(await svc.store.findUserIdByUsername(p.username), undefined, 'the username claim is gone')
}

before(async () => {
  azurite = await startAzurite()
  // Requests come through one proxy (X-Forwarded-For: what it saw), as in Azure: the audit's ip is that address.
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'root-admin', TRUSTED_PROXY_HOPS: '1' } })
  adminId = (await signUp(svc.url, adminKey, 'root-admin')).user.id
  const token = await admin()
  assert.equal((await call(svc.url, 'PUT', '/api/manage/roles/introspect', { permissions: [] }, bearer(token))).status, 200)
  assert.equal((await call(svc.url, 'PUT', '/api/manage/roles/reader', { permissions: [{ methods: ['GET'], path: '/orders/*' }] }, bearer(token))).status, 200)
  const jwk = { ...inspectorKey.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
  inspector = (await registerClient(svc.url, token, { name: 'resource server', jwks: { keys: [jwk] }, roles: ['introspect'] })).client_id
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('DELETE /api/manage/users/{userId} (CONTRACT v2 "Disabling and deleting accounts")', () => {
  it('204: passkeys, sessions, roles, index rows and username erased; refresh invalid_grant, introspection inactive, the authorizer 401', async () => {
    const p = await person()
    assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${p.id}/roles/reader`, undefined, bearer(await admin()))).status, 200)
    assert.equal((await post(svc.url, '/api/authz/check', { method: 'GET', path: '/orders/1' }, bearer(p.access))).body.allow, true)
    assert.equal((await introspect(p.access)).body.active, true)

    const r = await deleteUser(p.id)
    assert.equal(r.status, 204, JSON.stringify(r.body))
    await assertErased(p)
    const t = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: p.refresh })
    assert.deepEqual([t.status, t.body.error], [400, 'invalid_grant'])
    assert.deepEqual((await introspect(p.access)).body, { active: false })
    assert.equal((await introspect(p.refresh)).body.active, false)
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(p.access))).status, 401)
    const check = await post(svc.url, '/api/authz/check', { method: 'GET', path: '/orders/1' }, bearer(p.access))
    assert.deepEqual([check.body.allow, check.body.status], [false, 401])
    const s = await signIn(svc.url, p.auth)
    assert.equal(s.status, 400, 'the passkey is unknown now')
    // Deleted already → 404.
    const again = await deleteUser(p.id)
    assert.deepEqual([again.status, again.body.code], [404, 'not_found'])
  })

  it('the username, IPs and user agents used are nowhere in the stored audit rows; GET /manage/audit shows them erased; the chain verifies', async () => {
    const p = await person()
    const before = await rawAudit()
    assert.ok(!before.includes(p.username) && !before.includes(p.from.ip) && !before.includes(p.from.userAgent), 'stored encrypted even before the deletion')
    const mine = (events: any[]) => events.filter((e) => e.actor.userId === p.id || e.target.userId === p.id)
    const shown = mine(await auditView())
    assert.deepEqual(shown.map((e) => e.type), ['user.signed_up', 'user.signed_in', 'token.refreshed'])
    assert.equal(shown[0].actor.username, p.username, 'readable while the account exists')
    assert.equal(shown[0].ip, p.from.ip)
    assert.equal(shown[2].userAgent, p.from.userAgent)

    assert.equal((await deleteUser(p.id)).status, 204)
    const text = await rawAudit()
    for (const secret of [p.username, p.from.ip, p.from.userAgent]) assert.ok(!text.includes(secret), `${secret} is in the audit table`)
    const events = await auditView()
    const after = mine(events)
    assert.deepEqual(after.map((e) => e.type), ['user.signed_up', 'user.signed_in', 'token.refreshed', 'user.deleted'])
    for (const e of after.slice(0, 3)) {
      assert.equal(e.actor.username, undefined)
      assert.equal(e.ip, undefined)
      assert.equal(e.userAgent, undefined)
      assert.ok(e.erased.includes('ip') && e.erased.includes('userAgent'), `${e.type}: ${JSON.stringify(e.erased)}`)
    }
    assert.deepEqual(after[0].erased, ['actor.username', 'target.username', 'ip', 'userAgent'])
    // What remains: the pseudonymous id, the types, the times and the chain.
    assert.equal(after[0].target.userId, p.id)
    const deleted = after[3]
    assert.deepEqual([deleted.actor.userId, deleted.target, deleted.detail], [adminId, { userId: p.id }, { by: 'admin' }])
    const v = await verify()
    assert.equal(v.ok, true, JSON.stringify(v.problem))
  })

  it("other people's events are untouched, and the username signs up again: a new id, events in clear", async () => {
    const gone = await person()
    const other = await person()
    assert.equal((await deleteUser(gone.id)).status, 204)
    const events = await auditView()
    const others = events.filter((e) => e.target.userId === other.id)
    assert.ok(others.length >= 3)
    for (const e of others) assert.equal(e.erased, undefined)
    assert.equal(others[0].actor.username, other.username)
    assert.equal(others[0].ip, other.from.ip)
    // The administrator's own events keep their origin in clear too.
    assert.ok(events.filter((e) => e.actor.userId === adminId && e.ip).length > 0)

    const from = origin()
    const auth = new SoftAuthenticator()
    const again = await signUp(svc.url, auth, gone.username)
    assert.notEqual(again.user.id, gone.id)
    assert.equal(await svc.store.findUserIdByUsername(gone.username), again.user.id)
    assert.ok(await svc.store.getAuditKey(again.user.id), 'a new key for the new account')
    const s = await post(svc.url, '/api/webauthn/authentication/verify', {
      credential: await auth.getAssertion((await post(svc.url, '/api/webauthn/authentication/options', { username: gone.username })).body, { origin: ORIGIN }),
    }, from.headers)
    assert.equal(s.status, 200)
    const fresh = (await auditView()).filter((e) => e.target.userId === again.user.id)
    assert.deepEqual(fresh.map((e) => [e.type, e.target.username, e.erased]), [['user.signed_up', gone.username, undefined], ['user.signed_in', gone.username, undefined]])
    assert.equal(fresh[1].userAgent, from.userAgent)
  })

  it('a non-admin cannot delete another user (403); an unknown id → 404; a client → 400; the admin deleting themself → 409', async () => {
    const victim = await person()
    const mallory = await person()
    const r = await deleteUser(victim.id, mallory.access)
    assert.deepEqual([r.status, r.body.code], [403, 'forbidden'])
    assert.ok(await svc.store.getUser(victim.id))
    const u = await deleteUser('AAAAAAAAAAAAAAAAAAAAAA')
    assert.deepEqual([u.status, u.body.code], [404, 'not_found'])
    assert.equal((await deleteUser('not%20an%20id')).status, 404)
    const c = await deleteUser(inspector)
    assert.deepEqual([c.status, c.body.code], [400, 'invalid_request'])
    const self = await deleteUser(adminId)
    assert.deepEqual([self.status, self.body.code], [409, 'conflict'])
  })

  it('two DELETEs at once: both succeed or one finds nothing (404), never a 5xx; the account is erased once', async () => {
    const p = await person()
    const token = await admin()
    const before = (await svc.store.getAuditHead())!.seq
    const answers = await Promise.all([deleteUser(p.id, token), deleteUser(p.id, token), deleteUser(p.id, token)])
    for (const a of answers) assert.ok(a.status === 204 || a.status === 404, `${a.status} ${JSON.stringify(a.body)}`)
    assert.ok(answers.some((a) => a.status === 204))
    await assertErased(p)
    const events = await svc.store.listAudit(before + 1, 100)
    assert.ok(events.filter((e) => e.type === 'user.deleted' && e.target.userId === p.id).length >= 1)
  })
})

describe('DELETE /api/me (the account\'s own token, a sign-in within REAUTH_MAX_AGE)', () => {
  it('a sign-in older than REAUTH_MAX_AGE → 401 insufficient_user_authentication with the challenge; nothing is erased', async () => {
    const p = await person()
    clock.advance((svc.config.reauthMaxAge + 1) * 1000)
    const r = await call(svc.url, 'DELETE', '/api/me', undefined, { ...bearer(p.access), ...p.from.headers })
    assert.deepEqual([r.status, r.body.code], [401, 'insufficient_user_authentication'])
    assert.equal(r.headers.get('www-authenticate'), `Bearer error="insufficient_user_authentication", max_age=${svc.config.reauthMaxAge}`)
    assert.ok(await svc.store.getUser(p.id))
    assert.ok(await svc.store.getAuditKey(p.id))
    const refused = (await auditView()).filter((e) => e.type === 'account.change_refused' && e.target.userId === p.id)
    assert.equal(refused.at(-1).detail.change, 'account.delete')
  })

  it('with a fresh sign-in → 204; the account is erased and its own deletion event keeps no IP or user agent', async () => {
    const p = await person()
    const r = await call(svc.url, 'DELETE', '/api/me', undefined, { ...bearer(p.access), ...p.from.headers })
    assert.equal(r.status, 204, JSON.stringify(r.body))
    await assertErased(p)
    const text = await rawAudit()
    for (const secret of [p.username, p.from.ip, p.from.userAgent]) assert.ok(!text.includes(secret), `${secret} is in the audit table`)
    const deleted = (await auditView()).filter((e) => e.type === 'user.deleted' && e.target.userId === p.id)
    assert.equal(deleted.length, 1)
    assert.deepEqual([deleted[0].actor, deleted[0].detail, deleted[0].ip, deleted[0].userAgent], [{ userId: p.id }, { by: 'self' }, undefined, undefined])
    assert.equal((await call(svc.url, 'DELETE', '/api/me', undefined, bearer(p.access))).status, 401)
  })

  it('without a valid token → 401 unauthorized', async () => {
    assert.equal((await call(svc.url, 'DELETE', '/api/me')).status, 401)
    assert.equal((await call(svc.url, 'DELETE', '/api/me', undefined, bearer('not-a-token'))).status, 401)
  })
})

/**
 * A second instance on the same tables whose release of a username claim (step 3 of
 * eraseAccount) loses its answer while `failUsernameRelease` is set.
 */
async function flakyService() {
  const state = { failUsernameRelease: false }
  const service = await startService({
    connectionString: azurite.connectionString,
    clock,
    env: {
      BOOTSTRAP_ADMINS: 'root-admin',
      TABLE_PREFIX: svc.config.tablePrefix,
      KEY_ENCRYPTION_KEY: Buffer.from(svc.config.keyEncryptionKey!).toString('base64'),
    },
    onRequest: (r) => {
      if (state.failUsernameRelease && r.method === 'DELETE' && new URL(r.url).pathname.includes(`${svc.config.tablePrefix}usernames`))
        throw new Error('injected: connection reset')
    },
  })
  return Object.assign(state, { url: service.url, close: () => service.close() })
}

describe('A deletion interrupted by a storage failure', () => {
  it('answers 503; the account is unusable (signed out, key destroyed); a retried DELETE completes', async () => {
    const flaky = await flakyService()
    try {
      const p = await person()
      flaky.failUsernameRelease = true
      const r = await call(flaky.url, 'DELETE', `/api/manage/users/${p.id}`, undefined, bearer(await admin()))
      flaky.failUsernameRelease = false
      assert.deepEqual([r.status, r.body.code], [503, 'storage_unavailable'])
      const marked = await svc.store.getUser(p.id)
      assert.ok(marked?.deletedAt !== undefined && marked.disabledAt !== undefined, 'the user row stays, marked')
      assert.equal(await svc.store.getAuditKey(p.id), undefined, 'the key went first')
      assert.equal((await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: p.refresh })).body.error, 'invalid_grant')
      assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(p.access))).status, 401)
      const text = await rawAudit()
      assert.ok(!text.includes(p.username) && !text.includes(p.from.ip))
      // Half-deleted: nothing brings it back (enabling, a recovery link) before the deletion ends.
      const enable = await call(svc.url, 'PATCH', `/api/manage/users/${p.id}`, { disabled: false }, bearer(await admin()))
      assert.deepEqual([enable.status, enable.body.code], [404, 'not_found'])
      const recovery = await post(svc.url, `/api/manage/users/${p.id}/recovery`, {}, bearer(await admin()))
      assert.deepEqual([recovery.status, recovery.body.code], [404, 'not_found'])
      assert.ok((await svc.store.getUser(p.id))?.disabledAt !== undefined, 'still disabled')

      const retry = await call(flaky.url, 'DELETE', `/api/manage/users/${p.id}`, undefined, bearer(await admin()))
      assert.equal(retry.status, 204, JSON.stringify(retry.body))
      await assertErased(p)
      assert.equal((await signUp(svc.url, new SoftAuthenticator(), p.username)).user.username, p.username)
    } finally {
      await flaky.close()
    }
  })
})

describe('A self-deletion interrupted after its first step (its person cannot retry: the token is revoked)', () => {
  it('is finished by the housekeeping sweep once UNFINISHED_DELETION_MS has passed, and recorded as user.deleted by housekeeping', async () => {
    const flaky = await flakyService()
    try {
      const p = await person()
      flaky.failUsernameRelease = true
      const r = await call(flaky.url, 'DELETE', '/api/me', undefined, bearer(p.access))
      flaky.failUsernameRelease = false
      assert.deepEqual([r.status, r.body.code], [503, 'storage_unavailable'])
      assert.equal((await call(flaky.url, 'DELETE', '/api/me', undefined, bearer(p.access))).status, 401, 'the person cannot retry')
      assert.ok((await svc.store.getUser(p.id))?.deletedAt !== undefined, 'marked, not erased')
      // Too recent: a DELETE may still be running.
      assert.equal((await sweep(svc.core, clock.now())).deletions, 0)
      assert.ok(await svc.store.getUser(p.id))
      const head = (await svc.store.getAuditHead())!.seq
      clock.advance(UNFINISHED_DELETION_MS + 1000)
      const swept = await sweep(svc.core, clock.now())
      assert.ok(swept.deletions >= 1, JSON.stringify(swept))
      await assertErased(p)
      const events = (await svc.store.listAudit(head + 1, 100)).filter((e) => e.type === 'user.deleted' && e.target.userId === p.id)
      assert.deepEqual(events.map((e) => [e.actor.system, e.detail.by]), [['housekeeping', 'housekeeping']])
      assert.equal((await sweep(svc.core, clock.now())).deletions, 0, 'nothing left to finish')
    } finally {
      await flaky.close()
    }
  })
})

describe('Ciphertext moved to another field or event (docs/audit.md "Personal data")', () => {
  it('does not decrypt there (undecryptable), and audit:verify reports the edit (hash_mismatch)', async () => {
    const p = await person()
    const events = (await svc.store.listAudit(1, 1000)).filter((e) => e.target.userId === p.id)
    const [signedUp, signedIn] = events
    assert.ok(signedUp!.ip?.startsWith(`pd1:${p.id}:`), 'stored encrypted under the person\'s key')
    // The sign-up's IP ciphertext copied into the sign-in event's user agent, and its own IP into
    // the sign-in's IP: the same key, another field or another event.
    await auditTable().updateEntity({ partitionKey: 'audit', rowKey: auditId(signedIn!.seq), ip: signedUp!.ip, userAgent: signedUp!.ip }, 'Merge')
    const shown = (await auditView()).find((e) => e.seq === signedIn!.seq)
    assert.deepEqual([shown.ip, shown.userAgent, shown.undecryptable], [undefined, undefined, ['ip', 'userAgent']])
    const v = await verify()
    assert.equal(v.ok, false)
    assert.deepEqual([v.problem?.kind, v.problem?.seq], ['hash_mismatch', signedIn!.seq])
  })
})
