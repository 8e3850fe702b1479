/**
 * Starts a private Azurite Table service for one test file: bound to 127.0.0.1, a free port, data
 * in memory, telemetry off. Tests isolate from each other with `TABLE_PREFIX` (config.tablePrefix).
 *
 * The child is only ever signalled by its own PID. It also exits by itself when this process dies
 * (even by SIGKILL): it watches its stdin pipe, which closes when the parent goes away.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1'
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

const TABLE_MAIN = fileURLToPath(
  new URL('../../node_modules/azurite/dist/src/table/main.js', import.meta.url),
)

// Runs Azurite's own entry point in a Node that exits when its stdin reaches EOF (parent gone).
const WRAPPER = [
  "process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume()",
  'const main = process.argv[1]',
  'require(main)',
].join(';')

export interface Azurite {
  /** `DefaultEndpointsProtocol=http;…;TableEndpoint=http://127.0.0.1:<port>/devstoreaccount1;` */
  connectionString: string
  port: number
  /** Kills the process (by PID) and waits for it to exit. Idempotent. Data is lost. */
  stop(): Promise<void>
  /** Starts a fresh Azurite (empty: tables must be created again) on the same port. */
  restart(): Promise<void>
  /** SIGSTOP: the port still accepts connections but nothing answers (a hang, not a refusal). */
  pause(): void
  /**
   * SIGCONT after `pause()`, then waits until Azurite answers again. Requests sent meanwhile are
   * then processed. (Right after a long stop Azurite resets the first new connections: its clock
   * jumped. Waiting for answers keeps that artefact of SIGSTOP out of the tests.)
   */
  resume(): Promise<void>
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

export function connectionStringFor(port: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `TableEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`
  )
}

const live = new Set<ChildProcess>()
const workdirs = new Set<string>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of live) if (child.pid) try { process.kill(child.pid, 'SIGKILL') } catch {}
    for (const dir of workdirs) rmSync(dir, { recursive: true, force: true })
  })
}

async function waitUntilAnswering(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`Azurite exited before answering (code ${child.exitCode}):\n${log()}`)
    try {
      // Any HTTP answer (even 403 without a signature) means the table service is up.
      await fetch(`http://127.0.0.1:${port}/${AZURITE_ACCOUNT}/Tables`, {
        signal: AbortSignal.timeout(1000),
      })
      return
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`Azurite did not answer on 127.0.0.1:${port} within 20 s:\n${log()}`)
}

/** Waits until three probes in a row get an HTTP answer. */
async function settle(port: number): Promise<void> {
  const deadline = Date.now() + 10_000
  let ok = 0
  while (ok < 3 && Date.now() < deadline) {
    try {
      await fetch(`http://127.0.0.1:${port}/${AZURITE_ACCOUNT}/Tables`, { signal: AbortSignal.timeout(1000) })
      ok++
    } catch {
      ok = 0
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function spawnAzurite(port: number, location: string): Promise<ChildProcess> {
  const args = [
    '-e',
    WRAPPER,
    TABLE_MAIN,
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(port),
    '--inMemoryPersistence',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
  ]
  // Azurite's workspace defaults to its cwd (--location cannot be combined with in-memory data).
  const child = spawn(process.execPath, args, { cwd: location, stdio: ['pipe', 'pipe', 'pipe'] })
  live.add(child)
  installExitHook()
  child.once('exit', () => live.delete(child))
  let output = ''
  const collect = (b: Buffer) => {
    if (output.length < 10_000) output += b.toString()
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  try {
    await waitUntilAnswering(port, child, () => output)
  } catch (err) {
    await kill(child)
    throw err
  }
  return child
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    process.kill(child.pid, 'SIGKILL') // in-memory data: nothing to flush
  } catch {}
  await exited
}

/**
 * Spawns Azurite's Table service on a free port of 127.0.0.1 and waits until it answers.
 *
 * @example
 * const azurite = await startAzurite()
 * after(() => azurite.stop())
 * const config = loadConfig({ TABLES_CONNECTION_STRING: azurite.connectionString }, { local: true })
 */
export async function startAzurite(): Promise<Azurite> {
  const workdir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'azurite-'))
    workdirs.add(dir)
    return dir
  }
  let location = workdir()
  const port = await freePort()
  let child: ChildProcess | undefined = await spawnAzurite(port, location)
  let paused = false
  const azurite: Azurite = {
    connectionString: connectionStringFor(port),
    port,
    async stop() {
      if (!child) return
      const c = child
      child = undefined
      if (paused && c.pid) process.kill(c.pid, 'SIGCONT')
      paused = false
      await kill(c)
      rmSync(location, { recursive: true, force: true })
      workdirs.delete(location)
    },
    async restart() {
      if (child) await azurite.stop()
      location = workdir()
      child = await spawnAzurite(port, location)
    },
    pause() {
      if (!child?.pid || paused) return
      process.kill(child.pid, 'SIGSTOP')
      paused = true
    },
    async resume() {
      if (!child?.pid || !paused) return
      process.kill(child.pid, 'SIGCONT')
      paused = false
      await settle(port)
    },
  }
  return azurite
}
