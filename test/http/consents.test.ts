/**
 * Remembered consent (CONTRACT v2 "AI clients and MCP servers": the person approves with a
 * passkey) over HTTP against a real Azurite: the hosted page says who asks and for what; the
 * passkey sign-in on it records the approval per person and application (scopes and resources,
 * RFC 8707), once; GET /api/me/consents lists it; DELETE /api/me/consents/{clientId} withdraws it
 * and ends that application's sessions for the person; both are audited.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, form, signIn, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { rememberConsent } from '../../shared/account/consents.js'
import { StorageUnavailableError } from '../../shared/errors.js'
import { ConcurrencyError } from '../../shared/store/types.js'
import { adminToken, hostedSignIn, openAuthorize, passkeyStep, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
let app: string
let admin: string
const alice = new SoftAuthenticator()
const bob = new SoftAuthenticator()
const REDIRECT = 'https://mcp.example/cb'

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, port: await freePort(), env: { BOOTSTRAP_ADMINS: 'consent-admin' } })
  admin = await adminToken(svc.url, new SoftAuthenticator(), 'consent-admin')
  await signUp(svc.url, alice, 'alice')
  await signUp(svc.url, bob, 'bob')
  app = (await registerClient(svc.url, admin, { name: 'Orders assistant', redirect_uris: [REDIRECT] })).client_id
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

function authorizeUrl(resource?: string) {
  const verifier = randomBytes(32).toString('base64url')
  const q = new URLSearchParams({ response_type: 'code', client_id: app, redirect_uri: REDIRECT, scope: 'openid profile', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' })
  if (resource) q.set('resource', resource)
  return { url: `${svc.url}/api/oauth2/authorize?${q}`, verifier }
}

async function authorizeAs(auth: SoftAuthenticator, resource?: string) {
  const { url, verifier } = authorizeUrl(resource)
  const back = await hostedSignIn(svc.url, url, auth)
  const t = await form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: app, code_verifier: verifier })
  assert.equal(t.status, 200, JSON.stringify(t.body))
  return t.body as { access_token: string; refresh_token: string }
}

const firstParty = async (auth: SoftAuthenticator) => (await signIn(svc.url, auth)).body.access_token as string
const consents = async (auth: SoftAuthenticator) => call(svc.url, 'GET', '/api/me/consents', undefined, bearer(await firstParty(auth)))
const audit = async (type: string) => {
  const r = await call(svc.url, 'GET', '/api/manage/audit?limit=1000', undefined, bearer(admin))
  return ((Array.isArray(r.body) ? r.body : r.body.events) as any[]).filter((e) => e.type === type)
}

describe('consent on the hosted page, remembered per person and application', () => {
  it('the page shows who asks, the resource and the scopes the passkey sign-in approves', async () => {
    const page = await openAuthorize(authorizeUrl(svc.config.audiences[1]).url)
    assert.equal(page.status, 200)
    assert.match(page.html, /Orders assistant/)
    assert.ok(page.html.includes(`<code id="resource">${svc.config.audiences[1]}</code>`))
    assert.ok(page.html.includes('<code id="scope">openid profile</code>'))
  })

  it('the sign-in records the approval once; a wider one (another resource) adds to it', async () => {
    await authorizeAs(alice)
    await authorizeAs(alice)
    let list = await consents(alice)
    assert.equal(list.status, 200)
    assert.equal(list.headers.get('cache-control'), 'no-store')
    assert.equal(list.body.length, 1)
    assert.deepEqual({ ...list.body[0], createdAt: undefined, updatedAt: undefined }, { clientId: app, clientName: 'Orders assistant', registered: true, scope: 'openid profile', resources: [svc.config.audiences[0]], createdAt: undefined, updatedAt: undefined })
    assert.equal((await audit('consent.given')).filter((e) => e.target?.clientId === app).length, 1, 'the second sign-in asked for no more')
    await authorizeAs(alice, svc.config.audiences[1])
    list = await consents(alice)
    assert.deepEqual(list.body[0].resources, [svc.config.audiences[0], svc.config.audiences[1]])
    assert.equal((await audit('consent.given')).filter((e) => e.target?.clientId === app).length, 2)
    // Bob approved nothing.
    assert.deepEqual((await consents(bob)).body, [])
  })

  it('withdrawing ends the application\'s sessions for the person (refresh → invalid_grant), not others\'; 404 after; audited', async () => {
    const mine = await authorizeAs(alice)
    const bobs = await authorizeAs(bob)
    const token = await firstParty(alice)
    const r = await call(svc.url, 'DELETE', `/api/me/consents/${encodeURIComponent(app)}`, undefined, bearer(token))
    assert.equal(r.status, 204, JSON.stringify(r.body))
    const refreshed = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: mine.refresh_token, client_id: app })
    assert.equal(refreshed.body.error, 'invalid_grant')
    const bobRefresh = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: bobs.refresh_token, client_id: app })
    assert.equal(bobRefresh.status, 200, "another person's approval and sessions stay")
    assert.deepEqual((await consents(alice)).body, [])
    assert.equal((await call(svc.url, 'DELETE', `/api/me/consents/${encodeURIComponent(app)}`, undefined, bearer(token))).status, 404)
    // The first-party session that asked is not the application's: still signed in.
    assert.equal((await call(svc.url, 'GET', '/api/me', undefined, bearer(token))).status, 200)
    const revoked = (await audit('consent.revoked')).filter((e) => e.target?.clientId === app)
    assert.equal(revoked.length, 1)
    assert.ok(revoked[0].detail.sessionsRevoked >= 1)
  })

  it('deleting the account erases its approvals (rows of its partition)', async () => {
    const carol = new SoftAuthenticator()
    const up = await signUp(svc.url, carol, 'carol')
    await authorizeAs(carol)
    assert.equal((await svc.store.listConsents(up.user.id)).length, 1)
    assert.equal((await call(svc.url, 'DELETE', '/api/me', undefined, bearer(await firstParty(carol)))).status, 204)
    assert.deepEqual(await svc.store.listConsents(up.user.id), [])
  })

  it('the routes need a first-party token: none → 401, the application\'s own token → 403', async () => {
    assert.equal((await call(svc.url, 'GET', '/api/me/consents')).status, 401)
    const t = await authorizeAs(bob)
    assert.equal((await call(svc.url, 'GET', '/api/me/consents', undefined, bearer(t.access_token))).status, 403)
  })
})

describe('consent rows: any client_id, concurrent approvals (Table Storage against Azurite)', () => {
  // A URL client_id escaped into the row key (every "/" → "%2F") passed Table Storage's 1 KiB key
  // limit: the write failed (503) after the sign-in. The key is base64url(SHA-256(clientId)).
  const longId = `https://mcp.example/${'a/'.repeat(700)}client.json`

  it('a consent to a 1.4 kB client_id is stored, read, listed and deleted (the key is its hash; the id a column)', async () => {
    const up = await signUp(svc.url, new SoftAuthenticator(), 'erin')
    const now = Date.now()
    await svc.store.putConsent({ userId: up.user.id, clientId: longId, clientName: 'Long', scope: 'openid', resources: [svc.config.audiences[0]!], createdAt: now, updatedAt: now })
    assert.equal((await svc.store.getConsent(up.user.id, longId))?.clientId, longId)
    assert.deepEqual((await svc.store.listConsents(up.user.id)).map((c) => c.clientId), [longId])
    assert.equal(await svc.store.deleteConsent(up.user.id, longId), true)
    assert.equal(await svc.store.getConsent(up.user.id, longId), undefined)
  })

  it('DELETE /api/me/consents/{id} with a long id (none such) → 404, never 5xx', async () => {
    const token = await firstParty(alice)
    for (const id of [longId.slice(0, 255), longId, 'x'.repeat(3000)]) {
      const r = await call(svc.url, 'DELETE', `/api/me/consents/${encodeURIComponent(id)}`, undefined, bearer(token))
      assert.equal(r.status, 404, `${id.length}: ${JSON.stringify(r.body)}`)
    }
  })

  it('the write is guarded: a second insert, or a Replace over a changed row, loses with ConcurrencyError', async () => {
    const up = await signUp(svc.url, new SoftAuthenticator(), 'frank')
    const now = Date.now()
    const c = { userId: up.user.id, clientId: app, clientName: 'Orders assistant', scope: 'openid', resources: [svc.config.audiences[0]!], createdAt: now, updatedAt: now }
    await svc.store.putConsent({ ...c })
    await assert.rejects(svc.store.putConsent({ ...c }), ConcurrencyError, 'insert over an existing row')
    const read = (await svc.store.getConsent(up.user.id, app))!
    await svc.store.putConsent({ ...read, scope: 'openid profile' })
    await assert.rejects(svc.store.putConsent({ ...read, scope: 'openid email' }), ConcurrencyError, 'Replace with a stale etag')
    assert.equal((await svc.store.getConsent(up.user.id, app))?.scope, 'openid profile')
  })

  it('two approvals at once keep the union of their scopes and resources', async () => {
    const up = await signUp(svc.url, new SoftAuthenticator(), 'grace')
    const client = { id: app, name: 'Orders assistant' }
    const [a, b] = await Promise.all([
      rememberConsent(svc.core, { userId: up.user.id, client, scope: 'openid', resource: svc.config.audiences[0]!, from: {} }),
      rememberConsent(svc.core, { userId: up.user.id, client, scope: 'profile', resource: svc.config.audiences[1]!, from: {} }),
    ])
    assert.deepEqual([a, b], [true, true])
    const kept = (await svc.store.getConsent(up.user.id, app))!
    assert.deepEqual(kept.scope.split(' ').sort(), ['openid', 'profile'])
    assert.deepEqual([...kept.resources].sort(), [svc.config.audiences[0], svc.config.audiences[1]].sort())
  })

  it('two hosted sign-ins completed at once (different resources) both end up in the approval', async () => {
    const henry = new SoftAuthenticator()
    await signUp(svc.url, henry, 'henry')
    const pages = await Promise.all([authorizeUrl(), authorizeUrl(svc.config.audiences[1])].map(async (u) => (await openAuthorize(u.url)).handle!))
    const done = await Promise.all(pages.map((h) => passkeyStep(svc.url, h, henry)))
    assert.deepEqual(done.map((d) => d.status), [200, 200], JSON.stringify(done.map((d) => d.body)))
    const mine = ((await consents(henry)).body as any[]).find((c) => c.clientId === app)
    assert.deepEqual([...mine.resources].sort(), [svc.config.audiences[0], svc.config.audiences[1]].sort())
  })

  it('the approval is written before the session: when it cannot be (storage down) → 503 and no session for the application', async () => {
    const ivy = new SoftAuthenticator()
    const up = await signUp(svc.url, ivy, 'ivy')
    const page = await openAuthorize(authorizeUrl().url)
    const store = svc.core.store
    const putConsent = store.putConsent
    store.putConsent = async () => {
      throw new StorageUnavailableError(new Error('injected: the consent write fails'))
    }
    try {
      const done = await passkeyStep(svc.url, page.handle!, ivy)
      assert.equal(done.status, 503, JSON.stringify(done.body))
    } finally {
      store.putConsent = putConsent
    }
    assert.deepEqual((await svc.store.listSessions(up.user.id)).filter((x) => x.clientId === app), [], 'no session behind a failed approval')
  })

  it('withdrawing whose session revocation fails (storage down) → 503, the approval still listed and the sessions live; the retry finishes it', async () => {
    const kim = new SoftAuthenticator()
    await signUp(svc.url, kim, 'kim')
    const theirs = await authorizeAs(kim)
    const token = await firstParty(kim)
    const store = svc.core.store
    const listSessions = store.listSessions
    store.listSessions = async () => {
      throw new StorageUnavailableError(new Error('injected: the session list fails'))
    }
    let failed
    try {
      failed = await call(svc.url, 'DELETE', `/api/me/consents/${encodeURIComponent(app)}`, undefined, bearer(token))
    } finally {
      store.listSessions = listSessions
    }
    assert.equal(failed.status, 503, JSON.stringify(failed.body))
    assert.deepEqual((await consents(kim)).body.map((c: any) => c.clientId), [app], 'nothing half-done: the approval is still there to withdraw')
    const retry = await call(svc.url, 'DELETE', `/api/me/consents/${encodeURIComponent(app)}`, undefined, bearer(token))
    assert.equal(retry.status, 204, JSON.stringify(retry.body))
    assert.equal((await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: theirs.refresh_token, client_id: app })).body.error, 'invalid_grant')
  })
})
