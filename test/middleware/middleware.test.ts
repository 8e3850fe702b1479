/**
 * The auth and response middleware (shared/middleware/): requireBearer, requireRole,
 * requireRecentSignIn, noStore and the two onError renderers, on the real app with an in-memory
 * store and on small Hono apps of their own.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { getRequestListener } from '@hono/node-server'
import { Hono } from 'hono'
import { nodeBindings } from '../../runtime/node/bindings.js'
import { createApp } from '../../shared/app.js'
import { loadConfig } from '../../shared/config.js'
import type { Core } from '../../shared/core.js'
import type { AppEnv } from '../../shared/env.js'
import { OAuthError, ServiceError } from '../../shared/errors.js'
import { requireBearer } from '../../shared/middleware/bearer.js'
import { noStore } from '../../shared/middleware/noStore.js'
import { renderErrors, renderOAuthErrors } from '../../shared/middleware/onError.js'
import { requireRecentSignIn } from '../../shared/middleware/reauth.js'
import { requireRole } from '../../shared/middleware/requireRole.js'
import { createMemoryStore, type MemoryStore } from '../../shared/store/memory.js'
import { inHandFirst, updateWithRetry } from '../../shared/store/retry.js'
import { ConcurrencyError } from '../../shared/store/types.js'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { bearer, call, signUp } from '../helpers/client.js'

let server: Server
let base: string
let core: Core
let store: MemoryStore
const clock = new ManualClock()
const logs: string[] = []
let n = 0
const uniq = () => `mw${process.pid}n${++n}`

before(async () => {
  const config = loadConfig(
    { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'), RATE_LIMIT: '0', TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true' },
    { local: true },
  )
  store = createMemoryStore()
  const app = createApp({ config, store, clock, logError: (m) => logs.push(m) })
  core = app.core
  server = createServer(getRequestListener((req, { incoming }) => app.fetch(req, nodeBindings(incoming))))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => {
  server?.closeAllConnections()
  server?.close()
})

/** A signed-up person's access token and id, with `roles` set in storage (not in the token). */
async function person(roles: string[] = []) {
  const { user, tokens } = await signUp(base, new SoftAuthenticator(), uniq())
  if (roles.length) await store.updateUser({ ...(await store.getUser(user.id))!, roles })
  return { userId: user.id, token: tokens.access_token as string }
}

/** A Hono app of its own around `mount`, rendering errors as the service does. */
function probe(mount: (r: Hono<AppEnv>) => void) {
  const r = new Hono<AppEnv>()
  mount(r)
  r.onError(renderErrors((m) => logs.push(m)))
  return (path: string, headers: Record<string, string> = {}) => r.request(path, { headers })
}

describe('requireRole', () => {
  it('should read the role live: granted after the token was issued → allowed; removed → 403 at once', async () => {
    const p = await person()
    const get = () => call(base, 'GET', '/api/manage/roles', undefined, bearer(p.token))
    assert.equal((await get()).status, 403)
    await store.updateUser({ ...(await store.getUser(p.userId))!, roles: ['admin'] })
    assert.equal((await get()).status, 200)
    await store.updateUser({ ...(await store.getUser(p.userId))!, roles: [] })
    const refused = await get()
    assert.equal(refused.status, 403)
    assert.equal(refused.body.code, 'forbidden')
    assert.equal(refused.headers.get('www-authenticate'), 'Bearer error="insufficient_scope"')
  })

  it('should refuse a disabled administrator whose token outlived its revocation (defence in depth)', async () => {
    const p = await person(['admin'])
    const get = () => call(base, 'GET', '/api/manage/roles', undefined, bearer(p.token))
    assert.equal((await get()).status, 200)
    // The flag without the revocation (as if that had failed): the role check refuses all the same.
    await store.updateUser({ ...(await store.getUser(p.userId))!, disabledAt: clock.now() })
    assert.equal((await get()).status, 403)
  })

  it('should publish the principal and the audit actor', async () => {
    const p = await person(['auditor'])
    const req = probe((r) => r.get('/x', requireRole(core, 'auditor'), (c) => c.json({ principal: c.var.principal.userId, actor: c.var.auditActor })))
    const res = await req('/x', bearer(p.token))
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { principal: p.userId, actor: { userId: p.userId } })
  })

  it('should refuse to be built without a role', () => {
    assert.throws(() => requireRole(core, ''), TypeError)
  })
})

describe('the admin router (one requireRole for every /api/manage/* sub-router)', () => {
  // keys, audit and clients used to check the role inside each handler.
  const guarded = [
    ['GET', '/api/manage/keys'],
    ['POST', '/api/manage/keys/rotate'],
    ['DELETE', '/api/manage/keys/nokey'],
    ['GET', '/api/manage/audit'],
    ['GET', '/api/manage/clients/AAAA'],
    ['POST', '/api/manage/clients'],
    ['GET', '/api/manage/roles'],
    ['GET', '/api/manage/no-such-route'],
  ] as const

  it('should answer 401 without a token and 403 without the role, before any 404 or 400', async () => {
    const p = await person()
    for (const [method, path] of guarded) {
      const anon = await call(base, method, path)
      assert.equal(anon.status, 401, `${method} ${path}`)
      assert.equal(anon.headers.get('www-authenticate'), 'Bearer')
      assert.equal(anon.headers.get('cache-control'), 'no-store')
      const user = await call(base, method, path, undefined, bearer(p.token))
      assert.equal(user.status, 403, `${method} ${path}`)
      assert.equal(user.body.detail, 'This needs role admin')
    }
  })

  it('should pass an administrator on to the sub-router (and 404 past them)', async () => {
    const admin = await person(['admin'])
    assert.equal((await call(base, 'GET', '/api/manage/keys', undefined, bearer(admin.token))).status, 200)
    assert.equal((await call(base, 'GET', '/api/manage/audit?limit=1', undefined, bearer(admin.token))).status, 200)
    assert.equal((await call(base, 'GET', '/api/manage/clients/AAAA', undefined, bearer(admin.token))).status, 404)
    assert.equal((await call(base, 'GET', '/api/manage/no-such-route', undefined, bearer(admin.token))).status, 404)
  })
})

describe('requireBearer', () => {
  const who = (r: Hono<AppEnv>, optional: boolean) =>
    optional
      ? r.get('/x', requireBearer(core, { firstParty: true, optional: true }), (c) => c.json({ userId: c.var.principal?.userId ?? null }))
      : r.get('/x', requireBearer(core, { firstParty: true }), (c) => c.json({ userId: c.var.principal.userId }))

  it('should publish the principal, and 401 with the RFC 6750 challenge without a token', async () => {
    const p = await person()
    const req = probe((r) => who(r, false))
    assert.deepEqual(await (await req('/x', bearer(p.token))).json(), { userId: p.userId })
    const anon = await req('/x')
    assert.equal(anon.status, 401)
    assert.equal(anon.headers.get('www-authenticate'), 'Bearer')
  })

  it('optional: should go on without a principal when there is no token, and still verify one that is there', async () => {
    const p = await person()
    const req = probe((r) => who(r, true))
    assert.deepEqual(await (await req('/x')).json(), { userId: null })
    assert.deepEqual(await (await req('/x', bearer(p.token))).json(), { userId: p.userId })
    const tampered = await req('/x', bearer(`${p.token.slice(0, -4)}AAAA`))
    assert.equal(tampered.status, 401)
    assert.match(tampered.headers.get('www-authenticate') ?? '', /error="invalid_token"/)
    assert.equal((await req('/x', { authorization: 'Basic abc' })).status, 401)
  })
})

describe('requireRecentSignIn', () => {
  it('should refuse an old sign-in with the RFC 9470 challenge and record the refusal', async () => {
    const p = await person()
    const req = probe((r) => r.get('/x', requireBearer(core, { firstParty: true }), requireRecentSignIn(core, 'passkey.rename'), (c) => c.text('ok')))
    assert.equal((await req('/x', bearer(p.token))).status, 200)
    clock.advance((core.config.reauthMaxAge + 1) * 1000)
    try {
      const res = await req('/x', bearer(p.token))
      assert.equal(res.status, 401)
      assert.equal(res.headers.get('www-authenticate'), `Bearer error="insufficient_user_authentication", max_age=${core.config.reauthMaxAge}`)
      const events = await core.audit.list(undefined, 1000)
      const refused = events.filter((e) => e.type === 'account.change_refused' && e.actor?.userId === p.userId)
      assert.equal(refused.length, 1)
      assert.equal(refused[0]!.detail?.change, 'passkey.rename')
    } finally {
      clock.advance(-(core.config.reauthMaxAge + 1) * 1000)
    }
  })

  it('should fail closed when mounted without the bearer middleware and a token comes', async () => {
    const p = await person()
    const req = probe((r) => r.get('/x', requireRecentSignIn(core, 'passkey.add'), (c) => c.text('ok')))
    assert.equal((await req('/x')).status, 200) // nothing to renew: signing up
    assert.equal((await req('/x', bearer(p.token))).status, 500)
  })
})

describe('noStore', () => {
  it('should set Cache-Control (and Pragma when asked) on answers, leaving errors their own headers', async () => {
    const req = probe((r) => {
      r.get('/ok', noStore({ pragma: true }), (c) => c.json({}))
      r.get('/plain', noStore(), (c) => c.body(null, 204))
      r.get('/fails', noStore({ pragma: true }), () => {
        throw new ServiceError('not_found')
      })
    })
    const ok = await req('/ok')
    assert.equal(ok.headers.get('cache-control'), 'no-store')
    assert.equal(ok.headers.get('pragma'), 'no-cache')
    const plain = await req('/plain')
    assert.equal(plain.headers.get('cache-control'), 'no-store')
    assert.equal(plain.headers.get('pragma'), null)
    const fails = await req('/fails')
    assert.equal(fails.status, 404)
    assert.equal(fails.headers.get('cache-control'), 'no-store')
    assert.equal(fails.headers.get('pragma'), null) // a problem, not a token response
  })
})

describe('onError per sub-app', () => {
  function oauthApp() {
    const app = new Hono<AppEnv>()
    const endpoints = new Hono<AppEnv>()
    endpoints.onError(renderOAuthErrors((m) => logs.push(m)))
    endpoints.post('/down', () => {
      throw new ServiceError('storage_unavailable', undefined, { headers: { 'retry-after': '5', 'www-authenticate': 'Bearer' } })
    })
    endpoints.post('/bad', () => {
      throw new ServiceError('payload_too_large', 'too big')
    })
    endpoints.post('/oauth', () => {
      throw new OAuthError('invalid_client', 'who are you')
    })
    endpoints.post('/bug', () => {
      throw new RangeError('a bug')
    })
    app.route('/o', endpoints)
    app.onError(renderErrors((m) => logs.push(m)))
    return (path: string) => app.request(path, { method: 'POST' })
  }

  it('should render a ServiceError in the OAuth sub-app as RFC 6749 §5.2, keeping its status and headers but WWW-Authenticate', async () => {
    const req = oauthApp()
    const down = await req('/o/down')
    assert.equal(down.status, 503)
    // Headers before the body: @hono/node-server's Response (global once a test started a server)
    // rebuilds itself from its init when the body is read.
    assert.equal(down.headers.get('retry-after'), '5')
    assert.equal(down.headers.get('www-authenticate'), null)
    assert.equal(down.headers.get('pragma'), 'no-cache')
    assert.deepEqual(await down.json(), { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable; retry' })
    const bad = await req('/o/bad')
    assert.equal(bad.status, 413)
    assert.deepEqual(await bad.json(), { error: 'invalid_request', error_description: 'too big' })
    const client = await req('/o/oauth')
    assert.equal(client.status, 401)
    assert.equal(client.headers.get('www-authenticate'), 'Bearer error="invalid_client"')
  })

  it('should hand anything else on to the app: the bare 500, logged', async () => {
    const res = await oauthApp()('/o/bug')
    assert.equal(res.status, 500)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    assert.equal((await res.json()).code, 'internal_error')
    assert.ok(logs.includes('unhandled RangeError: a bug'))
  })
})

describe('updateWithRetry with inHandFirst', () => {
  it('should use the record in hand first and read again only after a lost race', async () => {
    const reads: string[] = []
    let writes = 0
    const result = await updateWithRetry({
      read: inHandFirst('held', async () => (reads.push('fresh'), 'fresh')),
      change: (v) => `${v}+1`,
      write: async () => {
        if (++writes === 1) throw new ConcurrencyError('test')
      },
      attempts: 3,
    })
    assert.equal(result, 'fresh+1')
    assert.deepEqual(reads, ['fresh'])
  })
})

describe('page security headers (shared/web/security.ts: hono/secure-headers, every default off)', () => {
  const app = createApp({ config: loadConfig({ KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') }, { local: true }), store: createMemoryStore(), logError: () => {} })
  const names = (r: Response) => [...r.headers.keys()].sort()

  it('the passkey page sends its CSP, COOP, permissions and referrer policy, and no header it did not ask for', async () => {
    const r = await app.request('/')
    assert.deepEqual(names(r), ['cache-control', 'content-security-policy', 'content-type', 'cross-origin-opener-policy', 'permissions-policy', 'referrer-policy', 'x-content-type-options'])
    assert.match(r.headers.get('content-security-policy')!, /^default-src 'none'; script-src 'self'; .*require-trusted-types-for 'script'; trusted-types 'none'$/)
    assert.equal(r.headers.get('permissions-policy'), 'publickey-credentials-get=(self), publickey-credentials-create=(self), camera=(), microphone=(), geolocation=()')
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer')
  })

  it('the authorization page (also its error page) is never framed and allows only its inline style by hash', async () => {
    const r = await app.request('/api/oauth2/authorize?client_id=nobody')
    assert.equal(r.status, 400)
    assert.deepEqual(names(r), ['cache-control', 'content-security-policy', 'content-type', 'referrer-policy', 'x-content-type-options', 'x-frame-options'])
    assert.match(r.headers.get('content-security-policy')!, /style-src 'sha256-[A-Za-z0-9+/]{43}='; .*frame-ancestors 'none'$/)
    assert.equal(r.headers.get('x-frame-options'), 'DENY')
  })
})
