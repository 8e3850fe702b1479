/**
 * Cold start of the Functions bundle (issue #10 "Cold start"): its size, module load over bare
 * node, and the first request answered after that, each from a fresh process as the Flex
 * Consumption worker starts one. Baseline in the same run: a bare `node` process (the time its
 * script starts, `performance.now()`), alternated with the measured ones so both see the same
 * machine. The first request is the discovery document through the registered handler (timed
 * from the handler's call: the request object before it is the host's, reported apart), which
 * constructs the service (settings, store, app) and answers, with Azure's settings; storage is a
 * local Azurite.
 *
 *   npm run bench -- --coldstart [--runs 15]
 */
import { parseArgs } from 'node:util'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startAzurite } from '../test/helpers/azurite.js'
// @ts-expect-error plain ESM without types
import { build } from './build.mjs'

const { values: flags } = parseArgs({ options: { runs: { type: 'string' } }, strict: false })
const RUNS = typeof flags.runs === 'string' ? Number(flags.runs) : 15
/** Targets from the issue. */
const TARGETS = { bundleKiB: 1024, loadOverBareMs: 60, firstRequestMs: 50 }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const outDir = mkdtempSync(join(tmpdir(), 'coldstart-'))
await build({ outDir, quiet: true })
const bundle = join(outDir, 'functions', 'index.cjs')
const bundleKiB = statSync(bundle).size / 1024
const azurite = await startAzurite()
/**
 * As in Azure: no Development environment, an instance id, the settings Azure requires. Storage
 * is Azurite through a connection string (in Azure: TABLES_ENDPOINT with managed identity, whose
 * first token request is not ours to measure).
 */
const env = {
  ...process.env,
  AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
  WEBSITE_INSTANCE_ID: 'coldstart-bench',
  RP_ID: 'id.example.com',
  ALLOWED_ORIGINS: 'https://id.example.com',
  ISSUER: 'https://id.example.com/api',
  TABLES_CONNECTION_STRING: azurite.connectionString,
  TABLE_PREFIX: `cold${randomBytes(3).toString('hex')}`,
  KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
}
const bare: number[] = []
const load: number[] = []
const first: number[] = []
const host: number[] = []
try {
  for (let i = 0; i < RUNS + 1; i++) {
    const b = spawnSync(process.execPath, ['-e', 'console.log(performance.now())'], { encoding: 'utf8' })
    const c = spawnSync(process.execPath, ['scripts/coldstart-child.cjs', bundle, 'wellknown', 'http://localhost:7071/api/.well-known/openid-configuration'], { encoding: 'utf8', env })
    if (c.status !== 0) throw new Error(`cold start failed: ${c.stderr}`)
    const t = JSON.parse(c.stdout.trim().split('\n').at(-1)!) as { started: number; loaded: number; invoked: number; answered: number; status: number }
    if (t.status !== 200) throw new Error(`the first request answered ${t.status}`)
    if (i === 0) continue // the first run creates the tables (the template does in Azure): not measured
    bare.push(Number(b.stdout.trim()))
    load.push(t.loaded)
    host.push(t.invoked - t.loaded)
    first.push(t.answered - t.invoked)
  }
} finally {
  await azurite.stop()
}
const result = {
  bundleKiB: Math.round(bundleKiB),
  bareMs: median(bare),
  loadMs: median(load),
  loadOverBareMs: median(load) - median(bare),
  loadRatio: median(load) / median(bare),
  hostRequestMs: median(host),
  firstRequestMs: median(first),
}
const ok = (v: number, t: number) => (v <= t ? 'meets' : 'misses')
console.log(`runs: ${RUNS}, medians`)
console.log(`bundle dist/functions/index.cjs: ${result.bundleKiB} KiB (target ≤ ${TARGETS.bundleKiB} KiB: ${ok(result.bundleKiB, TARGETS.bundleKiB)})`)
console.log(`bare node start: ${result.bareMs.toFixed(1)} ms`)
console.log(`bundle loaded: ${result.loadMs.toFixed(1)} ms = bare + ${result.loadOverBareMs.toFixed(1)} ms, ${result.loadRatio.toFixed(2)}× (target ≤ +${TARGETS.loadOverBareMs} ms: ${ok(result.loadOverBareMs, TARGETS.loadOverBareMs)})`)
console.log(`the host's request object (loads undici, Node's fetch): ${result.hostRequestMs.toFixed(1)} ms (not ours; before our handler runs)`)
console.log(`first request (service construction + answer): ${result.firstRequestMs.toFixed(1)} ms (target ≤ ${TARGETS.firstRequestMs} ms: ${ok(result.firstRequestMs, TARGETS.firstRequestMs)})`)
mkdirSync('.bench', { recursive: true })
writeFileSync('.bench/coldstart.json', JSON.stringify(result, null, 2))
