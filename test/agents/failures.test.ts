/**
 * Agents (docs/agents.md) when storage fails, on the memory store (`failNext`): every step answers
 * 503 and leaves nothing half-done, so that the same step can simply be tried again.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { createApp } from '../../shared/app.js'
import { loadConfig } from '../../shared/config.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { keyPair } from '../helpers/keys.js'
import { JWT_BEARER, clientAssertion } from '../oauth/helpers.js'

const ORIGIN = 'http://localhost:7071'
const config = loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BOOTSTRAP_ADMINS: 'boss', RATE_LIMIT: '0' }, { local: true })
const store = createMemoryStore()
const app = createApp({ config, store, logError: () => {} })
const env = { remoteAddr: '127.0.0.1' }
const keys = keyPair('ec', { namedCurve: 'P-256' })

async function json(method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) }
  const res = await app.request(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }, env)
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
const auth = async (clientId: string) => ({ client_assertion_type: JWT_BEARER, client_assertion: await clientAssertion({ clientId, key: keys.privateKey, kid: 'k1', aud: config.issuer }) })

describe('Agents when storage fails: 503, nothing half-done, the retry works', async () => {
  const admin = (await signUp(new SoftAuthenticator(), 'boss')).tokens.access_token
  const reg = await json('POST', '/api/manage/clients', { name: 'Assistant', jwks: { keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }] }, agent: true }, admin)
  assert.equal(reg.status, 201, JSON.stringify(reg.body))
  const agent = reg.body.client_id as string
  const alice = new SoftAuthenticator()
  const me = await signUp(alice, 'alice')
  const ask = async () => form('/api/oauth2/bc-authorize', { login_hint: 'alice', scope: 'openid', binding_message: 'ok?', ...(await auth(agent)) })
  const poll = async (id: string) => form('/api/oauth2/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: id, ...(await auth(agent)) })
  const pending = async () => (await json('GET', '/api/me/approvals', undefined, me.tokens.access_token)).body as { id: string }[]

  it('bc-authorize: storing the request fails → 503 temporarily_unavailable, no request; then 200', async () => {
    store.failNext('createBackchannelRequest')
    const r = await ask()
    assert.equal(r.status, 503)
    assert.equal(r.body.error, 'temporarily_unavailable')
    assert.equal((await pending()).length, 0)
    assert.equal((await ask()).status, 200)
  })

  it('approve: the transaction fails → 503, still pending, the passkey counter unchanged; approving again works', async () => {
    const asked = await ask()
    const [req] = (await pending()).slice(-1)
    const counter = () => store.getAccount(me.user.id).then((a) => a!.credentials[0]!.counter)
    const before = await counter()
    const verifyOnce = async () => {
      const o = await json('POST', `/api/me/approvals/${req!.id}/options`, {}, me.tokens.access_token)
      return json('POST', `/api/me/approvals/${req!.id}/verify`, { credential: await alice.getAssertion(o.body, { origin: ORIGIN }) }, me.tokens.access_token)
    }
    store.failNext('recordApproval')
    assert.equal((await verifyOnce()).status, 503)
    assert.equal(await counter(), before, 'the counter was not recorded')
    assert.ok((await pending()).some((p) => p.id === req!.id), 'still pending')
    assert.equal((await poll(asked.body.auth_req_id)).body.error, 'authorization_pending')
    assert.equal((await verifyOnce()).status, 204)
  })

  it('poll: issuing fails → 503, no session, still approved; the next poll gets the token', async () => {
    const asked = await ask()
    const [req] = (await pending()).slice(-1)
    const o = await json('POST', `/api/me/approvals/${req!.id}/options`, {}, me.tokens.access_token)
    assert.equal((await json('POST', `/api/me/approvals/${req!.id}/verify`, { credential: await alice.getAssertion(o.body, { origin: ORIGIN }) }, me.tokens.access_token)).status, 204)
    const sessions = async () => (await store.listSessions(me.user.id)).filter((s) => s.clientId === agent).length
    const before = await sessions()
    store.failNext('issueBackchannel')
    const failed = await poll(asked.body.auth_req_id)
    assert.equal(failed.status, 503)
    assert.equal(await sessions(), before, 'no delegated session')
    const ok = await poll(asked.body.auth_req_id)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(await sessions(), before + 1)
  })

  it('the authorizer: the used-action marker cannot be written → 503 (the gateway fails closed), the action stays unused', async () => {
    await json('PUT', '/api/manage/roles/writer', { permissions: [{ methods: ['POST'], path: '/orders', delegation: 'approve' }] }, admin)
    await json('PUT', `/api/manage/users/${me.user.id}/roles/writer`, undefined, admin)
    await json('PUT', `/api/manage/users/${agent}/roles/writer`, undefined, admin)
    const asked = await form('/api/oauth2/bc-authorize', { login_hint: 'alice', scope: 'openid', binding_message: 'one order', authorization_details: '[{"type":"api_request","method":"POST","path":"/orders"}]', ...(await auth(agent)) })
    const [req] = (await pending()).slice(-1)
    const o = await json('POST', `/api/me/approvals/${req!.id}/options`, {}, me.tokens.access_token)
    await json('POST', `/api/me/approvals/${req!.id}/verify`, { credential: await alice.getAssertion(o.body, { origin: ORIGIN }) }, me.tokens.access_token)
    const token = (await poll(asked.body.auth_req_id)).body.access_token as string
    const check = () => json('POST', '/api/authz/check', { method: 'POST', path: '/orders' }, token)
    store.failNext('putChallenge')
    assert.equal((await check()).status, 503)
    const first = await check()
    assert.equal(first.body.allow, true, JSON.stringify(first.body))
    assert.equal(first.body.ttl, 0)
    assert.equal((await check()).body.status, 403)
  })
})
