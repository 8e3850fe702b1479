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
import { adminToken, hostedSignIn, openAuthorize, registerClient } from '../oauth/helpers.js'

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
