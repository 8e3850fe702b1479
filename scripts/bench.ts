/**
 * Ceremony benchmark: storage round trips (counted on the wire by the Table client's pipeline)
 * and server-side time per ceremony, against a real Azurite on loopback. Times are reported as
 * ratios to a baseline measured in the same run (an empty Hono handler, and one Azurite point
 * read), since absolute numbers depend on the machine.
 *
 *   npm run bench [-- --iterations 200]
 */
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { Hono } from 'hono'
import { createApp } from '../shared/app.js'
import { loadConfig } from '../shared/config.js'
import { createTablesStore, type StorageRequest } from '../shared/store/tables.js'
import { verifyAuthentication } from '../shared/webauthn/verifyAuthentication.js'
import { verifyRegistration } from '../shared/webauthn/verifyRegistration.js'
import { SoftAuthenticator } from '../test/helpers/authenticator.js'
import { startAzurite } from '../test/helpers/azurite.js'

const ORIGIN = 'http://localhost:7071'
const { values: flags } = parseArgs({ options: { iterations: { type: 'string' } }, strict: false })
const N = typeof flags.iterations === 'string' ? Number(flags.iterations) : 150

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
const ms = (x: number) => `${x.toFixed(2)} ms`

async function main() {
  const azurite = await startAzurite()
  const trips: StorageRequest[] = []
  const config = loadConfig(
    { TABLES_CONNECTION_STRING: azurite.connectionString, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), TABLE_PREFIX: 'bench' },
    { local: true },
  )
  const store = createTablesStore({ config, onRequest: (r) => trips.push(r) })
  await store.init()
  const app = createApp({ config, store })
  const json = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })

  // Baselines, same run: an empty handler on the same stack, and one storage point read.
  const empty = new Hono()
  empty.post('/x', (c) => c.json({}))
  const baseEmpty: number[] = []
  const basePing: number[] = []
  for (let i = 0; i < N; i++) {
    let t = performance.now()
    await (await empty.request('/x', { method: 'POST', body: '{}' })).text()
    baseEmpty.push(performance.now() - t)
    t = performance.now()
    await store.ping()
    basePing.push(performance.now() - t)
  }

  const rows: Record<string, { t: number[]; trips: number[]; cpu?: number[] }> = {
    'sign-up verify': { t: [], trips: [], cpu: [] },
    'sign-in verify': { t: [], trips: [], cpu: [] },
    refresh: { t: [], trips: [] },
  }
  const warm = new SoftAuthenticator()
  {
    const o = await (await json('/api/webauthn/registration/options', { username: 'warmup' })).json()
    await json('/api/webauthn/registration/verify', { credential: await warm.createCredential(o, { origin: ORIGIN }) })
  }
  for (let i = 0; i < N; i++) {
    const auth = new SoftAuthenticator({ alg: (['ES256', 'RS256', 'EdDSA'] as const)[i % 3] })
    const o = await (await json('/api/webauthn/registration/options', { username: `bench${i}` })).json()
    const credential = await auth.createCredential(o, { origin: ORIGIN })
    trips.length = 0
    let t = performance.now()
    const v = await json('/api/webauthn/registration/verify', { credential })
    rows['sign-up verify']!.t.push(performance.now() - t)
    rows['sign-up verify']!.trips.push(trips.length)
    if (v.status !== 201) throw new Error(`sign-up ${v.status} ${await v.text()}`)
    t = performance.now()
    await verifyRegistration({ response: credential, expectedChallenge: o.challenge, expectedOrigins: [ORIGIN], expectedRPID: 'localhost', requireUserVerification: true }).catch(() => {})
    rows['sign-up verify']!.cpu!.push(performance.now() - t)

    const ao = await (await json('/api/webauthn/authentication/options', {})).json()
    const assertion = await auth.getAssertion(ao, { origin: ORIGIN })
    trips.length = 0
    t = performance.now()
    const s = await json('/api/webauthn/authentication/verify', { credential: assertion })
    rows['sign-in verify']!.t.push(performance.now() - t)
    rows['sign-in verify']!.trips.push(trips.length)
    if (s.status !== 200) throw new Error(`sign-in ${s.status} ${await s.text()}`)
    const tokens = (await s.json()) as { refresh_token: string }
    const c = auth.credentials()[0]!
    t = performance.now()
    await verifyAuthentication({
      response: assertion, expectedChallenge: ao.challenge, expectedOrigins: [ORIGIN], expectedRPID: 'localhost', requireUserVerification: true,
      credential: { id: c.id, publicKey: Buffer.from(c.publicKey).toString('base64url'), counter: 0 },
    })
    rows['sign-in verify']!.cpu!.push(performance.now() - t)

    trips.length = 0
    t = performance.now()
    const r = await app.request('/api/oauth2/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }).toString(),
    })
    rows.refresh!.t.push(performance.now() - t)
    rows.refresh!.trips.push(trips.length)
    if (r.status !== 200) throw new Error(`refresh ${r.status}`)
  }
  await azurite.stop()

  const ping50 = pct(basePing, 50)
  const lines = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; Azurite ${'3.35'} in memory on loopback; ${N} iterations each, sequential.`,
    '',
    `Baselines (same run): empty Hono handler p50 ${ms(pct(baseEmpty, 50))}; one Azurite point read p50 ${ms(ping50)} p99 ${ms(pct(basePing, 99))}.`,
    '',
    '| ceremony | storage round trips (max) | server p50 | server p99 | p50 ÷ point read | verification CPU p50 (no storage) |',
    '| --- | --- | --- | --- | --- | --- |',
  ]
  const result: Record<string, unknown> = { iterations: N, baseline: { emptyP50: pct(baseEmpty, 50), pointReadP50: ping50 } }
  for (const [name, r] of Object.entries(rows)) {
    const maxTrips = Math.max(...r.trips)
    lines.push(
      `| ${name} | ${maxTrips} | ${ms(pct(r.t, 50))} | ${ms(pct(r.t, 99))} | ${(pct(r.t, 50) / ping50).toFixed(1)}× | ${r.cpu ? ms(pct(r.cpu, 50)) : '—'} |`,
    )
    result[name] = { maxTrips, p50: pct(r.t, 50), p99: pct(r.t, 99), cpuP50: r.cpu ? pct(r.cpu, 50) : undefined }
  }
  console.log(lines.join('\n'))
  mkdirSync('.bench', { recursive: true })
  writeFileSync('.bench/ceremonies.json', JSON.stringify(result, null, 2))
  // Each ceremony's own target is 4 round trips, plus the one audit append (docs/audit.md "Cost").
  const target = 4 + 1
  const over = Object.entries(rows).filter(([, r]) => Math.max(...r.trips) > target)
  if (over.length) {
    console.error(`over the 4 + 1 audit append round-trip target: ${over.map(([n]) => n).join(', ')}`)
    process.exit(1)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
