/**
 * Storage failure (DEVELOPERS "Standards"): 503 storage_unavailable, never a half-written record;
 * and the storage cost of each ceremony, counted on the wire (issue: ≤ 4 round trips each).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { call, form, post, signIn, signUp } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'

let azurite: Azurite
let n = 0
const uniq = () => `st${process.pid}n${++n}`

before(async () => {
  azurite = await startAzurite()
})
after(async () => {
  await azurite?.stop()
})

describe('Storage round trips per ceremony (counted on the wire)', () => {
  let svc: TestService
  before(async () => {
    svc = await startService({ connectionString: azurite.connectionString })
  })
  after(() => svc.close())

  // The ceremonies' own budget is 4 round trips; the audit log adds exactly one append (one
  // transaction, no read first: the head is cached), docs/audit.md "Cost".
  const CEREMONY_BUDGET = 4
  const AUDIT_APPEND = 1

  it('sign-up verify, sign-in verify, refresh: each ≤ 4 + 1 audit append (hot paths are point reads and one-partition writes)', async () => {
    const auth = new SoftAuthenticator()
    const username = uniq()
    await signUp(svc.url, new SoftAuthenticator(), uniq()) // warm the key ring
    const o = await post(svc.url, '/api/webauthn/registration/options', { username })
    const credential = await auth.createCredential(o.body, { origin: ORIGIN })
    svc.resetTrips()
    const v = await post(svc.url, '/api/webauthn/registration/verify', { credential })
    assert.equal(v.status, 201)
    const signUpTrips = svc.trips.length
    const seen = [...svc.trips]

    const ao = await post(svc.url, '/api/webauthn/authentication/options', {})
    const assertion = await auth.getAssertion(ao.body, { origin: ORIGIN })
    svc.resetTrips()
    const s = await post(svc.url, '/api/webauthn/authentication/verify', { credential: assertion })
    assert.equal(s.status, 200)
    const signInTrips = svc.trips.length
    seen.push(...svc.trips)

    svc.resetTrips()
    const r = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: s.body.refresh_token })
    assert.equal(r.status, 200)
    const refreshTrips = svc.trips.length
    seen.push(...svc.trips)

    assert.ok(signUpTrips <= CEREMONY_BUDGET + AUDIT_APPEND, `sign-up verify: ${signUpTrips} > 4 + 1 audit append`)
    assert.ok(signInTrips <= CEREMONY_BUDGET + AUDIT_APPEND, `sign-in verify: ${signInTrips} > 4 + 1 audit append`)
    assert.ok(refreshTrips <= CEREMONY_BUDGET + AUDIT_APPEND, `refresh: ${refreshTrips} > 4 + 1 audit append`)
    // The audit head is cached: no hot path reads the audit table before appending.
    const auditReads = seen.filter((t) => t.method === 'GET' && new URL(t.url).pathname.includes(`${svc.config.tablePrefix}audit`))
    assert.deepEqual(auditReads, [])
    // No table scans on these paths: every GET names a partition (point read or partition query).
    for (const t of seen) if (t.method === 'GET') assert.match(decodeURIComponent(t.url), /PartitionKey|\(PartitionKey=/)
  })
})

describe('Storage failure → 503 storage_unavailable, nothing half-written', () => {
  // A lost answer is the hard case: the write may or may not have been applied. Either way the
  // result must be whole: an account with its passkey and username, or nothing at all.
  it('a sign-up whose final write loses its answer: 503, and the account is whole or absent', async () => {
    let failBatch = false
    const svc = await startService({
      connectionString: azurite.connectionString,
      onRequest: (r) => {
        if (failBatch && r.url.includes('$batch')) throw new Error('injected: connection reset')
      },
    })
    try {
      const username = uniq()
      const auth = new SoftAuthenticator()
      const o = await post(svc.url, '/api/webauthn/registration/options', { username })
      const credential = await auth.createCredential(o.body, { origin: ORIGIN })
      failBatch = true
      const v = await post(svc.url, '/api/webauthn/registration/verify', { credential })
      failBatch = false
      assert.ok(v.status === 503 || v.status === 201, String(v.status))
      if (v.status === 503) assert.equal(v.body.code, 'storage_unavailable')
      const userId = await svc.store.findUserIdByUsername(username)
      const account = userId ? await svc.store.getAccount(userId) : undefined
      if (account) {
        // Applied: the username points at it, its passkey is indexed and signs in.
        assert.equal(account.credentials.length, 1)
        assert.equal(await svc.store.findCredentialOwner(credential.id), userId)
        assert.equal((await signIn(svc.url, auth, username)).status, 200)
      } else {
        assert.equal(await svc.store.getAccount(o.body.user.id), undefined, 'no account row without its username')
        assert.equal(await svc.store.findCredentialOwner(credential.id), undefined)
        await signUp(svc.url, new SoftAuthenticator(), username)
      }
    } finally {
      await svc.close()
    }
  })

  it('a sign-in whose final write loses its answer issues no tokens; counter and session move together', async () => {
    let failBatch = false
    const svc = await startService({
      connectionString: azurite.connectionString,
      onRequest: (r) => {
        if (failBatch && r.url.includes('$batch')) throw new Error('injected: connection reset')
      },
    })
    try {
      const auth = new SoftAuthenticator()
      const { user } = await signUp(svc.url, auth, uniq())
      failBatch = true
      const s = await signIn(svc.url, auth)
      failBatch = false
      assert.equal(s.status, 503)
      assert.equal(s.body.code, 'storage_unavailable')
      assert.equal(s.body.access_token, undefined)
      const cred = await svc.store.getCredential(user.id, auth.credentials()[0]!.id)
      const sessions = await svc.store.listSessions(user.id)
      assert.ok(
        (cred?.counter === 0 && sessions.length === 1) || (cred?.counter === 1 && sessions.length === 2),
        `counter ${cred?.counter} with ${sessions.length} sessions`,
      )
    } finally {
      await svc.close()
    }
  })

  it('Azurite stopped: health and every ceremony answer 503 within seconds; back when it returns', async () => {
    const svc = await startService({ connectionString: azurite.connectionString })
    try {
      const auth = new SoftAuthenticator()
      const { tokens } = await signUp(svc.url, auth, uniq())
      assert.equal((await call(svc.url, 'GET', '/api/health')).status, 200)
      await azurite.stop()
      const t0 = Date.now()
      const h = await call(svc.url, 'GET', '/api/health')
      assert.equal(h.status, 503)
      assert.equal(h.body.code, 'storage_unavailable')
      assert.ok(Date.now() - t0 < 5000, 'fails fast')
      const checks = [
        await post(svc.url, '/api/webauthn/registration/options', { username: uniq() }),
        await post(svc.url, '/api/webauthn/authentication/options', { username: uniq() }),
        await post(svc.url, '/api/webauthn/authentication/options', {}),
        await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
      ]
      assert.deepEqual(checks.map((c) => c.status), [503, 503, 503, 503])
      assert.equal(checks[0]!.body.code, 'storage_unavailable')
      assert.equal(checks[3]!.body.error, 'temporarily_unavailable')
      await azurite.restart()
      await svc.store.init()
      assert.equal((await call(svc.url, 'GET', '/api/health')).status, 200)
    } finally {
      await svc.close()
    }
  })
})
