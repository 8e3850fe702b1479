/**
 * Soak: a bounded run (default 5 minutes) of mixed traffic against the server in its own process
 * (scripts/bench-server.ts, run with --expose-gc): sign-ups, sign-ins, refresh grants,
 * client_credentials grants and authorizer calls with distinct tokens, 8 in flight. The heap after
 * a full collection is sampled every 15 s; the figure is the last sample against the one at the
 * end of the warm-up (the first minute, or a fifth of the run). Passes when it stays within 10 %
 * and nothing but the expected answers came back (no 5xx, no unexpected 4xx).
 *
 *   npm run bench -- --soak [--seconds 300]
 */
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { randomBytes } from 'node:crypto'
import { keyPair } from '../test/helpers/keys.js'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'
import { SignJWT } from 'jose'
import { SoftAuthenticator } from '../test/helpers/authenticator.js'
import { startAzurite } from '../test/helpers/azurite.js'

const { values: flags } = parseArgs({ options: { seconds: { type: 'string' } }, strict: false })
const SECONDS = typeof flags.seconds === 'string' ? Number(flags.seconds) : 300
const WARMUP = Math.min(60, SECONDS / 5)
const CONCURRENCY = 8
const ORIGIN = 'http://localhost:7071'
const CACHE = '2000'

async function main() {
  const azurite = await startAzurite()
  const outfile = '.bench/bench-server.mjs'
  await build({ entryPoints: ['scripts/bench-server.ts'], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' })
  const child = spawn(process.execPath, ['--expose-gc', outfile, azurite.connectionString, 'warm'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BENCH_CACHE_SIZE: CACHE } })
  const { url: base, admin } = JSON.parse(
    await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve)
      child.once('exit', (code) => reject(new Error(`bench server exited ${code}`)))
    }),
  ) as { url: string; admin: string }

  const unexpected: Record<string, number> = {}
  const done: Record<string, number> = {}
  const call = async (what: string, path: string, init: RequestInit, ok: (status: number) => boolean) => {
    const r = await fetch(base + path, init)
    const text = await r.text()
    if (!ok(r.status)) unexpected[`${what} ${r.status}`] = (unexpected[`${what} ${r.status}`] ?? 0) + 1
    else done[what] = (done[what] ?? 0) + 1
    return text ? JSON.parse(text) : undefined
  }
  const json = (what: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    call(what, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }, (s) => s < 300)
  const form = (what: string, params: Record<string, string>) =>
    call(what, '/api/oauth2/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() }, (s) => s === 200)
  const heap = async () => ((await (await fetch(`${base}/bench/heap`)).json()) as { heapUsed: number }).heapUsed

  // A role that lets the people read /orders, and a machine client.
  const adminH = { authorization: `Bearer ${admin}` }
  const { privateKey, publicKey } = keyPair('ec', { namedCurve: 'P-256' })
  const client = (await json('setup', '/api/manage/clients', { name: 'soak', jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }] }, roles: ['reader'] }, adminH)).client_id as string
  const assertion = () =>
    new SignJWT({ jti: randomBytes(12).toString('base64url') }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(client).setSubject(client).setAudience('http://localhost:7071/api').setIssuedAt().setExpirationTime('60s').sign(privateKey)

  // Each lane has people of its own: a refresh token is single use, and two lanes refreshing one
  // at once would (rightly) be reuse.
  const lanes: { auth: SoftAuthenticator; refresh: string; token: string }[][] = Array.from({ length: CONCURRENCY }, () => [])
  let n = 0
  const until = Date.now() + SECONDS * 1000
  const warmEnd = Date.now() + WARMUP * 1000
  const samples: { at: number; heapUsed: number }[] = []
  let warmHeap: number | undefined
  const sampler = setInterval(async () => {
    const h = await heap().catch(() => undefined)
    if (h === undefined) return
    samples.push({ at: Math.round((Date.now() - (until - SECONDS * 1000)) / 1000), heapUsed: h })
  }, 15_000)

  async function step(lane: number) {
    const i = n++
    const kind = i % 10
    const people = lanes[lane]!
    if (kind === 0 || people.length < 2) {
      // sign-up (new account, new passkey)
      const auth = new SoftAuthenticator()
      const o = await json('registration/options', '/api/webauthn/registration/options', { username: `soak${lane}n${i}` })
      const v = await json('sign-up', '/api/webauthn/registration/verify', { credential: await auth.createCredential(o, { origin: ORIGIN }) })
      if (v?.tokens) people.push({ auth, refresh: v.tokens.refresh_token, token: v.tokens.access_token })
      if (people.length > 100) people.splice(0, people.length - 100)
      return
    }
    const p = people[i % people.length]!
    if (kind === 1 || kind === 2) {
      const o = await json('authentication/options', '/api/webauthn/authentication/options', {})
      const t = await json('sign-in', '/api/webauthn/authentication/verify', { credential: await p.auth.getAssertion(o, { origin: ORIGIN }) })
      if (t?.access_token) Object.assign(p, { refresh: t.refresh_token, token: t.access_token })
    } else if (kind === 3 || kind === 4) {
      const t = await form('refresh', { grant_type: 'refresh_token', refresh_token: p.refresh })
      if (t?.access_token) Object.assign(p, { refresh: t.refresh_token, token: t.access_token })
    } else if (kind === 5) {
      await form('client_credentials', { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion() })
    } else {
      // The authorizer, with this person's current (distinct) token: 403 (no role) is expected.
      await call('authz', '/api/authz/check', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${p.token}` }, body: JSON.stringify({ method: 'GET', path: `/orders/${i}` }) }, (s) => s === 200)
    }
  }

  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, lane) => {
      while (Date.now() < until) {
        if (warmHeap === undefined && Date.now() >= warmEnd) warmHeap = await heap()
        await step(lane).catch((e) => void (unexpected[`error ${(e as Error).message.slice(0, 60)}`] = (unexpected[`error ${(e as Error).message.slice(0, 60)}`] ?? 0) + 1))
      }
    }),
  )
  clearInterval(sampler)
  const finalHeap = await heap()
  child.kill('SIGINT')
  await new Promise((r) => child.once('exit', r))
  await azurite.stop()

  const growth = (finalHeap - warmHeap!) / warmHeap!
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}; ${SECONDS} s, ${CONCURRENCY} in flight, warm-up ${WARMUP} s; authorizer caches ${CACHE} entries.`)
  console.log(`operations: ${Object.entries(done).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  console.log(`heap after GC: end of warm-up ${mb(warmHeap!)}, end ${mb(finalHeap)} (${(growth * 100).toFixed(1)} %); samples ${samples.map((s) => `${s.at}s ${mb(s.heapUsed)}`).join(', ')}`)
  console.log(`unexpected answers: ${Object.keys(unexpected).length ? JSON.stringify(unexpected) : 'none'}`)
  mkdirSync('.bench', { recursive: true })
  writeFileSync('.bench/soak.json', JSON.stringify({ seconds: SECONDS, done, unexpected, warmHeap, finalHeap, growth, samples }, null, 2))
  if (growth > 0.1 || Object.keys(unexpected).length) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
