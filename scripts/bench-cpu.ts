/**
 * Server CPU time per operation (issue "the cost of a token"): sign-up, sign-in, refresh grant,
 * client_credentials grant and authorizer decision, each driven over HTTP on loopback against the
 * server in its own process (scripts/bench-server.ts, from an esbuild bundle as in production,
 * the real Table store on Azurite). The figure is the server process's CPU time (user + system,
 * `process.cpuUsage()`) over a run divided by the operations completed: our cost only — Azurite
 * and the load generator (which makes the passkey signatures and client assertions) run in other
 * processes. Baseline in the same run: the CPU per request of an empty handler on the same app
 * and server.
 *
 *   npm run bench -- --cpu [--ops 300]
 *   BENCH_SERVER_NODE_OPTIONS=--cpu-prof npm run bench -- --cpu   (profiles land in .bench/)
 */
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { randomBytes } from 'node:crypto'
import { keyPair } from '../test/helpers/keys.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'
import { SignJWT } from 'jose'
import { SoftAuthenticator } from '../test/helpers/authenticator.js'
import { startAzurite } from '../test/helpers/azurite.js'

const { values: flags } = parseArgs({ options: { ops: { type: 'string' } }, strict: false })
const OPS = typeof flags.ops === 'string' ? Number(flags.ops) : 300
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8)
const ORIGIN = 'http://localhost:7071'
/** Targets from the issue (server CPU per operation, ms). */
const TARGETS: Record<string, number> = { 'refresh grant': 2.5, 'client_credentials grant': 2.5, 'sign-in': 5, 'sign-in verify only': 5 }

async function startServer(connectionString: string) {
  const outfile = '.bench/bench-server.mjs'
  await build({ entryPoints: ['scripts/bench-server.ts'], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' })
  const nodeOptions = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean)
  const child: ChildProcess = spawn(process.execPath, [...nodeOptions, ...(nodeOptions.includes('--cpu-prof') ? ['--cpu-prof-dir=.bench'] : []), outfile, connectionString, 'warm'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve)
    child.once('exit', (code) => reject(new Error(`bench server exited ${code}`)))
  })
  return { child, ...(JSON.parse(line) as { url: string; tokens: string[]; admin: string }) }
}

async function main() {
  const azurite = await startAzurite()
  const server = await startServer(azurite.connectionString)
  const base = server.url
  const cpuNow = async () => {
    const s = (await (await fetch(`${base}/bench/reads`)).json()) as { cpu: { user: number; system: number } }
    return s.cpu.user + s.cpu.system
  }
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
    const text = await r.text()
    if (r.status >= 300) throw new Error(`${path} ${r.status} ${text}`)
    return text ? JSON.parse(text) : undefined
  }
  const formPost = async (params: Record<string, string>) => {
    const r = await fetch(`${base}/api/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() })
    const body = await r.json()
    if (r.status !== 200) throw new Error(`token ${r.status} ${JSON.stringify(body)}`)
    return body as { access_token: string; refresh_token?: string }
  }

  /**
   * Runs `count` operations, CONCURRENCY at a time. `prepare(i)` does the client-side work first
   * (signatures, options), outside the measured window when `prepareOutside` is set; `op` is what
   * the server's CPU is measured over.
   */
  async function measure<P>(count: number, prepare: (i: number) => Promise<P>, op: (p: P) => Promise<unknown>) {
    const prepared: P[] = []
    for (let i = 0; i < count; i += CONCURRENCY) prepared.push(...(await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count - i) }, (_, j) => prepare(i + j)))))
    const before = await cpuNow()
    const t0 = performance.now()
    let next = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < prepared.length) await op(prepared[next++]!)
      }),
    )
    const wall = performance.now() - t0
    const cpuUs = (await cpuNow()) - before
    return { cpuMs: cpuUs / 1000 / count, perSecond: (count * 1000) / wall }
  }

  // Accounts for sign-in and refresh, made beforehand.
  const people: { auth: SoftAuthenticator; refresh: string }[] = []
  for (let i = 0; i < OPS; i += CONCURRENCY)
    people.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(CONCURRENCY, OPS - i) }, async (_, j) => {
          const auth = new SoftAuthenticator()
          const o = await post('/api/webauthn/registration/options', { username: `cpu${i + j}` })
          const v = await post('/api/webauthn/registration/verify', { credential: await auth.createCredential(o, { origin: ORIGIN }) })
          return { auth, refresh: v.tokens.refresh_token as string }
        }),
      )),
    )
  // A machine client (private_key_jwt) for client_credentials.
  const { privateKey, publicKey } = keyPair('ec', { namedCurve: 'P-256' })
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
  const admin = { authorization: `Bearer ${server.admin}` }
  const client = (await post('/api/manage/clients', { name: 'cpu bench', jwks: { keys: [jwk] }, roles: ['reader'] }, admin)).client_id as string
  const assertion = () =>
    new SignJWT({ jti: randomBytes(12).toString('base64url') })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(client)
      .setSubject(client)
      .setAudience('http://localhost:7071/api') // the bench server's issuer (PORT unset)
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(privateKey)
  const decide = { method: 'GET', path: '/orders/42' }
  const authzHeaders = { authorization: `Bearer ${server.tokens[0]}` }

  // Warm-up: JIT, caches, connection pools (not measured).
  await measure(50, async () => undefined, () => post('/bench/empty', decide))
  await measure(50, async () => undefined, () => post('/api/authz/check', decide, authzHeaders))

  const results: Record<string, { cpuMs: number; perSecond: number }> = {}
  const emptyBefore = await measure(OPS * 4, async () => undefined, () => post('/bench/empty', decide))
  results['sign-up'] = await measure(
    OPS,
    async (i) => ({ auth: new SoftAuthenticator(), username: `cpuup${i}` }),
    async ({ auth, username }) => {
      const o = await post('/api/webauthn/registration/options', { username })
      await post('/api/webauthn/registration/verify', { credential: await auth.createCredential(o, { origin: ORIGIN }) })
    },
  )
  results['sign-in'] = await measure(
    OPS,
    async (i) => people[i]!,
    async ({ auth }) => {
      const o = await post('/api/webauthn/authentication/options', {})
      await post('/api/webauthn/authentication/verify', { credential: await auth.getAssertion(o, { origin: ORIGIN }) })
    },
  )
  // The verify alone: options and the authenticator's signature made beforehand.
  results['sign-in verify only'] = await measure(
    OPS,
    async (i) => {
      const o = await post('/api/webauthn/authentication/options', {})
      return people[i]!.auth.getAssertion(o, { origin: ORIGIN })
    },
    (credential) => post('/api/webauthn/authentication/verify', { credential }),
  )
  results['refresh grant'] = await measure(OPS, async (i) => people[i]!, async (p) => {
    p.refresh = (await formPost({ grant_type: 'refresh_token', refresh_token: p.refresh })).refresh_token!
  })
  results['client_credentials grant'] = await measure(OPS, () => assertion(), (a) =>
    formPost({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a }),
  )
  results['authorizer decision (warm)'] = await measure(OPS * 4, async () => undefined, () => post('/api/authz/check', decide, authzHeaders))
  // The baseline before and after the operations (their mean): the machine's pace drifts.
  const emptyAfter = await measure(OPS * 4, async () => undefined, () => post('/bench/empty', decide))
  results['empty handler (baseline)'] = { cpuMs: (emptyBefore.cpuMs + emptyAfter.cpuMs) / 2, perSecond: (emptyBefore.perSecond + emptyAfter.perSecond) / 2 }
  server.child.kill('SIGINT')
  await new Promise((r) => server.child.once('exit', r))
  await azurite.stop()

  const baseline = results['empty handler (baseline)']!.cpuMs
  const lines = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}; ${OPS} operations each (authorizer and baseline ×4), ${CONCURRENCY} at a time, over HTTP on loopback; server in its own process, Azurite in another.`,
    '',
    '| operation | server CPU / operation | ÷ empty handler | operations/s (this machine, shared) | target |',
    '| --- | --- | --- | --- | --- |',
  ]
  for (const [name, r] of Object.entries(results)) {
    const target = TARGETS[name]
    lines.push(
      `| ${name} | ${r.cpuMs.toFixed(3)} ms | ${(r.cpuMs / baseline).toFixed(1)}× | ${r.perSecond.toFixed(0)} | ${target ? `≤ ${target} ms ${r.cpuMs <= target ? 'met' : 'missed'}` : '—'} |`,
    )
  }
  console.log(lines.join('\n'))
  mkdirSync('.bench', { recursive: true })
  writeFileSync('.bench/cpu.json', JSON.stringify({ ops: OPS, concurrency: CONCURRENCY, results }, null, 2))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
