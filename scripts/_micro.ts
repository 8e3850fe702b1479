import { randomBytes } from 'node:crypto'
import { createApp } from '../shared/app.js'
import { loadConfig } from '../shared/config.js'
import { createMemoryStore } from '../shared/store/memory.js'
import { SoftAuthenticator } from '../test/helpers/authenticator.js'
const config = loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BOOTSTRAP_ADMINS: 'boss' }, { local: true })
const store = createMemoryStore()
const app = createApp({ config, store })
app.post('/bench/empty', (c) => c.json({}))
const json = async (path: string, body: unknown, headers: Record<string, string> = {}) => (await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })).json() as Promise<any>
const auth = new SoftAuthenticator()
const o = await json('/api/webauthn/registration/options', { username: 'boss' })
const v = await json('/api/webauthn/registration/verify', { credential: await auth.createCredential(o, { origin: 'http://localhost:7071' }) })
const token = v.tokens.access_token
const body = JSON.stringify({ method: 'GET', path: '/orders/42' })
const env = { remoteAddr: '127.0.0.1', readBody: async () => new TextEncoder().encode(body) }
async function run(path: string, headers: Record<string, string>, n: number) {
  const t = performance.now()
  for (let i = 0; i < n; i++) {
    const r = await app.fetch(new Request('http://x' + path, { method: 'POST', headers, body }), env)
    await r.text()
  }
  return ((performance.now() - t) * 1000) / n
}
const h = { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': String(body.length) }
for (let k = 0; k < 3; k++) {
  console.log('empty µs/op', (await run('/bench/empty', h, 20000)).toFixed(1), 'authz µs/op', (await run('/api/authz/check', h, 20000)).toFixed(1))
}
