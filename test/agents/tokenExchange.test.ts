/**
 * Token exchange (RFC 8693, shared/oauth/grants/token-exchange.ts) when storage fails, on the
 * memory store (`failNext`): each read the grant makes answers 503 temporarily_unavailable, and
 * the retry works; a successful exchange writes nothing but its audit event (no row of the
 * delegation is touched, so it can never race the delegation's refresh rotation).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { createApp } from '../../shared/app.js'
import { loadConfig } from '../../shared/config.js'
import { createMemoryStore, type StoreVerb } from '../../shared/store/memory.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { keyPair } from '../helpers/keys.js'
import { JWT_BEARER, clientAssertion } from '../oauth/helpers.js'

const ORIGIN = 'http://localhost:7071'
const TX = 'urn:ietf:params:oauth:grant-type:token-exchange'
const AT = 'urn:ietf:params:oauth:token-type:access_token'
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

/** Verbs that change storage (the audit log's append aside). */
const WRITES = /^(create|update|put|delete|issue|record|revoke|consume|erase|sweep|replace|set|add|remove|claim|recover)/

describe('Token exchange when storage fails: 503, nothing written, the retry works', async () => {
  const admin = (await signUp(new SoftAuthenticator(), 'boss')).tokens.access_token
  const reg = await json('POST', '/api/manage/clients', { name: 'Assistant', jwks: { keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }] }, agent: true }, admin)
  assert.equal(reg.status, 201, JSON.stringify(reg.body))
  const agent = reg.body.client_id as string
  const alice = new SoftAuthenticator()
  const me = await signUp(alice, 'alice')
  // A standing delegation: ask, approve with the passkey, poll.
  const asked = await form('/api/oauth2/bc-authorize', { login_hint: 'alice', scope: 'openid', binding_message: 'ok?', ...(await auth(agent)) })
  const [req] = (await json('GET', '/api/me/approvals', undefined, me.tokens.access_token)).body as { id: string }[]
  const o = await json('POST', `/api/me/approvals/${req!.id}/options`, {}, me.tokens.access_token)
  assert.equal((await json('POST', `/api/me/approvals/${req!.id}/verify`, { credential: await alice.getAssertion(o.body, { origin: ORIGIN }) }, me.tokens.access_token)).status, 204)
  assert.equal((await form('/api/oauth2/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: asked.body.auth_req_id, ...(await auth(agent)) })).status, 200)
  const exchange = async () => form('/api/oauth2/token', { grant_type: TX, subject_token: me.tokens.access_token, subject_token_type: AT, ...(await auth(agent)) })

  it('a successful exchange reads the subject session, the person and their sessions, and writes nothing but the audit event', async () => {
    const before = { ...store.calls }
    const r = await exchange()
    assert.equal(r.status, 200, JSON.stringify(r.body))
    const delta = (v: StoreVerb) => (store.calls[v] ?? 0) - (before[v] ?? 0)
    for (const v of ['getSession', 'getUser', 'listSessions'] as const) assert.ok(delta(v) >= 1, `${v} read`)
    const written = (Object.keys(store.calls) as StoreVerb[]).filter((v) => WRITES.test(v) && delta(v) > 0 && !/audit/i.test(v))
    // The client assertion's jti is remembered (replay protection): the only write besides the audit.
    assert.deepEqual(written.filter((v) => v !== 'putChallenge'), [], `writes: ${written.join(', ')}`)
  })

  for (const verb of ['getSession', 'getUser', 'listSessions'] as const) {
    it(`${verb} fails → 503 temporarily_unavailable; the retry works`, async () => {
      store.failNext(verb)
      const failed = await exchange()
      assert.equal(failed.status, 503, JSON.stringify(failed.body))
      assert.equal(failed.body.error, 'temporarily_unavailable')
      assert.equal(failed.body.access_token, undefined)
      const ok = await exchange()
      assert.equal(ok.status, 200, JSON.stringify(ok.body))
    })
  }
})
