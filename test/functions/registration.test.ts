/**
 * The Azure Functions registrations, tested without Core Tools.
 *
 * The bundle (scripts/build.mjs → <tmp>/functions/index.cjs, built privately so a concurrent
 * `npm run build` cannot hand us a half-written file) is loaded with a stand-in for the host's
 * `@azure/functions-core` module. @azure/functions calls `setProgrammingModel` and then
 * `registerFunction(metadata, handler)` once per `app.http` on it (node_modules/@azure/functions
 * src/app.ts); without the module it only warns ("test mode") and registers nothing. The captured
 * metadata is checked against every CONTRACT.md route with a matcher for the host's route
 * templates, and the captured handlers are called with real `HttpRequest` / `InvocationContext`
 * objects against a real Azurite.
 */
import { LEFT_OUT, shippedFiles } from '../helpers/packaging.js'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import Module, { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type {
  HttpHandler,
  HttpResponse as Response_,
  HttpResponseInit,
  LogLevel,
} from '@azure/functions'
// A webpack-built CommonJS module: Node's ESM loader sees its exports on the default only.
import azureFunctions from '@azure/functions'
import {
  handle,
  remoteAddrFrom,
  toRequest,
  toResponseInit,
} from '../../functions/adapter.js'
import { createService } from '../../shared/bootstrap.js'
import { loadConfig, SETTINGS } from '../../shared/config.js'
import { StorageUnavailableError } from '../../shared/errors.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { createTestMds, mdsEntry, mdsPayload } from '../helpers/mds.js'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const { HttpRequest, HttpResponse, InvocationContext } = azureFunctions

const root = fileURLToPath(new URL('../..', import.meta.url))
const hostJson = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8'))
const ROUTE_PREFIX: string = hostJson.extensions?.http?.routePrefix ?? 'api'

// ---------------------------------------------------------------------------------------------
// Every route of CONTRACT.md, with sample values for its parameters.

const CONTRACT: readonly (readonly [method: string, path: string])[] = [
  ['GET', '/api/health'],
  ['POST', '/api/webauthn/registration/options'],
  ['POST', '/api/webauthn/registration/verify'],
  ['POST', '/api/webauthn/authentication/options'],
  ['POST', '/api/webauthn/authentication/verify'],
  ['GET', '/api/.well-known/openid-configuration'],
  ['GET', '/api/.well-known/oauth-authorization-server'],
  ['GET', '/api/.well-known/jwks.json'],
  ['POST', '/api/oauth2/token'],
  ['GET', '/api/oauth2/authorize'],
  ['POST', '/api/oauth2/introspect'],
  ['POST', '/api/oauth2/revoke'],
  ['POST', '/api/authz/check'],
  ['GET', '/api/me'],
  ['GET', '/api/me/credentials'],
  ['PATCH', '/api/me/credentials/{id}'],
  ['DELETE', '/api/me/credentials/{id}'],
  ['GET', '/api/me/sessions'],
  ['DELETE', '/api/me/sessions'],
  ['DELETE', '/api/me/sessions/{id}'],
  ['POST', '/api/oauth2/bc-authorize'],
  ['GET', '/api/me/approvals'],
  ['POST', '/api/me/approvals/{id}/options'],
  ['POST', '/api/me/approvals/{id}/verify'],
  ['DELETE', '/api/me/approvals/{id}'],
  ['GET', '/api/me/delegations'],
  ['DELETE', '/api/me/delegations/{id}'],
  ['GET', '/api/manage/roles'],
  ['PUT', '/api/manage/roles/{role}'],
  ['DELETE', '/api/manage/roles/{role}'],
  ['GET', '/api/manage/users'],
  ['PUT', '/api/manage/users/{userId}/roles/{role}'],
  ['DELETE', '/api/manage/users/{userId}/roles/{role}'],
  ['DELETE', '/api/manage/credentials/{id}'],
  ['GET', '/api/manage/users/{userId}/sessions'],
  ['DELETE', '/api/manage/users/{userId}/sessions'],
  ['POST', '/api/manage/clients'],
  ['GET', '/api/manage/clients'],
  ['PATCH', '/api/manage/clients/{clientId}'],
  ['DELETE', '/api/manage/clients/{clientId}'],
  ['GET', '/api/manage/keys'],
  ['POST', '/api/manage/keys/rotate'],
  ['DELETE', '/api/manage/keys/{kid}'],
  ['GET', '/api/manage/audit'],
]

const SAMPLES: Record<string, string> = {
  id: 'AAECAwQFBgcICQoLDA0ODw', // a base64url credential id
  role: 'orders-reader',
  userId: 'qK3v9Zt1S0u8W2x4Y6z8AQ',
  kid: 'k2Hn0bTg7uVwXyZ',
  clientId: 'Zm9vYmFyYmF6cXV4cXV1eA',
}

const concrete = (path: string) => path.replace(/\{(\w+)\}/g, (_, name: string) => SAMPLES[name]!)

// ---------------------------------------------------------------------------------------------
// The host's route templates (ASP.NET Core routing: azure-webjobs-sdk-extensions
// WebJobsRouteBuilder builds a `Route` per function with `<routePrefix>/<route>`). Literals match
// case-insensitively, `{name}` one non-empty segment, `{name?}` an optional last segment, and
// `{*name}` / `{**name}` the rest of the path, the empty rest included
// (dotnet/aspnetcore RoutePatternMatcherTest.TryMatch_RouteWithCatchAll_MatchesEmptyContent).

/** true when the request path (no query) matches `routePrefix/template`. */
function matchesTemplate(template: string, path: string): boolean {
  const parts = `${ROUTE_PREFIX}/${template}`.split('/').filter(Boolean)
  const segments = path.split('?')[0]!.split('/').filter(Boolean)
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    const param = /^\{(\*{1,2})?(\w+)(?::[^}?]+)?(\?)?\}$/.exec(part)
    if (param?.[1]) return i === parts.length - 1 // catch-all: the rest, possibly empty
    const segment = segments[i]
    if (param) {
      if (segment === undefined) return param[3] === '?' && i === parts.length - 1
      continue
    }
    if (part.includes('{')) throw new Error(`template segment not handled by this matcher: ${part}`)
    if (segment === undefined || segment.toLowerCase() !== part.toLowerCase()) return false
  }
  return segments.length === parts.length
}

describe('Functions route template matcher', () => {
  it('matches literals case-insensitively, {name} one segment, {*rest} the rest (empty too)', () => {
    assert.equal(matchesTemplate('health', '/api/health'), true)
    assert.equal(matchesTemplate('health', '/API/Health'), true)
    assert.equal(matchesTemplate('health', '/api/health/x'), false)
    assert.equal(matchesTemplate('health', '/health'), false)
    assert.equal(matchesTemplate('me/{*rest}', '/api/me'), true)
    assert.equal(matchesTemplate('me/{*rest}', '/api/me/'), true)
    assert.equal(matchesTemplate('me/{*rest}', '/api/me/credentials/abc'), true)
    assert.equal(matchesTemplate('me/{*rest}', '/api/meh'), false)
    assert.equal(matchesTemplate('items/{id}', '/api/items'), false)
    assert.equal(matchesTemplate('items/{id}', '/api/items/7'), true)
    assert.equal(matchesTemplate('items/{id?}', '/api/items'), true)
    assert.equal(matchesTemplate('.well-known/{*rest}', '/api/.well-known/jwks.json'), true)
  })
})

// ---------------------------------------------------------------------------------------------
// Loading the bundle with a stand-in for @azure/functions-core.

interface Registration {
  name: string
  route: string
  methods: string[]
  authLevel: string
  handler: HttpHandler
}

/** A timer trigger (`app.timer`): name, NCRONTAB schedule, handler. */
interface TimerRegistration {
  name: string
  schedule: string
  handler: (timer: unknown, context: InstanceType<typeof InvocationContext>) => unknown
}

interface Loaded {
  registrations: Registration[]
  timers: TimerRegistration[]
  programmingModel: { name?: string; version?: string } | undefined
  coreCalls: string[]
  hooks: { name: string; callback: (context: unknown) => unknown }[]
}

const FAKE_CORE_ID = '\0test:@azure/functions-core'

/** require()s the bundle afresh, with `@azure/functions-core` resolved to a recorder. */
function loadBundle(bundle: string): Loaded {
  const loaded: Loaded = { registrations: [], timers: [], programmingModel: undefined, coreCalls: [], hooks: [] }
  const core = {
    setProgrammingModel(model: { name?: string; version?: string }) {
      loaded.coreCalls.push('setProgrammingModel')
      loaded.programmingModel = model
    },
    getProgrammingModel() {
      loaded.coreCalls.push('getProgrammingModel')
      return loaded.programmingModel
    },
    registerFunction(
      metadata: { name: string; bindings: Record<string, Record<string, unknown>> },
      handler: HttpHandler,
    ) {
      loaded.coreCalls.push('registerFunction')
      const timer = Object.values(metadata.bindings).find((b) => b.type === 'timerTrigger')
      if (timer) {
        loaded.timers.push({
          name: metadata.name,
          schedule: String(timer.schedule),
          handler: handler as unknown as TimerRegistration['handler'],
        })
        return { dispose() {} }
      }
      const trigger = Object.values(metadata.bindings).find((b) => b.type === 'httpTrigger')
      assert.ok(trigger, `function ${metadata.name} has an httpTrigger binding`)
      loaded.registrations.push({
        name: metadata.name,
        route: String(trigger.route),
        methods: (trigger.methods as string[]).map((m) => m.toUpperCase()),
        authLevel: String(trigger.authLevel),
        handler,
      })
      return { dispose() {} }
    },
    registerHook(name: string, callback: (context: unknown) => unknown) {
      loaded.coreCalls.push('registerHook')
      loaded.hooks.push({ name, callback })
      return { dispose() {} }
    },
    log() {},
  }
  const M = Module as unknown as {
    _resolveFilename(request: string, ...rest: unknown[]): string
    _cache: Record<string, unknown>
  }
  const resolve = M._resolveFilename
  const stub = new Module(FAKE_CORE_ID)
  stub.exports = core
  stub.loaded = true
  M._cache[FAKE_CORE_ID] = stub
  M._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === '@azure/functions-core' ? FAKE_CORE_ID : resolve.call(this, request, ...rest)
  }
  const require = createRequire(import.meta.url)
  try {
    delete require.cache[bundle]
    require(bundle)
  } finally {
    M._resolveFilename = resolve
    delete M._cache[FAKE_CORE_ID]
  }
  return loaded
}

interface Logged {
  level: LogLevel
  text: string
}

function invocation(functionName: string, logs: Logged[] = []) {
  return new InvocationContext({
    functionName,
    invocationId: randomBytes(8).toString('hex'),
    logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(' ') }),
  })
}

/** Calls the function the host would pick (the first whose template and method match). */
async function call(
  registrations: Registration[],
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
  logs: Logged[] = [],
): Promise<Response_> {
  const fn = registrations.find((r) => matchesTemplate(r.route, path) && r.methods.includes(method))
  assert.ok(fn, `a function serves ${method} ${path}`)
  const request = new HttpRequest({
    method,
    url: `https://passkey-edge.azurewebsites.net${path}`,
    headers: init.headers ?? {},
    body: init.body === undefined ? undefined : { string: init.body },
  })
  const result = (await fn.handler(request, invocation(fn.name, logs))) as HttpResponseInit
  // What the library does with the handler's answer before it goes to the host.
  return new HttpResponse(result)
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) delete process.env[k]
      else process.env[k] = val
    }
  }
  apply(vars)
  return fn().finally(() => apply(saved))
}

// ---------------------------------------------------------------------------------------------

describe('Azure Functions registrations (dist bundle, stand-in functions-core)', () => {
  let outDir: string
  let bundle: string
  let loaded: Loaded
  let azurite: Azurite
  let env: Record<string, string | undefined>

  before(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'functions-bundle-'))
    const build = spawnSync(process.execPath, ['scripts/build.mjs', '--outdir', outDir], {
      cwd: root,
      encoding: 'utf8',
    })
    assert.equal(build.status, 0, `scripts/build.mjs failed:\n${build.stdout}\n${build.stderr}`)
    bundle = join(outDir, 'functions', 'index.cjs')
    loaded = loadBundle(bundle)
    azurite = await startAzurite()
    env = {
      WEBSITE_INSTANCE_ID: undefined, // local: Core Tools sets Development and no instance id
      AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
      AZURITE_LOCATION: undefined,
      TABLES_CONNECTION_STRING: azurite.connectionString,
      AzureWebJobsStorage: undefined,
      TABLES_ENDPOINT: undefined,
      TABLE_PREFIX: `fn${randomBytes(4).toString('hex')}`,
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    }
  })

  after(async () => {
    await azurite?.stop()
    if (outDir) rmSync(outDir, { recursive: true, force: true })
  })

  it('loads @azure/functions from the bundle and registers through functions-core', () => {
    assert.equal(loaded.programmingModel?.name, '@azure/functions')
    assert.match(String(loaded.programmingModel?.version), /^4\./)
    assert.equal(loaded.coreCalls[0], 'setProgrammingModel')
    assert.ok(loaded.registrations.length > 0)
    // Self-contained: the bundle was loaded from a temp folder, where no node_modules resolves.
    const text = readFileSync(bundle, 'utf8')
    const external = [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!)
    const packages = external.filter((s) => !s.startsWith('node:') && !Module.isBuiltin(s))
    assert.deepEqual([...new Set(packages)], ['@azure/functions-core'])
  })

  it('registers an appTerminate hook (telemetry is flushed before the worker stops) that resolves whether or not the service ever started', async () => {
    const hooks = loaded.hooks.filter((h) => h.name === 'appTerminate')
    assert.equal(hooks.length, 1)
    await hooks[0]!.callback({ hookData: {} })
  })

  it('keeps @azure/identity and MSAL out of the bundle, in identity.cjs beside it, which the store loads with managed identity', async () => {
    const text = readFileSync(bundle, 'utf8')
    assert.doesNotMatch(text, /msal-node|@azure\/msal/i, 'MSAL is not parsed at cold start')
    assert.match(text, /import\("\.\/identity\.cjs"\)/)
    const identity = await import(pathToFileURL(join(outDir, 'functions', 'identity.cjs')).href)
    assert.equal(typeof identity.DefaultAzureCredential, 'function')
    assert.ok(statSync(bundle).size < 1.5 * 1024 * 1024, `bundle ${statSync(bundle).size} bytes`)
  })

  it('RFC 8414 §3: the path-inserted metadata URL (/.well-known/oauth-authorization-server/api) is outside the route prefix: no function can take it (docs/oauth.md "Discovery"); the path-appended forms are served', () => {
    for (const path of ['/.well-known/oauth-authorization-server/api', '/.well-known/openid-configuration/api'])
      assert.deepEqual(loaded.registrations.filter((r) => matchesTemplate(r.route, path)).map((r) => r.name), [], path)
    for (const path of ['/api/.well-known/oauth-authorization-server', '/api/.well-known/openid-configuration'])
      assert.equal(loaded.registrations.filter((r) => matchesTemplate(r.route, path) && r.methods.includes('GET')).length, 1, path)
  })

  it('serves every CONTRACT.md route with exactly one function and method', () => {
    for (const [method, path] of CONTRACT) {
      const url = concrete(path)
      const serving = loaded.registrations.filter(
        (r) => matchesTemplate(r.route, url) && r.methods.includes(method),
      )
      assert.equal(
        serving.length,
        1,
        `${method} ${path} is served by ${serving.length} functions: ${serving.map((r) => r.name)}`,
      )
    }
  })

  it('has no two functions whose routes overlap on a method (the host takes the first)', () => {
    const probes = [...CONTRACT.map(([m, p]) => [m, concrete(p)] as const)]
    for (const r of loaded.registrations) {
      const sample = r.route.replace(/\{\*{1,2}\w+\}/, 'x').replace(/\{(\w+)[^}]*\}/g, 'x')
      for (const m of r.methods) probes.push([m, `/${ROUTE_PREFIX}/${sample}`])
    }
    for (const [method, path] of probes) {
      const hits = loaded.registrations.filter(
        (r) => matchesTemplate(r.route, path) && r.methods.includes(method),
      )
      assert.ok(hits.length <= 1, `${method} ${path} matches ${hits.map((r) => r.name)}`)
    }
  })

  it('keeps authz/check at authLevel function and everything else anonymous', () => {
    for (const r of loaded.registrations) {
      const expected = r.route === 'authz/check' ? 'function' : 'anonymous'
      assert.equal(r.authLevel, expected, `${r.name} (${r.route})`)
    }
    assert.ok(loaded.registrations.some((r) => r.route === 'authz/check'))
  })

  it('uses no name or route the host reserves (admin…, runtime…) and valid, unique names', () => {
    const names = loaded.registrations.map((r) => r.name)
    assert.equal(new Set(names.map((n) => n.toLowerCase())).size, names.length)
    for (const { name, route, methods } of loaded.registrations) {
      assert.doesNotMatch(name, /^(admin|runtime)/i)
      assert.doesNotMatch(route, /^\/?(admin|runtime)/i)
      assert.doesNotMatch(`${ROUTE_PREFIX}/${route}`, /^\/?(admin|runtime)/i)
      assert.match(name, /^[a-z][a-z0-9_-]{0,127}$/i) // the host's function name rule
      assert.ok(!route.startsWith('/'), `${name}: routes are relative to the prefix`)
      assert.ok(methods.length > 0)
    }
  })

  it('registers three timers: keyrotation every 5 minutes, housekeeping hourly at minute 17, metadata daily at 03:41 (NCRONTAB: six fields)', () => {
    assert.deepEqual(
      loaded.timers.map((t) => [t.name, t.schedule]),
      [
        ['keyrotation', '0 */5 * * * *'],
        ['housekeeping', '0 17 * * * *'],
        ['metadata', '0 41 3 * * *'],
      ],
    )
    for (const { name, schedule } of loaded.timers) {
      assert.doesNotMatch(name, /^(admin|runtime)/i)
      assert.match(name, /^[a-z][a-z0-9_-]{0,127}$/i)
      assert.ok(!loaded.registrations.some((r) => r.name.toLowerCase() === name.toLowerCase()))
      assert.equal(schedule.split(' ').length, 6, `${name}: {second} {minute} {hour} {day} {month} {day-of-week}`)
    }
  })

  it('the keyrotation timer makes the signing keys on an empty store (one active, one next)', async () => {
    const fresh = loadBundle(bundle)
    const prefix = `fn${randomBytes(4).toString('hex')}`
    const logs: Logged[] = []
    const timer = {
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: '', next: '', lastUpdated: '' },
    }
    const keyrotation = fresh.timers.find((t) => t.name === 'keyrotation')!
    await withEnv({ ...env, TABLE_PREFIX: prefix }, async () => {
      await keyrotation.handler(timer, invocation('keyrotation', logs))
      // The second run finds nothing to do.
      await keyrotation.handler(timer, invocation('keyrotation', logs))
    })
    const service = await withEnv({ ...env, TABLE_PREFIX: prefix }, () =>
      createService({ env: process.env, local: true }),
    )
    const keys = await service.store.listSigningKeys()
    assert.deepEqual(keys.map((k) => k.state).sort(), ['active', 'next'])
    assert.equal(logs.filter((l) => /signing keys: created/.test(l.text)).length, 2)
  })

  it('the housekeeping timer deletes markers and sessions expired over an hour ago from Azurite, and logs the counts', async () => {
    const fresh = loadBundle(bundle)
    const prefix = `fn${randomBytes(4).toString('hex')}`
    const service = await withEnv({ ...env, TABLE_PREFIX: prefix }, () =>
      createService({ env: process.env, local: true }),
    )
    const { store } = service
    const now = Date.now()
    const session = (expiresAt: number) => ({
      id: randomBytes(16).toString('base64url'),
      userId: randomBytes(16).toString('base64url'),
      clientId: 'machine',
      audience: 'api://default',
      scope: '',
      amr: [],
      acr: '',
      authTime: Math.floor(now / 1000),
      createdAt: now - 86_400_000,
      expiresAt,
      refreshHash: 'x',
      previousRefreshHashes: [],
    })
    const oldSession = session(now - 2 * 3_600_000)
    const graceSession = session(now - 600_000) // expired, but within the hour of grace
    const liveSession = session(now + 600_000)
    for (const s of [oldSession, graceSession, liveSession]) await store.createSession(s)
    await store.putChallenge('hk-old', now - 2 * 3_600_000)
    await store.putChallenge('jti.hk-old', now - 3 * 3_600_000)
    await store.putChallenge('hk-grace', now - 600_000)
    await store.putChallenge('hk-live', now + 300_000)
    const logs: Logged[] = []
    const timer = {
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: '', next: '', lastUpdated: '' },
    }
    const housekeeping = fresh.timers.find((t) => t.name === 'housekeeping')!
    await withEnv({ ...env, TABLE_PREFIX: prefix }, () =>
      Promise.resolve(housekeeping.handler(timer, invocation('housekeeping', logs))),
    )
    assert.deepEqual(
      logs.map((l) => l.text),
      ['housekeeping: deleted 2 expired challenge/jti markers and 1 expired sessions'],
    )
    assert.equal(await store.getSession(oldSession.userId, oldSession.id), undefined)
    assert.ok(await store.getSession(graceSession.userId, graceSession.id))
    assert.ok(await store.getSession(liveSession.userId, liveSession.id))
    assert.equal(await store.consumeChallenge('hk-old'), false)
    assert.equal(await store.consumeChallenge('jti.hk-old'), false)
    assert.equal(await store.consumeChallenge('hk-grace'), true)
    assert.equal(await store.consumeChallenge('hk-live'), true)
  })

  it('the metadata timer downloads an https METADATA_BLOB, verifies it and stores it in Azurite for every instance (CONTRACT "Authenticator trust")', async () => {
    const mds = await createTestMds()
    const text = await mds.sign(mdsPayload([await mdsEntry({ aaguid: 'c0ffee00-0000-4000-8000-0000000000b1', name: 'Timer Test Key' })], { no: 5 }))
    let requests = 0
    const server = createServer((_req, res) => {
      requests++
      res.writeHead(200, { 'content-type': 'application/jwt' }).end(text)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    try {
      const blobEnv = {
        ...env,
        TABLE_PREFIX: `fn${randomBytes(4).toString('hex')}`,
        // Local settings take a loopback http URL; in Azure it must be https.
        METADATA_BLOB: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        METADATA_ROOT: mds.rootPem,
      }
      const fresh = loadBundle(bundle)
      const logs: Logged[] = []
      const timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } }
      const metadata = fresh.timers.find((t) => t.name === 'metadata')!
      await withEnv(blobEnv, () => Promise.resolve(metadata.handler(timer, invocation('metadata', logs))))
      assert.deepEqual(logs.map((l) => l.text), ['metadata: BLOB no 5 stored for every instance'])
      assert.equal(requests, 1)
      // Another instance reads the stored copy.
      const other = await withEnv(blobEnv, () => createService({ env: process.env, local: true }))
      assert.equal((await other.store.getMetadataBlob())?.no, 5)
      assert.equal((await other.core.metadata.lookup('c0ffee00-0000-4000-8000-0000000000b1'))?.name, 'Timer Test Key')
      assert.equal(requests, 1)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('reaches every /api route of the app through some function', async () => {
    const service = await withEnv(env, () => createService({ env: process.env, local: true }))
    const missing: string[] = []
    for (const { method, path } of service.app.routes) {
      if (method === 'ALL' || !path.startsWith(`/${ROUTE_PREFIX}/`)) continue
      const sample = path.replace(/:\w+(\{[^}]*\})?\??/g, 'x').replace(/\*/g, 'x')
      const served = loaded.registrations.some(
        (r) => matchesTemplate(r.route, sample) && r.methods.includes(method),
      )
      if (!served) missing.push(`${method} ${path}`)
    }
    assert.deepEqual(missing, [], 'app routes that no Azure Function forwards')
    // And the other way: the page function has a page to serve.
    assert.ok(
      service.app.routes.some((r) => r.method === 'GET' && r.path === `/${ROUTE_PREFIX}/ui`),
      'the app serves GET /api/ui',
    )
  })

  it('GET /api/health through the handler answers 200 {status:"ok"} from Azurite', async () => {
    const res = await withEnv(env, () => call(loaded.registrations, 'GET', '/api/health'))
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'ok' })
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  })

  it('loads no telemetry code without APPLICATIONINSIGHTS_CONNECTION_STRING (OpenTelemetry is telemetry.cjs beside the bundle)', async () => {
    const text = readFileSync(bundle, 'utf8')
    assert.doesNotMatch(text, /opentelemetry/i, 'OpenTelemetry is not parsed at cold start')
    assert.match(text, /import\("\.\/telemetry\.cjs"\)/)
    const fresh = loadBundle(bundle)
    const res = await withEnv({ ...env, APPLICATIONINSIGHTS_CONNECTION_STRING: undefined }, () => call(fresh.registrations, 'GET', '/api/health'))
    assert.equal(res.status, 200)
    const beside = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.startsWith(join(outDir, 'functions')))
    assert.ok(beside.includes(bundle))
    assert.deepEqual(beside.filter((f) => f.endsWith('telemetry.cjs')), [], 'telemetry.cjs was loaded')
  })

  it('POST with a JSON body reaches the app intact (authentication options)', async () => {
    const res = await withEnv(env, () =>
      call(loaded.registrations, 'POST', '/api/webauthn/authentication/options', {
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9:4711' },
        body: JSON.stringify({ username: 'nobody-' + randomBytes(3).toString('hex') }),
      }),
    )
    assert.equal(res.status, 200)
    const body = (await res.json()) as { challenge?: unknown }
    assert.equal(typeof body.challenge, 'string')
  })

  it('answers an unknown path under a catch-all with the app’s problem+json', async () => {
    const res = await withEnv(env, () => call(loaded.registrations, 'GET', '/api/oauth2/nope'))
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`)
    assert.match(res.headers.get('content-type') ?? '', /^application\/(problem\+)?json/)
  })

  it('a service that cannot start: 500 problem without details, logged once, retried later', async () => {
    // A fresh copy of the bundle: nothing memoised yet.
    const fresh = loadBundle(bundle)
    const logs: Logged[] = []
    const bad = { ...env, TOKEN_ALG: 'HS256' }
    const res = await withEnv(bad, () => call(fresh.registrations, 'GET', '/api/health', {}, logs))
    assert.equal(res.status, 500)
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/)
    const text = await res.text()
    const problem = JSON.parse(text) as Record<string, unknown>
    assert.equal(problem.status, 500)
    assert.equal(typeof problem.code, 'string')
    assert.doesNotMatch(text, /HS256|TOKEN_ALG|TypeError/)
    const errors = logs.filter((l) => l.level === 'error')
    assert.equal(errors.length, 1)
    assert.match(errors[0]!.text, /TOKEN_ALG/)
    // The failure is not memoised: once the setting is fixed, the next request is served.
    const ok = await withEnv({ ...env, TOKEN_ALG: undefined }, () =>
      call(fresh.registrations, 'GET', '/api/health'),
    )
    assert.equal(ok.status, 200)
  })

  it('locally without KEY_ENCRYPTION_KEY: creates .azurite/key-encryption-key (0600) and serves', async () => {
    const fresh = loadBundle(bundle)
    const cwd = process.cwd()
    const dir = mkdtempSync(join(tmpdir(), 'functions-cwd-'))
    try {
      process.chdir(dir)
      // Tables of its own: the signing keys other tests stored are sealed with another key.
      const res = await withEnv({ ...env, KEY_ENCRYPTION_KEY: undefined, TABLE_PREFIX: `fk${randomBytes(4).toString('hex')}` }, () =>
        call(fresh.registrations, 'GET', '/api/health'),
      )
      assert.equal(res.status, 200)
      const file = join(dir, '.azurite', 'key-encryption-key')
      assert.ok(existsSync(file))
      assert.equal(statSync(file).mode & 0o777, 0o600)
      assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32)
    } finally {
      process.chdir(cwd)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  for (const [name, azureEnv] of [
    ['WEBSITE_INSTANCE_ID set', { WEBSITE_INSTANCE_ID: 'a1b2c3' }],
    ['no Development marker: unknown hosts count as Azure', { AZURE_FUNCTIONS_ENVIRONMENT: undefined }],
  ] as const)
  it(`in Azure (${name}) never generates a key: missing settings → 500`, async () => {
    const fresh = loadBundle(bundle)
    const cwd = process.cwd()
    const dir = mkdtempSync(join(tmpdir(), 'functions-cwd-'))
    const logs: Logged[] = []
    try {
      process.chdir(dir)
      const azure = { ...env, ...azureEnv, KEY_ENCRYPTION_KEY: undefined }
      const res = await withEnv(azure, () =>
        call(fresh.registrations, 'GET', '/api/health', {}, logs),
      )
      assert.equal(res.status, 500)
      assert.equal(existsSync(join(dir, '.azurite')), false)
      assert.equal(logs.filter((l) => l.level === 'error').length, 1)
    } finally {
      process.chdir(cwd)
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

// ---------------------------------------------------------------------------------------------
// functions/adapter.ts

describe('functions/adapter.ts', () => {
  const binary = Uint8Array.from([0, 255, 1, 128, 13, 10, 0x3d, 0xfe])

  it('toRequest: method, full URL with query, headers and body bytes round trip', async () => {
    const req = await toRequest(
      new HttpRequest({
        method: 'POST',
        url: 'https://app.example/api/oauth2/token?x=1&y=%2F',
        headers: { 'content-type': 'application/octet-stream', 'x-custom': 'a, b' },
        body: { bytes: binary },
      }),
    )
    assert.equal(req.method, 'POST')
    assert.equal(req.url, 'https://app.example/api/oauth2/token?x=1&y=%2F')
    assert.equal(req.headers.get('content-type'), 'application/octet-stream')
    assert.equal(req.headers.get('x-custom'), 'a, b')
    assert.deepEqual(new Uint8Array(await req.arrayBuffer()), binary)
  })

  it('toRequest: a UTF-8 form body arrives byte for byte', async () => {
    const form = 'grant_type=refresh_token&refresh_token=r%C3%A9&x=%E2%9C%93'
    const req = await toRequest(
      new HttpRequest({
        method: 'POST',
        url: 'https://app.example/api/oauth2/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: { string: form },
      }),
    )
    assert.equal(await req.text(), form)
  })

  it('toRequest: GET, HEAD and an empty DELETE carry no body', async () => {
    for (const method of ['GET', 'HEAD', 'DELETE']) {
      const req = await toRequest(new HttpRequest({ method, url: 'https://app.example/api/me' }))
      assert.equal(req.method, method)
      assert.equal(req.body, null, method)
    }
  })

  it('toResponseInit: status, headers and bytes; a Set-Cookie is never passed on (the service sets no cookies)', async () => {
    const headers = new Headers({
      'content-type': 'application/octet-stream',
      'x-request-id': 'r1',
    })
    headers.append('set-cookie', 'sid=YWJjZA==; Path=/api; HttpOnly; Secure; SameSite=Strict')
    headers.append('set-cookie', 'pref=a=b=c; Max-Age=3600; SameSite=Lax')
    const init = await toResponseInit(new Response(binary, { status: 201, headers }))
    assert.equal(init.status, 201)
    const h = init.headers as Record<string, string>
    assert.equal(h['content-type'], 'application/octet-stream')
    assert.equal(h['x-request-id'], 'r1')
    assert.equal(h['set-cookie'], undefined)
    assert.equal(init.cookies, undefined)
    assert.deepEqual(new Uint8Array(init.body as Uint8Array), binary)
    // What @azure/functions makes of it before it goes to the host.
    const res = new HttpResponse(init)
    assert.equal(res.status, 201)
    assert.equal(res.cookies.length, 0)
    assert.equal(res.headers.get('x-request-id'), 'r1')
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), binary)
  })

  it('toResponseInit: a 204 and a HEAD answer have no body; JSON stays JSON', async () => {
    const empty = await toResponseInit(new Response(null, { status: 204 }))
    assert.equal(empty.status, 204)
    assert.equal(empty.body, undefined)
    assert.equal(empty.cookies, undefined)
    const head = await toResponseInit(
      new Response(null, {
        status: 200,
        headers: { 'content-type': 'application/json', 'content-length': '15' },
      }),
    )
    assert.equal(head.body, undefined)
    assert.equal((head.headers as Record<string, string>)['content-length'], undefined)
    const json = await toResponseInit(Response.json({ status: 'ok' }, { status: 200 }))
    const parsed = JSON.parse(new TextDecoder().decode(json.body as Uint8Array))
    assert.deepEqual(parsed, { status: 'ok' })
  })

  it('remoteAddrFrom: first X-Forwarded-For entry, port stripped', () => {
    const from = (v?: string) =>
      remoteAddrFrom(new Headers(v === undefined ? {} : { 'x-forwarded-for': v }))
    assert.equal(from('203.0.113.7:50312, 10.0.0.4'), '203.0.113.7')
    assert.equal(from('203.0.113.7'), '203.0.113.7')
    assert.equal(from('[2001:db8::1]:443'), '2001:db8::1')
    assert.equal(from('2001:db8::1, 10.0.0.1'), '2001:db8::1')
    assert.equal(from('not-an-ip'), undefined)
    assert.equal(from(''), undefined)
    assert.equal(from(), undefined)
  })

  it('handle: passes { invocation, remoteAddr } as env and adapts both ways', async () => {
    let seen: { env: unknown; body: string; method: string } | undefined
    const handler = handle(async () => ({
      async fetch(req: Request, env?: unknown) {
        seen = { env, body: await req.text(), method: req.method }
        const headers = new Headers()
        headers.append('set-cookie', 'a=1=2; Path=/')
        headers.append('set-cookie', 'b=3; Path=/')
        return new Response('created', { status: 201, headers })
      },
    }))
    const context = invocation('test')
    const out = (await handler(
      new HttpRequest({
        method: 'PUT',
        url: 'https://app.example/api/manage/roles/r',
        headers: { 'x-forwarded-for': '198.51.100.2:1234' },
        body: { string: '{"permissions":[]}' },
      }),
      context,
    )) as HttpResponseInit
    assert.deepEqual(seen, {
      env: { invocation: context, remoteAddr: '198.51.100.2' },
      body: '{"permissions":[]}',
      method: 'PUT',
    })
    assert.equal(out.status, 201)
    assert.equal(out.cookies, undefined)
  })

  it('handle: a failed start answers a bare 500 problem and logs one masked line', async () => {
    const logs: Logged[] = []
    const handler = handle(async () => {
      throw new TypeError(
        'Setting TABLES_CONNECTION_STRING has AccountKey=c2VjcmV0; Bearer eyJhbGciOi.eyJzdWIi.c2ln',
      )
    })
    const out = (await handler(
      new HttpRequest({
        method: 'POST',
        url: 'https://app.example/api/oauth2/token',
        body: { string: 'refresh_token=SECRET' },
      }),
      invocation('oauth2', logs),
    )) as HttpResponseInit
    assert.equal(out.status, 500)
    const headers = out.headers as Record<string, string>
    assert.equal(headers['content-type'], 'application/problem+json')
    const text = new TextDecoder().decode(out.body as Uint8Array)
    const problem = JSON.parse(text) as Record<string, unknown>
    assert.deepEqual(Object.keys(problem).sort(), ['code', 'detail', 'status', 'title', 'type'])
    assert.equal(problem.status, 500)
    assert.doesNotMatch(text, /TABLES|AccountKey|SECRET|TypeError/)
    assert.equal(logs.length, 1)
    assert.equal(logs[0]!.level, 'error')
    assert.match(logs[0]!.text, /TypeError: Setting TABLES_CONNECTION_STRING/)
    assert.doesNotMatch(logs[0]!.text, /c2VjcmV0|eyJ|SECRET/)
  })

  it('handle: storage down at start keeps its 503 storage_unavailable', async () => {
    const logs: Logged[] = []
    const handler = handle(async () => {
      throw new StorageUnavailableError(new Error('ECONNREFUSED'))
    })
    const out = (await handler(
      new HttpRequest({ method: 'GET', url: 'https://app.example/api/health' }),
      invocation('health', logs),
    )) as HttpResponseInit
    assert.equal(out.status, 503)
    const problem = JSON.parse(new TextDecoder().decode(out.body as Uint8Array)) as { code: string }
    assert.equal(problem.code, 'storage_unavailable')
    assert.equal(logs.length, 1)
  })

  it('handle: the app throwing (outside its own error handler) is a 500, logged once', async () => {
    const logs: Logged[] = []
    const handler = handle(async () => ({
      fetch() {
        throw new Error('boom')
      },
    }))
    const out = (await handler(
      new HttpRequest({ method: 'GET', url: 'https://app.example/api/health' }),
      invocation('health', logs),
    )) as HttpResponseInit
    assert.equal(out.status, 500)
    assert.equal(logs.filter((l) => l.level === 'error').length, 1)
  })
})

// ---------------------------------------------------------------------------------------------
// Deployment files.

/**
 * Azure Functions Core Tools' `.funcignore` matcher (src/Azure.Functions.Cli/Common/
 * GitIgnoreParser.cs, a port of codemix/gitignore-parser): each pattern is a regex anchored at
 * the start only, `*` is `[^/]+`, `**` is `.+`, and a negated pattern (`!`) always wins.
 */
function funcignore(text: string): (path: string) => boolean {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
  const toRegex = (patterns: string[]) =>
    patterns.length === 0
      ? /$^/
      : new RegExp(
          `^((${patterns
            .sort()
            .map((p) =>
              p
                .replace(/[-[\]/{}()+?.\\^$|]/g, '\\$&')
                .replace(/\*\*/g, '(.+)')
                .replace(/\*/g, '([^\\/]+)'),
            )
            .join(')|(')}))`,
        )
  const strip = (l: string) => (l.startsWith('/') ? l.slice(1) : l)
  const positive = toRegex(lines.filter((l) => !l.startsWith('!')).map(strip))
  const negative = toRegex(lines.filter((l) => l.startsWith('!')).map((l) => strip(l.slice(1))))
  return (path) => !(negative.test(path) || !positive.test(path)) // Denies()
}

describe('deployment files', () => {
  it('host.json: v2, extension bundle [4.0.0, 5.0.0), route prefix api', () => {
    assert.equal(hostJson.version, '2.0')
    assert.deepEqual(hostJson.extensionBundle, {
      id: 'Microsoft.Azure.Functions.ExtensionBundle',
      version: '[4.0.0, 5.0.0)',
    })
    assert.equal(ROUTE_PREFIX, 'api')
    assert.ok(!/admin|runtime/i.test(ROUTE_PREFIX))
  })

  it('.funcignore ships the bundle, host.json and package.json, and no sources or secrets (every file beside the bundle included)', () => {
    const denies = funcignore(readFileSync(join(root, '.funcignore'), 'utf8'))
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string }
    for (const shipped of shippedFiles(pkg.main)) assert.equal(denies(shipped), false, `${shipped} is published`)
    for (const left of LEFT_OUT) assert.equal(denies(left), true, `${left} is left out`)
  })

  it('local.settings.sample.json: every setting with its local default, no secret', () => {
    const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as {
      IsEncrypted: boolean
      Values: Record<string, string>
    }
    assert.equal(sample.IsEncrypted, false)
    assert.equal(sample.Values.FUNCTIONS_WORKER_RUNTIME, 'node')
    assert.equal(sample.Values.AzureWebJobsStorage, 'UseDevelopmentStorage=true')
    for (const { name } of SETTINGS) assert.ok(name in sample.Values, `${name} is in the sample`)
    assert.equal(sample.Values.KEY_ENCRYPTION_KEY, '')
    for (const [name, value] of Object.entries(sample.Values))
      assert.doesNotMatch(value, /AccountKey=|SharedAccessSignature=|sig=/i, name)
    // The values are the defaults: the same config as no settings at all (storage aside).
    const fromSample = loadConfig(sample.Values, { local: true })
    const fromNothing = loadConfig({}, { local: true })
    assert.deepEqual(
      { ...fromSample, tablesConnectionString: undefined },
      { ...fromNothing, tablesConnectionString: undefined },
    )
  })
})
