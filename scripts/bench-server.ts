/**
 * The server side of the authorizer benchmark (a child process, so the load generator does not
 * share its event loop): the real app on the real stack (@hono/node-server, Table store on
 * Azurite), plus `POST /bench/empty`, an empty handler on the same app and server as the
 * baseline. Prints one JSON line with the URL and ready-made tokens, then serves until killed.
 */
import { getRequestListener } from '@hono/node-server'
import { nodeBindings } from '../runtime/node/bindings.js'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { createApp } from '../shared/app.js'
import { loadConfig } from '../shared/config.js'
import { createTablesStore } from '../shared/store/tables.js'
import { SoftAuthenticator } from '../test/helpers/authenticator.js'
import { DPoPKey } from '../test/helpers/dpop.js'

const [connectionString, mode] = process.argv.slice(2) as [string, 'warm' | 'cold']
const ORIGIN = 'http://localhost:7071'
let reads = 0
let decisions = 0

async function main() {
  const config = loadConfig(
    {
      TABLES_CONNECTION_STRING: connectionString,
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      TABLE_PREFIX: `b${mode}${process.pid}`,
      BOOTSTRAP_ADMINS: 'boss',
      // One load generator on 127.0.0.1 stands for many clients.
      RATE_LIMIT: '0',
      // Cold: caches of one entry and alternating subjects, so every decision misses.
      ...(mode === 'cold' ? { AUTHZ_TOKEN_CACHE_SIZE: '1', AUTHZ_SUBJECT_CACHE_SIZE: '1' } : {}),
      // The soak: caches small enough to be full after its warm-up (a bounded cache filling up is
      // not a leak, and would otherwise look like one).
      ...(process.env.BENCH_CACHE_SIZE ? { AUTHZ_TOKEN_CACHE_SIZE: process.env.BENCH_CACHE_SIZE, AUTHZ_SUBJECT_CACHE_SIZE: process.env.BENCH_CACHE_SIZE } : {}),
    },
    { local: true },
  )
  const store = createTablesStore({ config, onRequest: () => void reads++ })
  await store.init()
  const app = createApp({ config, store, logError: () => {} })
  app.post('/bench/empty', (c) => c.json({}))
  app.get('/bench/reads', (c) => c.json({ reads, decisions, cpu: process.cpuUsage() }))
  // Heap after a full collection (the soak runs this process with --expose-gc).
  app.get('/bench/heap', (c) => {
    ;(globalThis as { gc?: () => void }).gc?.()
    return c.json(process.memoryUsage())
  })
  const json = async (path: string, body: unknown, headers: Record<string, string> = {}) =>
    (await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })).json() as Promise<any>

  const signUp = async (username: string) => {
    const auth = new SoftAuthenticator()
    const o = await json('/api/webauthn/registration/options', { username })
    const v = await json('/api/webauthn/registration/verify', { credential: await auth.createCredential(o, { origin: ORIGIN }) })
    return v as { user: { id: string }; tokens: { access_token: string } }
  }
  const boss = await signUp('boss')
  const admin = { authorization: `Bearer ${boss.tokens.access_token}` }
  await app.request('/api/manage/roles/reader', { method: 'PUT', headers: { 'content-type': 'application/json', ...admin }, body: JSON.stringify({ permissions: [{ methods: ['GET'], path: '/orders/**' }] }) })
  const tokens: string[] = []
  // Cold: enough subjects that consecutive decisions (16 connections interleaved) rarely repeat one.
  const names = mode === 'cold' ? Array.from({ length: 24 }, (_, i) => `user${i}`) : ['alice']
  for (const name of names) {
    const u = await signUp(name)
    await app.request(`/api/manage/users/${u.user.id}/roles/reader`, { method: 'PUT', headers: admin })
    tokens.push(u.tokens.access_token)
  }
  // A DPoP-bound token (CONTRACT v2 "DPoP"): the load generator signs a proof per call with the key.
  let dpop: { token: string; jwk: unknown } | undefined
  if (mode === 'warm') {
    const key = await DPoPKey.generate('ES256')
    const auth = new SoftAuthenticator()
    const o = await json('/api/webauthn/registration/options', { username: 'bound' })
    const proof = await key.proof({ htm: 'POST', htu: `${config.issuer}/webauthn/registration/verify` })
    const v = (await json('/api/webauthn/registration/verify', { credential: await auth.createCredential(o, { origin: ORIGIN }) }, { dpop: proof })) as { user: { id: string }; tokens: { access_token: string } }
    await app.request(`/api/manage/users/${v.user.id}/roles/reader`, { method: 'PUT', headers: admin })
    dpop = { token: v.tokens.access_token, jwk: key.privateKey.export({ format: 'jwk' }) }
  }
  const listener = getRequestListener((req, { incoming }) => app.fetch(req, nodeBindings(incoming)))
  const server = createServer((req, res) => {
    if (req.url === '/api/authz/check') decisions++
    return listener(req, res)
  })
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo
    console.log(JSON.stringify({ url: `http://127.0.0.1:${port}`, tokens, admin: boss.tokens.access_token, dpop }))
  })
}
process.on('SIGINT', () => process.exit(0))
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
