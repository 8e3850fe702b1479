/**
 * Authorizer benchmark over HTTP on loopback (autocannon), beside an empty handler on the same
 * server stack measured in the same run: the ratios are the figures (issue targets: warm
 * throughput ≥ 0.8× the empty handler's, warm p99 ≤ 1.5× its p99). Also counts storage reads
 * per cold decision on the wire, and measures DPoP decisions (a DPoP-bound token with a fresh
 * ES256 proof per call, signed before the timed runs; target ≥ 0.6× the empty handler).
 *
 *   npm run bench -- --authz [--seconds 8]
 */
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { build } from 'esbuild'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'
import { createHash, createPrivateKey, randomBytes, sign, type JsonWebKey } from 'node:crypto'
import { startAzurite } from '../test/helpers/azurite.js'

const { values: flags } = parseArgs({ options: { seconds: { type: 'string' } }, strict: false })
const SECONDS = typeof flags.seconds === 'string' ? Number(flags.seconds) : 4
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16)
const PIPELINING = Number(process.env.BENCH_PIPELINING ?? 1)

/**
 * The server runs from an esbuild bundle, as in production (dist/local/server.mjs is built the
 * same way), not through tsx, whose development transform adds work to every request.
 */
async function buildServer(): Promise<string> {
  const outfile = '.bench/bench-server.mjs'
  await build({ entryPoints: ['scripts/bench-server.ts'], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' })
  return outfile
}

let serverBundle: Promise<string> | undefined

async function startServer(connectionString: string, mode: 'warm' | 'cold'): Promise<{ child: ChildProcess; url: string; tokens: string[]; dpop?: { token: string; jwk: JsonWebKey } }> {
  const bundle = await (serverBundle ??= buildServer())
  // BENCH_SERVER_NODE_OPTIONS=--cpu-prof profiles the server (.bench/*.cpuprofile).
  const nodeOptions = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean)
  const profile = nodeOptions.includes('--cpu-prof') ? ['--cpu-prof-dir=.bench'] : []
  const child = spawn(process.execPath, [...nodeOptions, ...profile, bundle, connectionString, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve)
    child.once('exit', (code) => reject(new Error(`bench server exited ${code}`)))
  })
  return { child, ...JSON.parse(line) }
}

type Stats = { reads: number; decisions: number; cpu: { user: number; system: number } }
const stats = async (base: string) => (await (await fetch(`${base}/bench/reads`)).json()) as Stats

/** One autocannon run, with the server's CPU time per request measured around it. */
async function measure(base: string, path: string, body: unknown, headers: Parameters<typeof load>[2]) {
  const before = await stats(base)
  const r = await load(`${base}${path}`, body, headers)
  const after = await stats(base)
  const cpuUs = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system
  const requests = r.rps * SECONDS
  return { ...r, cpuPerRequestUs: cpuUs / Math.max(1, requests), reads: after.reads - before.reads, decisions: after.decisions - before.decisions }
}

async function load(url: string, body: unknown | ((i: number) => unknown), headers: Record<string, string> | ((i: number) => Record<string, string>)) {
  let i = 0
  const perRequest = typeof headers === 'function' || typeof body === 'function'
  const headersOf = (n: number) => ({ 'content-type': 'application/json', ...(typeof headers === 'function' ? headers(n) : headers) })
  const bodyOf = (n: number) => JSON.stringify(typeof body === 'function' ? (body as (i: number) => unknown)(n) : body)
  const r = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration: SECONDS,
    body: perRequest ? undefined : bodyOf(0),
    headers: perRequest ? undefined : headersOf(0),
    requests: perRequest ? [{ setupRequest: (req: any) => { const n = i++; return { ...req, headers: headersOf(n), body: bodyOf(n) } } }] : undefined,
  } as never)
  const res = r as unknown as { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number }
  return { rps: res.requests.average, p50: res.latency.p50, p99: res.latency.p99, non2xx: res.non2xx, errors: res.errors }
}

/** Alternating rounds (empty, warm, empty, …): each warm run is compared with the empty runs on
 * either side of it, so a machine whose speed drifts (a shared VM) does not bias the ratio. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)

/**
 * DPoP proofs for the bound token, signed ahead of the timed runs (the client's cost, not the
 * authorizer's), each with its own jti: a proof is usable once.
 */
function dpopProofs(jwk: JsonWebKey, token: string, url: string, count: number): string[] {
  const key = createPrivateKey({ key: jwk, format: 'jwk' })
  const { kty, crv, x, y } = jwk
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const header = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })
  const ath = createHash('sha256').update(token).digest('base64url')
  const iat = Math.floor(Date.now() / 1000)
  return Array.from({ length: count }, () => {
    const input = `${header}.${b64({ jti: randomBytes(12).toString('base64url'), htm: 'GET', htu: url, iat, ath })}`
    return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
  })
}
/** Proofs signed per DPoP run: more than one run can use at this machine's speed. */
const PROOFS_PER_RUN = Number(process.env.BENCH_DPOP_PROOFS ?? 40_000)

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

async function main() {
  const azurite = await startAzurite()
  const empties: Awaited<ReturnType<typeof measure>>[] = []
  const warms: Awaited<ReturnType<typeof measure>>[] = []
  const dpops: Awaited<ReturnType<typeof measure>>[] = []
  /** Control: the bearer decision sent the way the DPoP runs are (a body built per request). */
  const controls: Awaited<ReturnType<typeof measure>>[] = []
  /** The empty runs just before and after each DPoP run. */
  const dpopEmpties: [Awaited<ReturnType<typeof measure>>, Awaited<ReturnType<typeof measure>>][] = []
  let cold: Awaited<ReturnType<typeof measure>> | undefined
  try {
    const server = await startServer(azurite.connectionString, 'warm')
    try {
      const decide = { method: 'GET', path: '/orders/42' }
      const auth = { authorization: `Bearer ${server.tokens[0]}` }
      await load(`${server.url}/bench/empty`, decide, {}) // warm-up of the process and the JIT
      await load(`${server.url}/api/authz/check`, decide, auth)
      empties.push(await measure(server.url, '/bench/empty', decide, {}))
      for (let i = 0; i < ROUNDS; i++) {
        warms.push(await measure(server.url, '/api/authz/check', decide, auth))
        empties.push(await measure(server.url, '/bench/empty', decide, {}))
      }
      // DPoP: the same decision with a proof per call (never served without one), between empty runs.
      const bound = server.dpop!
      const url = 'https://api.example.com/orders/42'
      const dpopAuth = { authorization: `DPoP ${bound.token}` }
      const warmUp = dpopProofs(bound.jwk, bound.token, url, 2000)
      await load(`${server.url}/api/authz/check`, (n: number) => ({ ...decide, url, dpop: warmUp[n % warmUp.length] }), dpopAuth)
      let before = await measure(server.url, '/bench/empty', decide, {})
      for (let i = 0; i < ROUNDS; i++) {
        const proofs = dpopProofs(bound.jwk, bound.token, url, PROOFS_PER_RUN)
        const d = await measure(server.url, '/api/authz/check', (n: number) => ({ ...decide, url, dpop: proofs[n] ?? proofs[0] }), dpopAuth)
        if (d.rps * SECONDS > PROOFS_PER_RUN) console.log(`warning: a DPoP run used more than ${PROOFS_PER_RUN} proofs (BENCH_DPOP_PROOFS): replays were refused`)
        const after = await measure(server.url, '/bench/empty', decide, {})
        controls.push(await measure(server.url, '/api/authz/check', () => decide, auth))
        dpops.push(d)
        dpopEmpties.push([before, after])
        before = after
      }
      // Every DPoP decision must have been an allow (a refusal is also HTTP 200): check one more.
      const check = await (await fetch(`${server.url}/api/authz/check`, { method: 'POST', headers: { 'content-type': 'application/json', ...dpopAuth }, body: JSON.stringify({ ...decide, url, dpop: dpopProofs(bound.jwk, bound.token, url, 1)[0] }) })).json()
      if ((check as { allow?: boolean }).allow !== true) console.log(`warning: the DPoP decision is not an allow: ${JSON.stringify(check)}`)
    } finally {
      server.child.kill('SIGINT')
    }
    const c = await startServer(azurite.connectionString, 'cold')
    try {
      cold = await measure(c.url, '/api/authz/check', { method: 'GET', path: '/orders/42' }, (i) => ({ authorization: `Bearer ${c.tokens[i % c.tokens.length]}` }))
    } finally {
      c.child.kill('SIGINT')
    }
  } finally {
    await azurite.stop()
  }
  // Per round: warm against the mean of the empty runs just before and just after it.
  const rounds = warms.map((w, i) => {
    const e = [empties[i]!, empties[i + 1]!] as const
    const rps = (e[0].rps + e[1].rps) / 2
    const p99 = Math.max(e[0].p99, e[1].p99)
    const cpu = (e[0].cpuPerRequestUs + e[1].cpuPerRequestUs) / 2
    return { w, rps, p99, cpu, rpsRatio: w.rps / rps, p99Ratio: w.p99 / p99, cpuRatio: w.cpuPerRequestUs / cpu }
  })
  const rows = [
    '| round | empty req/s (around) | warm req/s | empty p99 | warm p99 | server CPU / request (empty → warm) | req/s ÷ empty | p99 ÷ empty | CPU ÷ empty |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rounds.map(
      (r, i) =>
        `| ${i + 1} | ${r.rps.toFixed(0)} | ${r.w.rps.toFixed(0)} | ${r.p99} ms | ${r.w.p99} ms | ${r.cpu.toFixed(0)} → ${r.w.cpuPerRequestUs.toFixed(0)} µs | ${r.rpsRatio.toFixed(2)}× | ${r.p99Ratio.toFixed(2)}× | ${r.cpuRatio.toFixed(2)}× |`,
    ),
  ]
  const warmRatio = median(rounds.map((r) => r.rpsRatio))
  const warmP99Ratio = median(rounds.map((r) => r.p99Ratio))
  const cpuRatio = median(rounds.map((r) => r.cpuRatio))
  const coldReadsPerDecision = cold!.reads / Math.max(1, cold!.decisions)
  const dpopRounds = dpops.map((d, i) => {
    const [a, b] = dpopEmpties[i] as [Awaited<ReturnType<typeof measure>>, Awaited<ReturnType<typeof measure>>]
    const c = controls[i]!
    return { d, c, rps: (a.rps + b.rps) / 2, rpsRatio: d.rps / ((a.rps + b.rps) / 2), controlRatio: d.rps / c.rps, cpu: (a.cpuPerRequestUs + b.cpuPerRequestUs) / 2 }
  })
  const dpopRatio = median(dpopRounds.map((r) => r.rpsRatio))
  const dpopControlRatio = median(dpopRounds.map((r) => r.controlRatio))
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}; autocannon ${CONNECTIONS} connections × ${SECONDS} s per run, ${ROUNDS} rounds, loopback, server in its own process.`)
  console.log(rows.join('\n'))
  console.log(`| cold | — | ${cold!.rps.toFixed(0)} | — | ${cold!.p99} ms | ${cold!.cpuPerRequestUs.toFixed(0)} µs | — | — | — |`)
  console.log(`storage reads per cold decision: ${coldReadsPerDecision.toFixed(2)} (${cold!.reads} reads / ${cold!.decisions} decisions, counted in the server)`)
  console.log(`median over rounds: warm throughput ratio ${warmRatio.toFixed(2)} (target ≥ 0.80), warm p99 ratio ${warmP99Ratio.toFixed(2)} (target ≤ 1.50), server CPU per request ratio ${cpuRatio.toFixed(2)}`)
  console.log('| DPoP round | empty req/s (around) | DPoP req/s | bearer req/s, sent like DPoP (control) | DPoP p99 | server CPU / request (empty → control → DPoP) | DPoP ÷ empty | DPoP ÷ control |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const [i, r] of dpopRounds.entries())
    console.log(`| ${i + 1} | ${r.rps.toFixed(0)} | ${r.d.rps.toFixed(0)} | ${r.c.rps.toFixed(0)} | ${r.d.p99} ms | ${r.cpu.toFixed(0)} → ${r.c.cpuPerRequestUs.toFixed(0)} → ${r.d.cpuPerRequestUs.toFixed(0)} µs | ${r.rpsRatio.toFixed(2)}× | ${r.controlRatio.toFixed(2)}× |`)
  console.log(`median over rounds: DPoP throughput ratio ${dpopRatio.toFixed(2)} (target ≥ 0.60; one ES256 verification per call), ${dpopControlRatio.toFixed(2)}× the bearer decision sent the same way`)
  for (const r of [...empties, ...warms, ...dpops, cold!]) if (r.non2xx || r.errors) console.log(`warning: ${r.non2xx} non-2xx, ${r.errors} errors in a run`)
  mkdirSync('.bench', { recursive: true })
  writeFileSync('.bench/authz.json', JSON.stringify({ empties, warms, cold, dpops, controls, warmRatio, warmP99Ratio, cpuRatio, coldReadsPerDecision, dpopRatio, dpopControlRatio }, null, 2))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
