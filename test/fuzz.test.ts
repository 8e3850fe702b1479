/**
 * CONTRACT "Errors": bad input of any shape yields 4xx, never 5xx. Every route of the app gets a
 * battery of malformed bodies, queries, content types and path parameters, as an anonymous
 * caller and as a signed-in admin (so the checks behind authentication run too).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { createApp } from '../shared/app.js'
import { loadConfig } from '../shared/config.js'
import { createMemoryStore } from '../shared/store/memory.js'
import { SoftAuthenticator } from './helpers/authenticator.js'

const config = loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BOOTSTRAP_ADMINS: 'root' }, { local: true })
const app = createApp({ config, store: createMemoryStore(), logError: () => {} })
const env = { remoteAddr: '127.0.0.1' }
let admin = ''

const deep = (n: number): unknown => (n === 0 ? 'x' : { a: deep(n - 1) })
const BODIES: [string, string, string][] = [
  ['empty', '', 'application/json'],
  ['not JSON', '{"a": ', 'application/json'],
  ['null', 'null', 'application/json'],
  ['number', '42', 'application/json'],
  ['string', '"hi"', 'application/json'],
  ['array', '[1,2,3]', 'application/json'],
  ['wrong types', JSON.stringify({ username: 5, credential: [], method: {}, path: 7, permissions: 'x', label: false, name: [], jwks: 'k', redirect_uris: 'u', token: 1, audience: 3, scope: {} }), 'application/json'],
  ['deeply nested', JSON.stringify(deep(2000)), 'application/json'],
  ['credential junk', JSON.stringify({ credential: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'oA', authenticatorData: 'AA', signature: 'AA', userHandle: '!!' } } }), 'application/json'],
  ['clientData with odd challenge', JSON.stringify({ credential: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: { x: 1 }, origin: 5 })).toString('base64url'), authenticatorData: 'AA', signature: 'AA' } } }), 'application/json'],
  ['unicode', JSON.stringify({ username: '\u202e\ud800', displayName: '😀'.repeat(50), path: '/\u0000', method: 'ÄÖÜ' }), 'application/json'],
  ['invalid UTF-8', '\xff\xfe', 'application/json'],
  ['form junk', 'grant_type=%zz&a=1&a=2', 'application/x-www-form-urlencoded'],
  ['form grants', 'grant_type=authorization_code&code=x&code_verifier=y&redirect_uri=z&client_id=q', 'application/x-www-form-urlencoded'],
  ['form assertion', 'grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c', 'application/x-www-form-urlencoded'],
  ['text', 'hello', 'text/plain'],
  ['xml', '<a/>', 'application/xml'],
]
const PARAMS = ['x', '..', '%2e%2e', 'A'.repeat(2000), '%00', '%F0%9F%98%80', 'admin']

function concrete(path: string, param: string): string {
  return path.replace(/:[A-Za-z]+/g, param)
}

before(async () => {
  const json = async (path: string, body: unknown) =>
    (await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, env)).json() as Promise<any>
  const auth = new SoftAuthenticator()
  const o = await json('/api/webauthn/registration/options', { username: 'root' })
  const v = await json('/api/webauthn/registration/verify', { credential: await auth.createCredential(o, { origin: 'http://localhost:7071' }) })
  admin = v.tokens.access_token
})

describe('Errors: no input shape yields a 5xx', () => {
  const routes = () =>
    app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, path: r.path })).filter((r, i, all) => all.findIndex((x) => x.method === r.method && x.path === r.path) === i)

  it('every route, every junk body, anonymous and as admin → < 500', async () => {
    const failures: string[] = []
    const seen = new Set<number>()
    for (const { method, path } of routes()) {
      for (const param of path.includes(':') ? PARAMS : ['']) {
        const url = concrete(path, param)
        for (const headers of [{}, { authorization: `Bearer ${admin}` }, { authorization: 'Bearer a.b.c' }, { authorization: 'Basic Zm9vOmJhcg==' }] as Record<string, string>[]) {
          const bodies = method === 'GET' || method === 'HEAD' ? [undefined] : BODIES
          for (const b of bodies) {
            const init: RequestInit = { method, headers: { ...headers, ...(b ? { 'content-type': b[2] } : {}) } }
            if (b) init.body = b[1]
            const res = await app.request(`${url}?username=%zz&since=-1&limit=abc&response_type=code&client_id=x&redirect_uri=javascript:alert(1)`, init, env)
            seen.add(res.status)
            if (res.status >= 500) failures.push(`${method} ${url} [${b?.[0] ?? 'no body'}] ${JSON.stringify(headers).slice(0, 30)} → ${res.status} ${(await res.text()).slice(0, 120)}`)
            else await res.body?.cancel()
          }
        }
      }
    }
    assert.deepEqual(failures, [])
    // The battery reaches past routing and authentication: each kind of refusal shows up.
    for (const status of [200, 400, 401, 404, 415]) assert.ok(seen.has(status), `saw no ${status}: ${[...seen]}`)
  })
})
