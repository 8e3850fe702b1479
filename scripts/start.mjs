#!/usr/bin/env node
// `npm start`: everything a fresh clone needs to run the service locally.
//   1. install dependencies when node_modules is missing or older than package-lock.json
//   2. build (scripts/build.mjs -> dist/functions/index.cjs, dist/local/server.mjs)
//   3. start Azurite's Table service on 127.0.0.1 (reusing an Azurite that already answers)
//   4. start the local server (dist/local/server.mjs) pointed at it
//   5. print the page URL once /api/health answers
//   6. supervise: if Azurite exits, start it again on the same port and data directory (with
//      backoff, a line each time) while the server keeps running and answers 503
//      storage_unavailable; if the server crashes, start it again too. A settings mistake the
//      server reports (exit code 78) stops everything instead: restarting cannot fix it.
//   7. Ctrl-C / SIGTERM stops both children by PID.
//
// Environment (all optional):
//   PORT                     local server port (default 7071), as in CONTRACT.md
//   AZURITE_TABLE_PORT       Azurite Table port (default 10002; a free one if 10002 is taken)
//   AZURITE_LOCATION         Azurite data directory, also holding the local key-encryption key
//                            (default .azurite)
//   START_SKIP_INSTALL=1     skip step 1;  START_SKIP_BUILD=1  skip step 2
// Values in local.settings.json ("Values") are passed to the server; the environment wins.
import { spawn } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs'
import { get as httpGet } from 'node:http'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'

import { prepare, root } from './prepare.mjs'

const log = (msg) => console.log(`[start] ${msg}`)
const fail = (msg) => {
  console.error(`[start] ${msg}`)
  process.exit(1)
}

// Azurite's documented, public development account (not a secret).
const AZURITE_ACCOUNT = 'devstoreaccount1'
const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
const azuriteConnectionString = (port) =>
  `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
  `TableEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`

// 1–2. Dependencies and build (scripts/prepare.mjs, shared with `npm test`) -----------------
{
  const problem = prepare({ log })
  if (problem) fail(problem)
}
const serverBundle = join(root, 'dist', 'local', 'server.mjs')

// Settings: local.settings.json "Values", overridden by the environment ---------------------
function localSettings() {
  const file = join(root, 'local.settings.json')
  if (!existsSync(file)) return {}
  let values
  try {
    values = JSON.parse(readFileSync(file, 'utf8')).Values ?? {}
  } catch (err) {
    fail(`local.settings.json is not valid JSON: ${err.message}`)
  }
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  )
}
const settings = { ...localSettings(), ...process.env }
const port = Number(settings.PORT || 7071)
const location = resolve(root, settings.AZURITE_LOCATION || '.azurite')

// 3. Azurite --------------------------------------------------------------------------------
/**
 * What answers HTTP on 127.0.0.1:port: 'azurite', 'other', or 'none' (nothing listening).
 * One request per connection (no keep-alive), so no idle socket delays Azurite's shutdown.
 */
function probe(port) {
  return new Promise((resolve) => {
    const req = httpGet(
      { host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 },
      (res) => {
        res.resume()
        resolve(/^Azurite-Table/i.test(res.headers.server ?? '') ? 'azurite' : 'other')
      },
    )
    req.once('timeout', () => req.destroy(new Error('timeout')))
    req.once('error', (err) => resolve(err.code === 'ECONNREFUSED' ? 'none' : 'other'))
  })
}

function portIsFree(port) {
  return new Promise((ok) => {
    const s = createServer()
    s.once('error', () => ok(false))
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => ok(true)))
  })
}

function freePort() {
  return new Promise((ok, ko) => {
    const s = createServer()
    s.once('error', ko)
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = s.address()
      s.close(() => ok(port))
    })
  })
}

const children = new Map() // name -> { child, signal }: the signal that stops it cleanly
let stopping = false

/** Restart delays (ms) after an unexpected exit, by how many restarts came right before it. */
const BACKOFF = [250, 500, 1000, 2000, 4000, 8000]
/** A child that ran this long before it exited starts the backoff again from the beginning. */
const STABLE_MS = 30_000
/** The local server's exit code for a settings mistake (local/server.ts EXIT_SETTINGS). */
const EXIT_SETTINGS = 78

/**
 * Keeps a child running: `start()` spawns it (and may wait until it answers); when it exits by
 * itself, it is started again after a backoff. `fatal(code)` says which exits end everything.
 */
function supervise(name, start, { fatal = () => false } = {}) {
  let restarts = 0
  const run = async () => {
    if (stopping) return
    const startedAt = Date.now()
    let child
    try {
      child = await start()
    } catch (err) {
      return void shutdown(1, `${name} could not be started: ${err.message}`)
    }
    if (!child || stopping) return
    const exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve([child.exitCode, child.signalCode])
        : new Promise((resolve) => child.once('exit', (code, signal) => resolve([code, signal])))
    void exited.then(([code, signal]) => {
      // A terminal's Ctrl-C reaches the children too; give our own SIGINT handler a moment first.
      setTimeout(() => {
        if (stopping) return
        if (fatal(code)) return void shutdown(1, `${name} exited (code ${code}); stopping`)
        if (Date.now() - startedAt > STABLE_MS) restarts = 0
        const delay = BACKOFF[Math.min(restarts++, BACKOFF.length - 1)]
        console.error(`[start] ${name} exited (${signal ?? `code ${code}`}); starting it again in ${delay} ms (restart ${restarts})`)
        setTimeout(run, delay)
      }, 100)
    })
  }
  return run()
}

/** Spawns Azurite on `tablePort` and waits until it answers; the child (undefined if stopping). */
async function spawnAzurite(tablePort, { firstStart }) {
  mkdirSync(location, { recursive: true })
  const logFile = join(location, 'azurite.log')
  if (firstStart) writeFileSync(logFile, '') // this run's log only
  const out = openSync(logFile, 'a')
  const pkg = createRequire(import.meta.url).resolve('azurite/package.json', { paths: [root] })
  const bin = join(dirname(pkg), 'dist', 'src', 'table', 'main.js') // = node_modules/.bin/azurite-table
  // Flags: ../shared/AZURE-NOTES.md "Table Storage and Azurite" (telemetry off, loopback only).
  const args = [
    ...exitWithParent(bin, 'SIGINT'),
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(tablePort),
    '--location',
    location,
    '--debug',
    logFile,
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
  ]
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['pipe', out, out] })
  closeSync(out)
  track('Azurite', child, 'SIGINT') // Azurite saves its data and closes on SIGINT only
  const deadline = Date.now() + 30_000
  while ((await probe(tablePort)) !== 'azurite') {
    if (child.exitCode !== null || child.signalCode !== null || stopping) return child
    if (Date.now() > deadline) {
      if (firstStart) {
        await shutdown(1, `Azurite did not answer on 127.0.0.1:${tablePort} within 30 s (see ${logFile})`)
        return undefined
      }
      // A restart that does not come up: stop it and let the supervisor try again (the server
      // keeps answering 503 meanwhile; a storage blip must not take the service down).
      console.error(`[start] Azurite did not answer on 127.0.0.1:${tablePort} within 30 s; trying again (see ${logFile})`)
      child.kill('SIGKILL')
      return child
    }
    await sleep(200)
  }
  log(`Azurite Table service on 127.0.0.1:${tablePort} (pid ${child.pid}; data and log in ${location})`)
  return child
}

async function startAzurite() {
  let tablePort = Number(settings.AZURITE_TABLE_PORT || 10002)
  const found = await probe(tablePort)
  if (found === 'azurite') {
    log(`reusing the Azurite Table service already on 127.0.0.1:${tablePort} (not supervised: it is not ours)`)
    return tablePort
  }
  if (found === 'other' || !(await portIsFree(tablePort))) {
    const taken = tablePort
    tablePort = await freePort()
    log(`port ${taken} is taken by something that is not Azurite; using ${tablePort} instead`)
  }
  let firstStart = true
  await supervise('Azurite', async () => {
    const child = await spawnAzurite(tablePort, { firstStart })
    firstStart = false
    return child
  })
  return stopping ? undefined : tablePort
}

// 4. Local server ---------------------------------------------------------------------------
function serverEnv(tablePort) {
  const env = { ...settings, AZURITE_LOCATION: location }
  const userStorage =
    env.TABLES_CONNECTION_STRING?.trim() ||
    (env.AzureWebJobsStorage?.trim() &&
      env.AzureWebJobsStorage.trim() !== 'UseDevelopmentStorage=true')
  if (!userStorage) env.TABLES_CONNECTION_STRING = azuriteConnectionString(tablePort)
  return env
}

/** Spawns the local server; resolves with the child once /api/health answers (or it gave up). */
async function spawnServer(tablePort, { first }) {
  const child = spawn(process.execPath, exitWithParent(serverBundle, 'SIGTERM'), {
    cwd: root,
    env: serverEnv(tablePort),
    stdio: ['pipe', 'inherit', 'inherit'],
  })
  track('local server', child, 'SIGTERM')
  log(`local server starting on port ${port} (pid ${child.pid})`)
  const health = `http://localhost:${port}/api/health`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || stopping) return child
    try {
      const res = await fetch(health, { signal: AbortSignal.timeout(2000) })
      await res.body?.cancel()
      if (res.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      log(`${health} did not answer 200 within 60 s; still running, Ctrl-C to stop`)
      return child
    }
    await sleep(250)
  }
  // 5.
  if (first) log(`ready: open http://localhost:${port}/  (Ctrl-C stops the server and Azurite)`)
  else log(`local server is back: http://localhost:${port}/`)
  return child
}

async function startServer(tablePort) {
  let first = true
  await supervise(
    'local server',
    async () => {
      const child = await spawnServer(tablePort, { first })
      first = false
      return child
    },
    { fatal: (code) => code === EXIT_SETTINGS },
  )
}

// 6. Lifecycle ------------------------------------------------------------------------------
/**
 * `node` arguments that run `entry` (as `node entry`, same process.argv) and send it `signal`
 * when its stdin pipe closes, i.e. when this process is gone, even after a SIGKILL: no orphan
 * keeps the ports. The pipe is unref'd so it never keeps the child alive by itself.
 */
function exitWithParent(entry, signal) {
  const guard =
    `process.stdin.on('end', () => process.kill(process.pid, '${signal}')).on('error', () => {}).resume().unref?.();` +
    `import(require('node:url').pathToFileURL(process.argv[1]).href)`
  return ['-e', guard, entry]
}

/** Remembers a running child (to stop it by PID) until it exits. */
function track(name, child, signal) {
  const entry = { child, signal }
  children.set(name, entry)
  child.once('error', (err) => {
    if (children.get(name) === entry) children.delete(name)
    void shutdown(1, `${name} could not be started: ${err.message}`)
  })
  child.once('exit', () => {
    if (children.get(name) === entry) children.delete(name)
  })
}

/** Stops every child by its PID (its stop signal, then SIGKILL after 5 s) and exits with `code`. */
async function shutdown(code, why) {
  if (stopping) return
  stopping = true
  if (why) (code === 0 ? log : (m) => console.error(`[start] ${m}`))(why)
  await Promise.all(
    [...children.values()].map(
      ({ child, signal }) =>
        new Promise((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done()
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          child.once('exit', () => {
            clearTimeout(timer)
            done()
          })
          child.kill(signal)
        }),
    ),
  )
  process.exit(code)
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

process.on('SIGINT', () => void shutdown(0, 'stopping (SIGINT)'))
process.on('SIGTERM', () => void shutdown(0, 'stopping (SIGTERM)'))

const tablePort = await startAzurite()
if (tablePort !== undefined && !stopping) await startServer(tablePort)
