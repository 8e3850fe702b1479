import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer as createHttpServer, get as httpGet, type Server } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { loadOrCreateLocalKek } from '../../runtime/node/kek.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort } from '../helpers/azurite.js'
import { call, signIn, signUp } from '../helpers/client.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** true when nothing listens on host:port (we can bind it ourselves). */
function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', (err: NodeJS.ErrnoException) =>
      // No IPv6 loopback on this machine: nothing can listen there either.
      resolve(err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT'),
    )
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)))
  })
}

/** The `Server` header on 127.0.0.1:port, on a connection that is not kept alive. */
function serverHeader(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume()
      resolve(String(res.headers.server ?? ''))
    }).once('error', reject)
  })
}

/** Runs `node scripts/start.mjs` and records its output. */
function runStart(env: Record<string, string>) {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env }
  // The defaults under test: no storage or key from the outer environment.
  for (const name of [
    'TABLES_CONNECTION_STRING',
    'AzureWebJobsStorage',
    'TABLES_ENDPOINT',
    'KEY_ENCRYPTION_KEY',
  ])
    delete childEnv[name]
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: root,
    env: { ...childEnv, START_SKIP_INSTALL: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, exited, output: () => output }
}

/** Runs `npm run smoke` (scripts/smoke.ts) with `args`; its exit code and output. */
function runSmoke(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/smoke.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })))
}

/** PIDs that start.mjs reports for its children, to clean up after a failed test. */
function childPids(output: string): number[] {
  return [...output.matchAll(/\(pid (\d+)/g)].map((m) => Number(m[1]))
}

function killQuietly(pid: number | undefined) {
  if (!pid) return
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

async function waitForHealth(url: string, run: ReturnType<typeof runStart>, ms: number) {
  const deadline = Date.now() + ms
  for (;;) {
    if (run.child.exitCode !== null) assert.fail(`npm start exited early:\n${run.output()}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
      if (res.status === 200) return res
      await res.body?.cancel()
    } catch {
      // not up yet
    }
    if (Date.now() > deadline)
      assert.fail(`${url} did not answer 200 within ${ms} ms:\n${run.output()}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

describe('npm start (scripts/start.mjs)', { timeout: 180_000 }, () => {
  const dirs: string[] = []
  const runs: ReturnType<typeof runStart>[] = []
  let squatter: Server

  before(async () => {
    // Something that is not Azurite, holding the Azurite port start.mjs is told to use.
    squatter = createHttpServer((_req, res) => res.end('not azurite'))
    await new Promise<void>((r) => squatter.listen({ host: '127.0.0.1', port: 0 }, r))
  })

  after(async () => {
    for (const run of runs) {
      killQuietly(run.child.pid)
      for (const pid of childPids(run.output())) killQuietly(pid)
    }
    await new Promise((r) => squatter.close(r))
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  /** `npm start` on free ports with a data directory of its own (built by the first test, or built now). */
  async function startOnFreePorts(env: Record<string, string>) {
    const port = await freePort()
    const tablePort = await freePort()
    const location = mkdtempSync(join(tmpdir(), 'start-test-'))
    dirs.push(location)
    const run = runStart({
      PORT: String(port),
      AZURITE_TABLE_PORT: String(tablePort),
      AZURITE_LOCATION: location,
      ...(existsSync(join(root, 'dist', 'local', 'server.mjs')) ? { START_SKIP_BUILD: '1' } : {}),
      ...env,
    })
    runs.push(run)
    return { port, tablePort, location, run }
  }

  it('builds, starts Azurite and the server, answers /api/health, and stops both on SIGINT', async () => {
    const port = await freePort()
    const taken = (squatter.address() as AddressInfo).port
    const location = mkdtempSync(join(tmpdir(), 'start-test-'))
    dirs.push(location)
    const run = runStart({
      PORT: String(port),
      AZURITE_TABLE_PORT: String(taken),
      AZURITE_LOCATION: location,
    })
    runs.push(run)

    const res = await waitForHealth(`http://localhost:${port}/api/health`, run, 60_000)
    assert.deepEqual(await res.json(), { status: 'ok' })
    // Loopback only, IPv4 and (where the machine has it) IPv6: both spellings of localhost work.
    const v4 = await fetch(`http://127.0.0.1:${port}/api/health`)
    assert.equal(v4.status, 200)
    await v4.body?.cancel()

    // The squatter's port was not reused: Azurite moved to a free one, and it answers there.
    const azurite = /Azurite Table service on 127\.0\.0\.1:(\d+)/.exec(run.output())
    assert.ok(azurite, `no Azurite line in:\n${run.output()}`)
    const tablePort = Number(azurite[1])
    assert.notEqual(tablePort, taken)
    assert.match(await serverHeader(tablePort), /^Azurite-Table/)

    // Local key-encryption key created once beside the data, owner-only.
    const kek = join(location, 'key-encryption-key')
    assert.equal(statSync(kek).mode & 0o777, 0o600)
    assert.equal(Buffer.from(readFileSync(kek, 'utf8').trim(), 'base64').length, 32)
    // Azurite's own output goes to its log, not the console.
    assert.match(readFileSync(join(location, 'azurite.log'), 'utf8'), /Azurite Table service/)
    assert.doesNotMatch(run.output(), /successfully started on/)
    await within(
      10_000,
      'ready line',
      (async () => {
        while (!run.output().includes(`ready: open http://localhost:${port}/`))
          await new Promise((r) => setTimeout(r, 100))
      })(),
    )

    // `npm run smoke` walks the whole chain against it, through the dev gateway (PORT + 1).
    const smoke = await runSmoke(['--base', `http://localhost:${port}`, '--gateway', `http://localhost:${port + 1}`])
    assert.equal(smoke.code, 0, smoke.output)
    for (const step of ['health', 'discovery', 'JWKS', 'sign up', 'token verified independently', 'sign in', 'refresh', 'authorizer', 'through the gateway', 'sign out'])
      assert.match(smoke.output, new RegExp(`^ok   ${step} \\(`, 'm'), step)
    assert.match(smoke.output, /smoke test passed/)

    run.child.kill('SIGINT')
    const { code } = await within(20_000, 'npm start exit after SIGINT', run.exited)
    assert.equal(code, 0, run.output())
    assert.ok(await portIsFree(port, '127.0.0.1'), `port ${port} (127.0.0.1) still in use`)
    assert.ok(await portIsFree(port, '::1'), `port ${port} (::1) still in use`)
    assert.ok(await portIsFree(tablePort, '127.0.0.1'), `Azurite port ${tablePort} still in use`)
  })

  it('supervises: Azurite killed → 503 meanwhile, restarted on its port, served again within 2 s of it answering; a crashed server is restarted', async () => {
    const { port, tablePort, run } = await startOnFreePorts({ GATEWAY_PORT: String(await freePort()) })
    const base = `http://localhost:${port}`
    await waitForHealth(`${base}/api/health`, run, 60_000)
    // A record written before the crash.
    const auth = new SoftAuthenticator()
    const username = `super${process.pid}`
    await signUp(base, auth, username, { origin: base })
    // Azurite writes its data to disk every 5 s (LokiJS autosave): what a hard kill can lose is
    // the emulator's, not ours. Let it save before the crash.
    await new Promise((r) => setTimeout(r, 5500))

    const pidOf = (re: RegExp) => [...run.output().matchAll(re)].map((m) => Number(m[1]))
    const azuritePid = pidOf(/Azurite Table service on 127\.0\.0\.1:\d+ \(pid (\d+)/g)[0]!
    const serverPid = pidOf(/local server starting on port \d+ \(pid (\d+)/g)[0]!
    process.kill(azuritePid, 'SIGKILL')
    // Meanwhile: the server keeps running and answers 503 storage_unavailable.
    let saw503 = false
    const azuriteBack = () => pidOf(/Azurite Table service on 127\.0\.0\.1:\d+ \(pid (\d+)/g).length >= 2
    while (!azuriteBack()) {
      const r = await call(base, 'GET', '/api/health').catch(() => undefined)
      if (r?.status === 503) {
        saw503 = true
        assert.equal(r.body.code, 'storage_unavailable')
      }
      await new Promise((r) => setTimeout(r, 50))
      if (run.child.exitCode !== null) assert.fail(`npm start exited:\n${run.output()}`)
    }
    const answeredAt = Date.now()
    assert.ok(saw503, 'health answered 503 while Azurite was down')
    assert.match(run.output(), /Azurite exited \(SIGKILL\); starting it again in \d+ ms/)
    const newAzurite = pidOf(/Azurite Table service on 127\.0\.0\.1:(\d+) \(pid/g)
    assert.deepEqual([...new Set(newAzurite)], [tablePort], 'restarted on the same port')
    for (;;) {
      const r = await call(base, 'GET', '/api/health').catch(() => undefined)
      if (r?.status === 200) break
      assert.ok(Date.now() - answeredAt < 2000, `served again within 2 s of Azurite answering:\n${run.output()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.deepEqual(pidOf(/local server starting on port \d+ \(pid (\d+)/g), [serverPid], 'the server was not restarted')
    // Nothing was lost: the passkey signs in (Azurite kept its data directory).
    const again = await signIn(base, auth, username, { origin: base }).catch((e) => assert.fail(`${e}\n${run.output()}`))
    assert.equal(again.status, 200)

    // The server itself crashes: it is started again.
    process.kill(serverPid, 'SIGKILL')
    await within(30_000, 'server restarted', (async () => {
      while (!run.output().includes('local server is back')) await new Promise((r) => setTimeout(r, 100))
    })())
    assert.equal((await call(base, 'GET', '/api/health')).status, 200)
    assert.equal(pidOf(/local server starting on port \d+ \(pid (\d+)/g).length, 2)

    run.child.kill('SIGINT')
    const { code } = await within(20_000, 'npm start exit after SIGINT', run.exited)
    assert.equal(code, 0, run.output())
    assert.ok(await portIsFree(port, '127.0.0.1'), `port ${port} still in use`)
    assert.ok(await portIsFree(tablePort, '127.0.0.1'), `Azurite port ${tablePort} still in use`)
  })

  it('invalid settings: the server exits with a one-line message, Azurite is stopped, exit non-zero', async () => {
    const { tablePort, run } = await startOnFreePorts({ TOKEN_ALG: 'HS256' })
    const { code } = await within(60_000, 'npm start exit', run.exited)
    assert.notEqual(code, 0)
    assert.match(run.output(), /local server: Setting TOKEN_ALG="HS256" is invalid/)
    assert.doesNotMatch(run.output(), /^\s+at /m, 'no stack trace')
    assert.ok(await portIsFree(tablePort, '127.0.0.1'), `Azurite port ${tablePort} still in use`)
  })
})

describe('loadOrCreateLocalKek', () => {
  it('creates a 32-byte base64 key with mode 0600 once, then returns the same key', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'kek-test-')), 'nested', '.azurite')
    try {
      const first = loadOrCreateLocalKek(dir)
      assert.equal(Buffer.from(first, 'base64').length, 32)
      assert.equal(statSync(join(dir, 'key-encryption-key')).mode & 0o777, 0o600)
      assert.equal(loadOrCreateLocalKek(dir), first)
    } finally {
      rmSync(join(dir, '..', '..'), { recursive: true, force: true })
    }
  })
})

describe('npm run smoke (scripts/smoke.ts)', () => {
  it('fails with exit 1 and a FAIL line naming the step when the service does not answer', async () => {
    const port = await freePort()
    const r = await runSmoke(['--base', `http://127.0.0.1:${port}`])
    assert.equal(r.code, 1, r.output)
    assert.match(r.output, /^FAIL health: /m)
    assert.doesNotMatch(r.output, /smoke test passed/)
  })
})
