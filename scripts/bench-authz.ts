/**
 * Authorizer benchmark over HTTP on loopback (autocannon), beside an empty handler on the same
 * server stack measured in the same run: the ratios are the figures (issue targets: warm
 * throughput ≥ 0.8× the empty handler's, warm p99 ≤ 1.5× its p99). Also counts storage reads
 * per cold decision on the wire.
 *
 *   npm run bench -- --authz [--seconds 8]
 */
import autocannon from 'autocannon'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'
import { startAzurite } from '../test/helpers/azurite.js'

const secIdx = process.argv.indexOf('--seconds')
const SECONDS = secIdx > 0 ? Number(process.argv[secIdx + 1]) : 8
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16)
const PIPELINING = Number(process.env.BENCH_PIPELINING ?? 1)

async function startServer(connectionString: string, mode: 'warm' | 'cold'): Promise<{ child: ChildProcess; url: string; tokens: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench-server.ts', connectionString, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
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

async function load(url: string, body: unknown, headers: Record<string, string> | ((i: number) => Record<string, string>)) {
  let i = 0
  const r = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration: SECONDS,
    body: JSON.stringify(body),
    headers: typeof headers === 'function' ? undefined : { 'content-type': 'application/json', ...headers },
    requests: typeof headers === 'function' ? [{ setupRequest: (req: any) => ({ ...req, headers: { 'content-type': 'application/json', ...headers(i++) } }) }] : undefined,
  } as never)
  const res = r as unknown as { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number }
  return { rps: res.requests.average, p50: res.latency.p50, p99: res.latency.p99, non2xx: res.non2xx, errors: res.errors }
}

async function main() {
  const azurite = await startAzurite()
  const results: Record<string, Awaited<ReturnType<typeof measure>>> = {}
  let coldReads = 0
  let coldDecisions = 0
  try {
    const warm = await startServer(azurite.connectionString, 'warm')
    try {
      const decide = { method: 'GET', path: '/orders/42' }
      await load(`${warm.url}/bench/empty`, decide, {}) // warm-up of the process and the JIT
      await load(`${warm.url}/api/authz/check`, decide, { authorization: `Bearer ${warm.tokens[0]}` })
      results.empty = await measure(warm.url, '/bench/empty', decide, {})
      results.warm = await measure(warm.url, '/api/authz/check', decide, { authorization: `Bearer ${warm.tokens[0]}` })
      results.empty2 = await measure(warm.url, '/bench/empty', decide, {})
    } finally {
      warm.child.kill()
    }
    const cold = await startServer(azurite.connectionString, 'cold')
    try {
      results.cold = await measure(cold.url, '/api/authz/check', { method: 'GET', path: '/orders/42' }, (i) => ({ authorization: `Bearer ${cold.tokens[i % cold.tokens.length]}` }))
      coldReads = results.cold.reads
      coldDecisions = results.cold.decisions
    } finally {
      cold.child.kill()
    }
  } finally {
    await azurite.stop()
  }
  const base = {
    rps: (results.empty!.rps + results.empty2!.rps) / 2,
    p99: Math.max(results.empty!.p99, results.empty2!.p99),
    p50: results.empty!.p50,
    cpu: (results.empty!.cpuPerRequestUs + results.empty2!.cpuPerRequestUs) / 2,
  }
  const rows = [
    '| run | req/s | p50 | p99 | server CPU / request | req/s ÷ empty | p99 ÷ empty | CPU ÷ empty |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...(['empty', 'warm', 'empty2', 'cold'] as const).map((k) => {
      const r = results[k]!
      return `| ${k === 'empty2' ? 'empty (again)' : k} | ${r.rps.toFixed(0)} | ${r.p50} ms | ${r.p99} ms | ${r.cpuPerRequestUs.toFixed(0)} µs | ${(r.rps / base.rps).toFixed(2)}× | ${(r.p99 / base.p99).toFixed(2)}× | ${(r.cpuPerRequestUs / base.cpu).toFixed(2)}× |`
    }),
  ]
  const warmRatio = results.warm!.rps / base.rps
  const warmP99Ratio = results.warm!.p99 / base.p99
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}; autocannon ${CONNECTIONS} connections × ${SECONDS} s per run, loopback, server in its own process.`)
  console.log(rows.join('\n'))
  console.log(`storage reads per cold decision: ${(coldReads / Math.max(1, coldDecisions)).toFixed(2)} (${coldReads} reads / ${coldDecisions} decisions, counted in the server)`)
  console.log(`warm throughput ratio ${warmRatio.toFixed(2)} (target ≥ 0.80), warm p99 ratio ${warmP99Ratio.toFixed(2)} (target ≤ 1.50)`)
  for (const [k, r] of Object.entries(results)) if (r.non2xx || r.errors) console.log(`warning: ${k}: ${r.non2xx} non-2xx, ${r.errors} errors`)
  mkdirSync('.bench', { recursive: true })
  writeFileSync('.bench/authz.json', JSON.stringify({ results, warmRatio, warmP99Ratio, coldReadsPerDecision: coldReads / Math.max(1, coldDecisions) }, null, 2))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
