/**
 * Agents' rules that the Azurite suite (test/http/agents.test.ts) does not reach cheaply, on the
 * memory store: approvals need user verification whatever USER_VERIFICATION says; auth_req_id
 * carries its request's secret; a poll re-checks what the agent may be granted; an agent turned
 * off or deleted loses its delegated tokens. AUTHZ_CACHE_TTL=0: every decision reads storage;
 * a second instance on the same store with AUTHZ_CACHE_TTL=60 checks that a change to an agent
 * made there applies at once despite its caches.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { createApp } from '../../shared/app.js'
import { loadConfig } from '../../shared/config.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { keyPair } from '../helpers/keys.js'
import { JWT_BEARER, clientAssertion } from '../oauth/helpers.js'

const ORIGIN = 'http://localhost:7071'
const config = loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BOOTSTRAP_ADMINS: 'boss', RATE_LIMIT: '0', USER_VERIFICATION: 'preferred', AUTHZ_CACHE_TTL: '0', SCOPES: 'orders.read' }, { local: true })
const store = createMemoryStore()
const clock = new ManualClock(Date.now())
const app = createApp({ config, store, clock, logError: () => {} })
const env = { remoteAddr: '127.0.0.1' }
/** A second instance on the same store whose authorizer caches (decisions, clients, subjects). */
const cachedApp = createApp({ config: loadConfig({ ...Object.fromEntries(Object.entries({ KEY_ENCRYPTION_KEY: Buffer.from(config.keyEncryptionKey!).toString('base64'), BOOTSTRAP_ADMINS: 'boss', RATE_LIMIT: '0', USER_VERIFICATION: 'preferred', SCOPES: 'orders.read' })), AUTHZ_CACHE_TTL: '60' }, { local: true }), store, clock, logError: () => {} })
const keys = keyPair('ec', { namedCurve: 'P-256' })

async function json(method: string, path: string, body?: unknown, token?: string, on = app) {
  const headers: Record<string, string> = { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) }
  const res = await on.request(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }, env)
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}
async function form(path: string, params: Record<string, string>) {
  const res = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() }, env)
  return { status: res.status, body: (await res.json()) as any }
}
async function signUp(auth: SoftAuthenticator, username: string) {
  const o = await json('POST', '/api/webauthn/registration/options', { username })
  const up = await json('POST', '/api/webauthn/registration/verify', { credential: await auth.createCredential(o.body, { origin: ORIGIN }) })
  assert.equal(up.status, 201, JSON.stringify(up.body))
  return up.body as { user: { id: string }; tokens: { access_token: string } }
}
const auth = async (clientId: string) => {
  const now = Math.floor(clock.now() / 1000)
  return { client_assertion_type: JWT_BEARER, client_assertion: await clientAssertion({ clientId, key: keys.privateKey, kid: 'k1', aud: config.issuer, claims: { iat: now, exp: now + 60 } }) }
}

describe('Agents: rules checked on the memory store', async () => {
  const admin = (await signUp(new SoftAuthenticator(), 'boss')).tokens.access_token
  const jwks = { keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }] }
  await json('PUT', '/api/manage/roles/reader', { permissions: [{ methods: ['GET'], path: '/orders/**' }] }, admin)
  const newAgent = async () => {
    const reg = await json('POST', '/api/manage/clients', { name: 'Assistant', jwks, agent: true, roles: ['reader'], scopes: ['orders.read'] }, admin)
    assert.equal(reg.status, 201, JSON.stringify(reg.body))
    return reg.body.client_id as string
  }
  const alice = new SoftAuthenticator()
  const me = await signUp(alice, 'alice')
  await json('PUT', `/api/manage/users/${me.user.id}/roles/reader`, undefined, admin)
  const ask = async (agent: string, scope = 'openid') => form('/api/oauth2/bc-authorize', { login_hint: 'alice', scope, binding_message: 'ok?', ...(await auth(agent)) })
  const poll = async (agent: string, id: string) => form('/api/oauth2/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: id, ...(await auth(agent)) })
  const latest = async () => ((await json('GET', '/api/me/approvals', undefined, me.tokens.access_token)).body as { id: string }[]).at(-1)!.id
  const approve = async (id: string, opts: Record<string, unknown> = {}) => {
    const o = await json('POST', `/api/me/approvals/${id}/options`, {}, me.tokens.access_token)
    return json('POST', `/api/me/approvals/${id}/verify`, { credential: await alice.getAssertion(o.body, { origin: ORIGIN, ...opts } as never) }, me.tokens.access_token)
  }
  const delegated = async (agent: string, scope?: string) => {
    const asked = await ask(agent, scope)
    assert.equal((await approve(await latest())).status, 204)
    const t = await poll(agent, asked.body.auth_req_id)
    assert.equal(t.status, 200, JSON.stringify(t.body))
    return t.body as { access_token: string; refresh_token: string }
  }
  const check = (token: string) => json('POST', '/api/authz/check', { method: 'GET', path: '/orders/1' }, token)
  const checkCached = (token: string) => json('POST', '/api/authz/check', { method: 'GET', path: '/orders/1' }, token, cachedApp)

  it('on an instance that caches: turning the agent off or taking its role applies at once there (decision and client caches follow the agent)', async () => {
    for (const change of [{ agent: false }, { roles: [] }]) {
      const agent = await newAgent()
      const t = await delegated(agent)
      // Cached: a decision, and the client row read as an agent's.
      assert.equal((await checkCached(t.access_token)).body.allow, true)
      assert.equal((await checkCached(t.access_token)).body.allow, true)
      assert.equal((await json('PATCH', `/api/manage/clients/${agent}`, change, admin, cachedApp)).status, 200)
      const after = (await checkCached(t.access_token)).body
      assert.equal(after.allow, false, `after ${JSON.stringify(change)}: ${JSON.stringify(after)}`)
      assert.equal(after.status, 'agent' in change ? 401 : 403)
    }
  })

  it('an approval needs user verification even with USER_VERIFICATION=preferred (user_verification_required)', async () => {
    const agent = await newAgent()
    await ask(agent)
    const id = await latest()
    const r = await approve(id, { userVerified: false })
    assert.equal(r.status, 400)
    assert.equal(r.body.code, 'user_verification_required')
    assert.equal((await approve(id)).status, 204)
  })

  it("auth_req_id carries the request's secret: a stored hash that differs → invalid_grant", async () => {
    const agent = await newAgent()
    const asked = await ask(agent)
    const id = await latest()
    const stored = (await store.getBackchannelRequest(me.user.id, id))!
    await store.updateBackchannelRequest({ ...stored, secretHash: 'A'.repeat(43) })
    assert.equal((await poll(agent, asked.body.auth_req_id)).body.error, 'invalid_grant')
  })

  it('the poll checks the scope is still grantable to the agent (invalid_scope)', async () => {
    const agent = await newAgent()
    const asked = await ask(agent, 'openid orders.read')
    assert.equal((await approve(await latest())).status, 204)
    assert.equal((await json('PATCH', `/api/manage/clients/${agent}`, { scopes: [] }, admin)).status, 200)
    assert.equal((await poll(agent, asked.body.auth_req_id)).body.error, 'invalid_scope')
  })

  it('the approving passkey revoked before the poll → access_denied (the delegation would outlive it)', async () => {
    const agent = await newAgent()
    const bob = new SoftAuthenticator()
    const b = await signUp(bob, 'bob')
    const asked = await form('/api/oauth2/bc-authorize', { login_hint: 'bob', scope: 'openid', binding_message: 'ok?', ...(await auth(agent)) })
    const [req] = (await json('GET', '/api/me/approvals', undefined, b.tokens.access_token)).body as { id: string }[]
    const o = await json('POST', `/api/me/approvals/${req!.id}/options`, {}, b.tokens.access_token)
    const v = await json('POST', `/api/me/approvals/${req!.id}/verify`, { credential: await bob.getAssertion(o.body, { origin: ORIGIN }) }, b.tokens.access_token)
    assert.equal(v.status, 204)
    assert.equal((await json('DELETE', `/api/manage/credentials/${bob.credentials()[0]!.id}`, undefined, admin)).status, 204)
    assert.equal((await poll(agent, asked.body.auth_req_id)).body.error, 'access_denied')
  })

  it('an agent turned off: bc-authorize and polls unauthorized_client, its delegated tokens 401', async () => {
    const agent = await newAgent()
    const t = await delegated(agent)
    assert.equal((await check(t.access_token)).body.allow, true)
    const waiting = await ask(agent)
    assert.equal((await json('PATCH', `/api/manage/clients/${agent}`, { agent: false }, admin)).status, 200)
    assert.equal((await check(t.access_token)).body.status, 401)
    assert.equal((await ask(agent)).body.error, 'unauthorized_client')
    assert.equal((await poll(agent, waiting.body.auth_req_id)).body.error, 'unauthorized_client')
  })

  it('at most 10 requests of one agent wait for one person (access_denied); others may still ask', async () => {
    const agent = await newAgent()
    for (let i = 0; i < 10; i++) assert.equal((await ask(agent)).status, 200)
    const refused = await ask(agent)
    assert.equal(refused.status, 400)
    assert.equal(refused.body.error, 'access_denied')
    assert.equal((await ask(await newAgent())).status, 200, 'another agent is not limited by this one')
    await json('DELETE', `/api/me/approvals/${await latest()}`, undefined, me.tokens.access_token)
  })

  it('an agent deleted: its delegations are not listed, its tokens 401, its refresh token refused', async () => {
    const agent = await newAgent()
    const t = await delegated(agent)
    const list = async () => (await json('GET', '/api/me/delegations', undefined, me.tokens.access_token)).body as { clientId: string }[]
    assert.ok((await list()).some((d) => d.clientId === agent))
    assert.equal((await json('DELETE', `/api/manage/clients/${agent}`, undefined, admin)).status, 204)
    assert.ok(!(await list()).some((d) => d.clientId === agent))
    assert.equal((await check(t.access_token)).body.status, 401)
    const r = await form('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token, ...(await auth(agent)) })
    assert.equal(r.status, 401)
    assert.equal(r.body.error, 'invalid_client')
  })

  it('requests expired over an hour ago are deleted when the person is next asked (no TTL in Table Storage)', async () => {
    const agent = await newAgent()
    await ask(agent)
    const id = await latest()
    const rows = () => store.listBackchannelRequests(me.user.id)
    // Agents to ask with afterwards (registered now: the administrator's token expires below).
    const others = await Promise.all(Array.from({ length: Math.ceil((await rows()).length / 10) }, () => newAgent()))
    clock.advance(5 * 60_000 + 60 * 60_000 + 1_000)
    const old = (await rows()).length // every one of them expired over an hour ago now
    assert.ok(old > 10 && (await rows()).some((r) => r.id === id))
    // At most 10 deletions per request: the partition shrinks by 10 (+1 new) per ask, until clean.
    assert.equal((await ask(agent)).status, 200)
    assert.equal((await rows()).length, old - 10 + 1)
    for (const other of others) await ask(other)
    const left = await rows()
    assert.ok(!left.some((r) => r.id === id), 'the old request is gone')
    assert.ok(left.every((r) => r.expiresAt > clock.now()), 'only live requests are left')
  })
})
