/**
 * The dev gateway (local/gateway.ts) against a fake issuer (discovery + JWKS made with jose) and
 * a fake authorizer, both in-process Hono apps reached through the injected fetch, with the echo
 * backend behind it. The clock is injected: token times, key refresh and the decision cache move
 * with it. End-to-end tests against the real service live elsewhere.
 */
import assert from 'node:assert/strict'
import { beforeEach, describe, it } from 'node:test'
import { Hono } from 'hono'
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose'
import { POLICY, withResourceMetadata } from '../../apim/policy.js'
import { createEchoApp, SAMPLE_API, startEchoBackend } from '../../local/echo.js'
import { createGateway, startGateway } from '../../local/gateway.js'

const ISSUER = 'http://issuer.test/api'
const DISCOVERY = `${ISSUER}/.well-known/openid-configuration`
const AUTHZ = 'http://authz.test/api/authz/check'
const BACKEND = 'http://backend.test'
const AUDIENCE = 'api://default'
const T0 = Date.UTC(2030, 0, 1)
const MIN = 60_000

interface SigningKey {
  kid: string
  alg: string
  privateKey: CryptoKey
  publicJwk: JWK
}

async function signingKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } }
}

type Decision = Record<string, unknown>

/** Everything one test needs: clock, issuer, authorizer, gateway. */
function world(keysAtStart: SigningKey[], opts: { authzKey?: string; discoveryIssuer?: string } = {}) {
  let now = T0
  const published = [...keysAtStart]
  let discoveryPulls = 0
  const authzCalls: { headers: Headers; body: Record<string, unknown> }[] = []
  let answer: (body: Record<string, unknown>) => Response | Promise<Response> = (body) =>
    Response.json({ allow: true, status: 200, reason: 'granted by role reader', sub: 'user-1', roles: ['reader', 'writer'], scopes: [], ttl: 30, body })
  let authzFailure: Error | undefined

  const issuer = new Hono()
  issuer.get('/api/.well-known/openid-configuration', (c) => {
    discoveryPulls++
    return c.json({ issuer: opts.discoveryIssuer ?? ISSUER, jwks_uri: `${ISSUER}/.well-known/jwks.json` })
  })
  issuer.get('/api/.well-known/jwks.json', (c) => c.json({ keys: published.map((k) => k.publicJwk) }))

  const authz = new Hono()
  authz.post('/api/authz/check', async (c) => {
    const body = (await c.req.json()) as Record<string, unknown>
    authzCalls.push({ headers: c.req.raw.headers, body })
    return answer(body)
  })
  const backend = createEchoApp()
  const apps: Record<string, Hono> = { 'http://issuer.test': issuer, 'http://authz.test': authz, [BACKEND]: backend }

  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init)
    const origin = new URL(req.url).origin
    const app = apps[origin]
    if (!app) throw new TypeError('fetch failed (connection refused)')
    if (origin === 'http://authz.test' && authzFailure) throw authzFailure
    return app.fetch(req)
  }) as typeof fetch

  const logs: string[] = []
  const { app: gateway, keys, decisions } = createGateway({
    issuer: ISSUER,
    discoveryUrl: DISCOVERY,
    audiences: [AUDIENCE, 'api://other'],
    authzUrl: AUTHZ,
    backendUrl: BACKEND,
    ...(opts.authzKey ? { authzKey: opts.authzKey } : {}),
    fetch: fetchFn,
    now: () => now,
    log: (l) => logs.push(l),
  })

  return {
    get now() {
      return now
    },
    advance(ms: number) {
      now += ms
    },
    publish(k: SigningKey) {
      published.push(k)
    },
    get discoveryPulls() {
      return discoveryPulls
    },
    authzCalls,
    answer(fn: typeof answer) {
      answer = fn
    },
    /** The authorizer call fails like fetch does: refused connection, or the timeout's abort. */
    authzDown(err: Error = new TypeError('fetch failed (connection refused)')) {
      authzFailure = err
    },
    keys,
    decisions,
    logs,
    /** A signed access token; `claims` override the defaults, `header` the protected header. */
    async token(key: SigningKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
      const iat = Math.floor(now / 1000)
      return new SignJWT({ scope: 'openid', roles: ['reader'], sid: 's1', client_id: 'c1', ...claims })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
        .setIssuer((claims.iss as string) ?? ISSUER)
        .setAudience((claims.aud as string) ?? AUDIENCE)
        .setSubject('user-1')
        .setIssuedAt(iat)
        .setJti(`j${iat}`)
        .setExpirationTime((claims.exp as number) ?? iat + 600)
        .sign(key.privateKey)
    },
    call(path: string, init: RequestInit & { token?: string } = {}) {
      const headers = new Headers(init.headers)
      if (init.token) headers.set('authorization', `Bearer ${init.token}`)
      return gateway.request(`http://localhost:7072${path}`, { ...init, headers })
    },
  }
}

const b64url = (s: string) => Buffer.from(s).toString('base64url')

let keyA: SigningKey
let keyB: SigningKey
beforeEach(async () => {
  keyA ??= await signingKey('key-a')
  keyB ??= await signingKey('key-b')
})

/** RFC 9728 §3.1: the sample API's metadata URL on the origin the tests call (`world().call`). */
const METADATA = 'http://localhost:7072/.well-known/oauth-protected-resource/sample'
/** A 401's challenge as the gateway sends it: with resource_metadata (RFC 9728 §5.1). */
const challenged = (challenge: string, metadata = METADATA) => withResourceMetadata(challenge, metadata)

async function assertUnauthorized(res: Response, description: string | undefined) {
  assert.equal(res.status, 401)
  assert.equal(res.headers.get('content-type'), POLICY.problemContentType)
  const challenge = res.headers.get('www-authenticate')
  if (description === undefined) assert.equal(challenge, `Bearer resource_metadata="${METADATA}"`)
  else assert.equal(challenge, `Bearer error="invalid_token", error_description="${description}", resource_metadata="${METADATA}"`)
  const body = (await res.json()) as Record<string, unknown>
  assert.equal(body.code, 'unauthorized')
  assert.equal(body.status, 401)
}

describe('dev gateway: allowed requests reach the backend', () => {
  it('should forward with X-User-Id, X-User-Roles and Authorization, after asking the authorizer once', async () => {
    const w = world([keyA])
    const token = await w.token(keyA)
    const res = await w.call('/sample/orders/42?expand=lines', { token })
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), {
      method: 'GET',
      path: '/orders/42',
      query: { expand: 'lines' },
      userId: 'user-1',
      roles: 'reader,writer',
      actorId: null,
      receivedAuthorization: true,
    })
    assert.equal(w.authzCalls.length, 1)
    const call = w.authzCalls[0]!
    assert.deepEqual(call.body, { method: 'GET', path: '/orders/42', apiId: 'sample', operationId: 'get-order', dpop: '', url: 'http://localhost:7072/sample/orders/42' })
    assert.equal(call.headers.get('authorization'), `Bearer ${token}`)
    assert.equal(call.headers.get('content-type'), 'application/json')
    assert.equal(call.headers.get(POLICY.authorizer.keyHeader), null, 'no key configured locally')
  })

  it('should send x-functions-key when a key is configured', async () => {
    const w = world([keyA], { authzKey: 'fn-key' })
    const res = await w.call('/sample/orders', { method: 'POST', token: await w.token(keyA), body: '{}' })
    assert.equal(res.status, 200)
    assert.equal(w.authzCalls[0]!.headers.get('x-functions-key'), 'fn-key')
    assert.deepEqual(w.authzCalls[0]!.body, { method: 'POST', path: '/orders', apiId: 'sample', operationId: 'create-order', dpop: '', url: 'http://localhost:7072/sample/orders' })
  })

  it('should strip client-sent X-User-Id and X-User-Roles', async () => {
    const w = world([keyA])
    w.answer(() => Response.json({ allow: true, status: 200, reason: 'ok', roles: [], scopes: [], ttl: 0 }))
    const res = await w.call('/sample/orders', {
      token: await w.token(keyA),
      headers: { 'X-User-Id': 'admin', 'X-User-Roles': 'admin' },
    })
    assert.equal(res.status, 200)
    const body = (await res.json()) as Record<string, unknown>
    assert.equal(body.userId, null)
    assert.equal(body.roles, null)

    w.answer(() => Response.json({ allow: true, status: 200, reason: 'ok', sub: 'user-1', roles: ['reader'], scopes: [], ttl: 0 }))
    const again = (await (await w.call('/sample/orders', { token: await w.token(keyA), headers: { 'x-user-id': 'admin' } })).json()) as Record<string, unknown>
    assert.equal(again.userId, 'user-1')
    assert.equal(again.roles, 'reader')
  })

  it('should forward the decision\'s actor as X-Actor-Id (CONTRACT v2 agents) and strip a client-sent one', async () => {
    const w = world([keyA])
    w.answer(() => Response.json({ allow: true, status: 200, reason: 'ok', sub: 'user-1', roles: ['reader'], scopes: [], ttl: 0 }))
    const plain = (await (await w.call('/sample/orders', { token: await w.token(keyA), headers: { 'X-Actor-Id': 'forged-agent' } })).json()) as Record<string, unknown>
    assert.equal(plain.actorId, null, 'no actor in the decision: none for the backend, whatever the client sent')
    w.answer(() => Response.json({ allow: true, status: 200, reason: 'ok', sub: 'user-1', actor: 'agent-7', roles: ['reader'], scopes: [], ttl: 0 }))
    const delegated = (await (await w.call('/sample/orders', { token: await w.token(keyA), headers: { 'x-actor-id': 'forged-agent' } })).json()) as Record<string, unknown>
    assert.equal(delegated.userId, 'user-1')
    assert.equal(delegated.actorId, 'agent-7')
  })

  it('should match APIM operations: unknown API or operation is 404 before any check', async () => {
    const w = world([keyA])
    for (const [method, path] of [
      ['GET', '/other/orders'],
      ['PUT', '/sample/orders/1'],
      ['GET', '/sample/admin'],
      ['GET', '/sampleorders'],
    ] as const) {
      const res = await w.call(path, { method })
      assert.equal(res.status, 404, `${method} ${path}`)
    }
    assert.equal((await w.call('/sample/admin/users/7', { token: await w.token(keyA) })).status, 200)
    assert.equal(w.authzCalls.at(-1)!.body.path, '/admin/users/7')
    assert.equal(w.authzCalls.length, 1)
  })
})

describe('dev gateway: validate-jwt refuses without calling the authorizer', () => {
  it('should answer 401 with a bare Bearer challenge without a token (RFC 6750 §3.1)', async () => {
    const w = world([keyA])
    await assertUnauthorized(await w.call('/sample/orders'), undefined)
    await assertUnauthorized(await w.call('/sample/orders', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }), undefined)
    await assertUnauthorized(await w.call('/sample/orders', { headers: { authorization: 'Bearer ' } }), undefined)
    assert.equal(w.authzCalls.length, 0)
  })

  it('should refuse expired tokens beyond the clock skew, accept them within it', async () => {
    const w = world([keyA])
    const iat = Math.floor(w.now / 1000)
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(keyA, { exp: iat - POLICY.jwt.clockSkewSeconds - 1 }) }), 'token expired')
    assert.equal(w.authzCalls.length, 0)
    const within = await w.call('/sample/orders', { token: await w.token(keyA, { exp: iat - POLICY.jwt.clockSkewSeconds + 5 }) })
    assert.equal(within.status, 200)
  })

  it('should refuse a token not valid yet (nbf beyond the skew) and one without exp', async () => {
    const w = world([keyA])
    const nbf = Math.floor(w.now / 1000) + POLICY.jwt.clockSkewSeconds + 10
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(keyA, { nbf }) }), 'token invalid')
    const noExp = await new SignJWT({ sub: 'user-1' })
      .setProtectedHeader({ alg: 'RS256', kid: keyA.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(keyA.privateKey)
    await assertUnauthorized(await w.call('/sample/orders', { token: noExp }), 'token invalid')
    assert.equal(w.authzCalls.length, 0)
  })

  it('should refuse a tampered token, a wrong audience and a wrong issuer', async () => {
    const w = world([keyA])
    const [h, p, s] = (await w.token(keyA)).split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
    const tampered = [h, b64url(JSON.stringify({ ...claims, roles: ['admin'] })), s].join('.')
    await assertUnauthorized(await w.call('/sample/orders', { token: tampered }), 'signature invalid')
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(keyA, { aud: 'api://elsewhere' }) }), 'audience not allowed')
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(keyA, { iss: `${ISSUER}/` }) }), 'issuer not allowed')
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(keyA, { iss: 'http://evil.test/api' }) }), 'issuer not allowed')
    // Another accepted audience passes.
    assert.equal((await w.call('/sample/orders', { token: await w.token(keyA, { aud: 'api://other' }) })).status, 200)
    assert.equal(w.authzCalls.length, 1)
  })

  it('should refuse alg none, HS256 keyed with the RSA public key, and ES256 (not an APIM algorithm)', async () => {
    const keyE = await signingKey('key-e', 'ES256')
    const w = world([keyA, keyE])
    const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', exp: Math.floor(w.now / 1000) + 600 }
    const none = `${b64url(JSON.stringify({ alg: 'none', kid: keyA.kid }))}.${b64url(JSON.stringify(payload))}.`
    await assertUnauthorized(await w.call('/sample/orders', { token: none }), 'token invalid')

    // The classic confusion attack: HMAC with the published RSA key as the secret.
    const spki = await exportSPKI((await generateKeyPair('RS256', { extractable: true })).publicKey)
    for (const secret of [new TextEncoder().encode(spki), new TextEncoder().encode(JSON.stringify(keyA.publicJwk))]) {
      const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: keyA.kid }).sign(secret)
      await assertUnauthorized(await w.call('/sample/orders', { token: hs }), 'token invalid')
    }

    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(keyE) }), 'token invalid')
    assert.equal(w.authzCalls.length, 0)
  })

  it('should accept PS256 and RS512, the other APIM algorithms', async () => {
    const keyP = await signingKey('key-p', 'PS256')
    const keyR = await signingKey('key-r', 'RS512')
    const w = world([keyP, keyR])
    assert.equal((await w.call('/sample/orders', { token: await w.token(keyP) })).status, 200)
    assert.equal((await w.call('/sample/orders', { token: await w.token(keyR) })).status, 200)
  })

  it('should refuse every token when the discovery issuer differs from the configured one', async () => {
    const w = world([keyA], { discoveryIssuer: 'https://elsewhere.test/api' })
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(keyA) }), 'issuer not allowed')
    assert.match(w.logs.join('\n'), /discovery issuer https:\/\/elsewhere\.test\/api differs/)
  })
})

describe('dev gateway: the authorizer decides', () => {
  it('should answer 403 insufficient_scope with the authorizer reason', async () => {
    const w = world([keyA])
    w.answer(() => Response.json({ allow: false, status: 403, reason: 'no role permits this method and path', sub: 'user-1', roles: ['reader'], scopes: [], ttl: 30 }))
    const res = await w.call('/sample/orders/7', { method: 'DELETE', token: await w.token(keyA) })
    assert.equal(res.status, 403)
    assert.equal(res.headers.get('www-authenticate'), 'Bearer error="insufficient_scope", error_description="no role permits this method and path"')
    assert.deepEqual(await res.json(), {
      type: 'https://passkey-edge.dev/problems/forbidden',
      title: 'Forbidden',
      status: 403,
      detail: 'no role permits this method and path',
      code: 'forbidden',
    })
  })

  it('should answer 401 invalid_token when the authorizer says 401 (e.g. a revoked session)', async () => {
    const w = world([keyA])
    w.answer(() => Response.json({ allow: false, status: 401, reason: 'session "revoked"', roles: [], scopes: [], ttl: 0 }))
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(keyA) }), "session 'revoked'")
  })

  it('CONTRACT v2 Step-up (RFC 9470 §3): a 401 carries the decision\'s wwwAuthenticate, the problem body as before', async () => {
    const w = world([keyA])
    const challenge = 'Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age=300'
    w.answer(() =>
      Response.json({ allow: false, status: 401, reason: 'role fresh permits this with a sign-in within 300 s', error: 'insufficient_user_authentication', max_age: 300, wwwAuthenticate: challenge, sub: 'user-1', roles: ['fresh'], scopes: [], ttl: 30 }),
    )
    const token = await w.token(keyA)
    const res = await w.call('/sample/orders/7', { token })
    assert.equal(res.status, 401)
    assert.equal(res.headers.get('www-authenticate'), challenged(challenge))
    assert.deepEqual(await res.json(), {
      type: 'https://passkey-edge.dev/problems/unauthorized',
      title: 'Unauthorized',
      status: 401,
      detail: 'role fresh permits this with a sign-in within 300 s',
      code: 'unauthorized',
    })
    // Cached for its ttl like any decision, and answered the same from the cache.
    const again = await w.call('/sample/orders/7', { token })
    assert.equal(again.headers.get('www-authenticate'), challenged(challenge))
    assert.equal(w.authzCalls.length, 1)
  })

  it('CONTRACT v2 DPoP: Authorization: DPoP passes validate-jwt; the proof (as sent) and the URL called go to the authorizer; ttl 0 is never cached', async () => {
    const w = world([keyA])
    w.answer(() => Response.json({ allow: true, status: 200, reason: 'granted by role reader', sub: 'user-1', roles: ['reader'], scopes: [], ttl: 0 }))
    const token = await w.token(keyA, { cnf: { jkt: 'x'.repeat(43) } })
    const call = () => w.call('/sample/orders/7?q=1', { headers: { authorization: `DPoP ${token}`, dpop: 'proof.jws.value' } })
    assert.equal((await call()).status, 200)
    assert.equal((await call()).status, 200)
    assert.equal(w.authzCalls.length, 2, 'a proof per call: nothing cached')
    const sent = w.authzCalls[0]!
    assert.equal(sent.headers.get('authorization'), `DPoP ${token}`)
    // The gateway's public URL (not the backend's), without the query.
    assert.deepEqual([sent.body.dpop, sent.body.url], ['proof.jws.value', 'http://localhost:7072/sample/orders/7'])
    // Another scheme is no token at all (validate-jwt's token-value), as before.
    const basic = await w.call('/sample/orders/7', { headers: { authorization: `Basic ${token}` } })
    assert.equal(basic.status, 401)
    assert.equal(basic.headers.get('www-authenticate'), `Bearer resource_metadata="${METADATA}"`)
  })

  it('RFC 9449 §7.1: an allow cached for a token sent as Bearer does not answer the same token sent as DPoP (the scheme is part of the cache key)', async () => {
    const w = world([keyA])
    w.answer(() => Response.json({ allow: true, status: 200, reason: 'granted by role reader', sub: 'user-1', roles: ['reader'], scopes: [], ttl: 60 }))
    const token = await w.token(keyA)
    assert.equal((await w.call('/sample/orders/7', { headers: { authorization: `Bearer ${token}` } })).status, 200)
    assert.equal((await w.call('/sample/orders/7', { headers: { authorization: `Bearer ${token}` } })).status, 200)
    assert.equal(w.authzCalls.length, 1, 'the second Bearer call was answered from the cache')
    w.answer(() => Response.json({ allow: false, status: 401, reason: 'DPoP: not bound', wwwAuthenticate: 'DPoP error="invalid_dpop_proof"', roles: [], scopes: [], ttl: 0 }))
    const asDpop = await w.call('/sample/orders/7', { headers: { authorization: `DPoP ${token}`, dpop: 'p' } })
    assert.equal(w.authzCalls.length, 2, 'the authorizer was asked about the DPoP presentation')
    assert.equal(asDpop.status, 401)
  })

  it("CONTRACT v2 DPoP: the authorizer's DPoP challenge and nonce reach the client (WWW-Authenticate, DPoP-Nonce)", async () => {
    const w = world([keyA])
    const challenge = 'DPoP error="use_dpop_nonce", error_description="This server requires a DPoP nonce", algs="ES256 PS256 RS256 EdDSA"'
    w.answer(() => Response.json({ allow: false, status: 401, reason: 'DPoP: nonce', wwwAuthenticate: challenge, dpopNonce: 'n1.abc_-', sub: 'user-1', roles: [], scopes: [], ttl: 0 }))
    const token = await w.token(keyA)
    const res = await w.call('/sample/orders/7', { headers: { authorization: `DPoP ${token}`, dpop: 'p' } })
    assert.equal(res.status, 401)
    assert.equal(res.headers.get('www-authenticate'), `${challenge}, resource_metadata="${METADATA}"`, "the authorizer's DPoP challenge, with RFC 9728's resource_metadata")
    assert.equal(res.headers.get('dpop-nonce'), 'n1.abc_-')
    w.answer(() => Response.json({ allow: false, status: 401, reason: 'DPoP: bad', wwwAuthenticate: 'DPoP error="invalid_dpop_proof"', roles: [], scopes: [], ttl: 0 }))
    const plain = await w.call('/sample/orders/8', { headers: { authorization: `DPoP ${token}` } })
    assert.equal(plain.headers.get('www-authenticate'), `DPoP error="invalid_dpop_proof", resource_metadata="${METADATA}"`)
    assert.equal(plain.headers.get('dpop-nonce'), null)
  })

  it('a 401 challenge is made printable ASCII (no header injection); a missing or oversized one falls back to invalid_token', async () => {
    const w = world([keyA])
    let challenge: unknown = 'Bearer error="invalid_token"\r\nSet-Cookie: x=1'
    w.answer(() => Response.json({ allow: false, status: 401, reason: 'session revoked', wwwAuthenticate: challenge, roles: [], scopes: [], ttl: 0 }))
    const token = await w.token(keyA)
    assert.equal((await w.call('/sample/orders', { token })).headers.get('www-authenticate'), challenged(`Bearer error="invalid_token"''Set-Cookie: x=1`))
    for (challenge of ['', 'B'.repeat(POLICY.authorizer.challengeMaxLength + 1), 42])
      await assertUnauthorized(await w.call('/sample/orders', { token }), 'session revoked')
  })

  it('should fail closed (503) when the authorizer is down, errs, times out or answers nonsense', async () => {
    const cases: [string, (w: ReturnType<typeof world>) => void][] = [
      ['down', (w) => w.authzDown()],
      ['500', (w) => w.answer(() => new Response('boom', { status: 500 }))],
      ['503 storage', (w) => w.answer(() => Response.json({ code: 'storage_unavailable' }, { status: 503 }))],
      ['400', (w) => w.answer(() => Response.json({ code: 'invalid_request' }, { status: 400 }))],
      ['timeout', (w) => w.authzDown(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))],
      ['not JSON', (w) => w.answer(() => new Response('<html>', { status: 200 }))],
      ['allow false with 200', (w) => w.answer(() => Response.json({ allow: false, status: 200, roles: [], ttl: 30 }))],
      ['no status', (w) => w.answer(() => Response.json({ allow: true, roles: [], ttl: 30 }))],
    ]
    for (const [name, setup] of cases) {
      const w = world([keyA])
      setup(w)
      const res = await w.call('/sample/orders', { token: await w.token(keyA) })
      assert.equal(res.status, 503, name)
      assert.equal(res.headers.get('www-authenticate'), null, name)
      assert.equal(((await res.json()) as Record<string, unknown>).code, 'authorizer_unavailable', name)
      assert.equal(w.decisions.size, 0, `${name}: nothing cached`)
    }
  })

  it('should pass a timeout signal to the authorizer call', async () => {
    const w = world([keyA])
    let signal: AbortSignal | undefined
    const { app } = createGateway({
      issuer: ISSUER,
      discoveryUrl: DISCOVERY,
      audiences: [AUDIENCE],
      authzUrl: AUTHZ,
      backendUrl: BACKEND,
      now: () => w.now,
      log: () => {},
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = String(input instanceof Request ? input.url : input)
        if (url === AUTHZ) {
          signal = init?.signal ?? undefined
          throw new DOMException('aborted', 'TimeoutError')
        }
        if (url.includes('openid-configuration')) return Response.json({ issuer: ISSUER, jwks_uri: 'http://issuer.test/jwks' })
        return Response.json({ keys: [keyA.publicJwk] })
      }) as typeof fetch,
    })
    const res = await app.request('http://localhost/sample/orders', { headers: { authorization: `Bearer ${await w.token(keyA)}` } })
    assert.equal(res.status, 503)
    assert.ok(signal instanceof AbortSignal)
  })
})

describe('dev gateway: decision cache', () => {
  it('should ask once for two identical calls, again for another path, and again after ttl', async () => {
    const w = world([keyA])
    const token = await w.token(keyA)
    assert.equal((await w.call('/sample/orders', { token })).status, 200)
    assert.equal((await w.call('/sample/orders', { token })).status, 200)
    assert.equal(w.authzCalls.length, 1)
    await w.call('/sample/orders/1', { token })
    await w.call('/sample/orders', { token, method: 'POST', body: '{}' })
    assert.equal(w.authzCalls.length, 3)
    w.advance(29_000)
    await w.call('/sample/orders', { token })
    assert.equal(w.authzCalls.length, 3, 'still cached at 29 s')
    w.advance(1_000)
    await w.call('/sample/orders', { token })
    assert.equal(w.authzCalls.length, 4, 'asked again at 30 s')
  })

  it('should cache denials for their ttl and never cache ttl 0', async () => {
    const w = world([keyA])
    const token = await w.token(keyA)
    w.answer(() => Response.json({ allow: false, status: 403, reason: 'no', roles: [], scopes: [], ttl: 10 }))
    assert.equal((await w.call('/sample/orders', { token })).status, 403)
    w.answer(() => Response.json({ allow: true, status: 200, reason: 'ok', sub: 'user-1', roles: ['reader'], scopes: [], ttl: 0 }))
    assert.equal((await w.call('/sample/orders', { token })).status, 403, 'the cached denial')
    w.advance(10_000)
    assert.equal((await w.call('/sample/orders', { token })).status, 200)
    assert.equal((await w.call('/sample/orders', { token })).status, 200)
    assert.equal(w.authzCalls.length, 3)
  })

  it('should check the token before the cache: an expired token gets 401 despite a cached allow', async () => {
    const w = world([keyA])
    const token = await w.token(keyA, { exp: Math.floor(w.now / 1000) + 60 })
    w.answer(() => Response.json({ allow: true, status: 200, reason: 'ok', sub: 'user-1', roles: [], scopes: [], ttl: 3600 }))
    assert.equal((await w.call('/sample/orders', { token })).status, 200)
    w.advance((60 + POLICY.jwt.clockSkewSeconds + 1) * 1000)
    await assertUnauthorized(await w.call('/sample/orders', { token }), 'token expired')
    assert.equal(w.authzCalls.length, 1)
  })
})

describe('dev gateway: signing keys like APIM openid-config', () => {
  it('should re-fetch on an unknown kid at most once per 5 minutes', async () => {
    const w = world([keyA])
    const unknown = await signingKey('key-unknown')
    assert.equal((await w.call('/sample/orders', { token: await w.token(keyA) })).status, 200)
    assert.equal(w.discoveryPulls, 1)
    w.advance(1 * MIN)
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(unknown) }), 'signing key not found')
    assert.equal(w.discoveryPulls, 1, 'pulled less than 5 minutes ago')
    w.advance(4 * MIN)
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(unknown) }), 'signing key not found')
    assert.equal(w.discoveryPulls, 2, '5 minutes after the last pull')
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(unknown) }), 'signing key not found')
    w.advance(4 * MIN)
    await assertUnauthorized(await w.call('/sample/orders', { token: await w.token(unknown) }), 'signing key not found')
    assert.equal(w.discoveryPulls, 2)
    // A key that appears meanwhile is found by the next allowed re-fetch.
    w.publish(unknown)
    w.advance(1 * MIN)
    assert.equal((await w.call('/sample/orders', { token: await w.token(unknown) })).status, 200)
    assert.equal(w.discoveryPulls, 3)
  })

  it('should pick up a key published ahead within an hour, without an unknown-kid fetch', async () => {
    const w = world([keyA])
    assert.equal((await w.call('/sample/orders', { token: await w.token(keyA) })).status, 200)
    assert.equal(w.discoveryPulls, 1)
    w.publish(keyB) // the service publishes its next key KEY_PUBLISH_AHEAD before it signs with it
    w.advance(30 * MIN)
    assert.equal((await w.call('/sample/orders', { token: await w.token(keyA) })).status, 200)
    assert.equal(w.discoveryPulls, 1, 'no pull within the hour')
    w.advance(30 * MIN)
    assert.equal((await w.call('/sample/orders', { token: await w.token(keyA) })).status, 200)
    assert.equal(w.discoveryPulls, 2, 'hourly refresh')
    assert.equal((await w.call('/sample/orders', { token: await w.token(keyB) })).status, 200)
    assert.equal(w.discoveryPulls, 2, 'key-b known from the hourly refresh')
  })

  it('should keep the previous keys when a pull fails, and retry no sooner than 5 minutes', async () => {
    let up = true
    let pulls = 0
    const w = world([keyA])
    const { app } = createGateway({
      issuer: ISSUER,
      discoveryUrl: DISCOVERY,
      audiences: [AUDIENCE],
      authzUrl: AUTHZ,
      backendUrl: BACKEND,
      now: () => w.now,
      log: () => {},
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = String(input instanceof Request ? input.url : input)
        if (url === DISCOVERY) {
          pulls++
          if (!up) throw new TypeError('fetch failed')
          return Response.json({ issuer: ISSUER, jwks_uri: 'http://issuer.test/jwks' })
        }
        if (url === 'http://issuer.test/jwks') return Response.json({ keys: [keyA.publicJwk] })
        if (url === AUTHZ) return Response.json({ allow: true, status: 200, reason: 'ok', roles: [], scopes: [], ttl: 0 })
        return createEchoApp().fetch(new Request(input, init))
      }) as typeof fetch,
    })
    const call = async () =>
      (await app.request('http://localhost/sample/orders', { headers: { authorization: `Bearer ${await w.token(keyA)}` } })).status
    assert.equal(await call(), 200)
    up = false
    w.advance(60 * MIN)
    assert.equal(await call(), 200, 'stale keys still serve')
    assert.equal(pulls, 2)
    w.advance(1 * MIN)
    assert.equal(await call(), 200)
    assert.equal(pulls, 2, 'no retry within 5 minutes of the failure')
    w.advance(4 * MIN)
    up = true
    assert.equal(await call(), 200)
    assert.equal(pulls, 3)
  })
})

describe('startGateway / startEchoBackend', () => {
  it('should serve over HTTP on loopback, in front of a real echo backend', async () => {
    const echo = await startEchoBackend({ port: 0 })
    const w = world([keyA])
    const token = await w.token(keyA)
    const apps = new Map<string, Hono>()
    const issuer = new Hono()
    issuer.get('/api/.well-known/openid-configuration', (c) => c.json({ issuer: ISSUER, jwks_uri: `${ISSUER}/.well-known/jwks.json` }))
    issuer.get('/api/.well-known/jwks.json', (c) => c.json({ keys: [keyA.publicJwk] }))
    const authz = new Hono()
    authz.post('/api/authz/check', (c) => c.json({ allow: true, status: 200, reason: 'ok', sub: 'user-9', roles: ['a', 'b'], scopes: [], ttl: 5 }))
    apps.set('http://issuer.test', issuer).set('http://authz.test', authz)
    const gw = await startGateway({
      port: 0,
      issuer: ISSUER,
      discoveryUrl: DISCOVERY,
      audiences: [AUDIENCE],
      authzUrl: AUTHZ,
      backendUrl: echo.url,
      now: () => w.now,
      log: () => {},
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        const req = new Request(input, init)
        const app = apps.get(new URL(req.url).origin)
        return app ? app.fetch(req) : globalThis.fetch(req)
      }) as typeof fetch,
    })
    try {
      assert.match(gw.url, /^http:\/\/localhost:\d+$/)
      const res = await fetch(`${gw.url}/${SAMPLE_API.suffix}/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-user-id': 'mallory' },
        body: JSON.stringify({ item: 1 }),
      })
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), {
        method: 'POST',
        path: '/orders',
        query: {},
        userId: 'user-9',
        roles: 'a,b',
        actorId: null,
        receivedAuthorization: true,
      })
      const denied = await fetch(`http://127.0.0.1:${gw.port}/sample/orders`)
      assert.equal(denied.status, 401)
      assert.equal(denied.headers.get('www-authenticate'), challenged('Bearer', `http://127.0.0.1:${gw.port}/.well-known/oauth-protected-resource/sample`))
    } finally {
      await gw.close()
      await echo.close()
    }
  })

  it('should refuse a non-loopback hostname', async () => {
    await assert.rejects(
      startGateway({ port: 0, hostname: '0.0.0.0', issuer: ISSUER, discoveryUrl: DISCOVERY, audiences: [AUDIENCE], authzUrl: AUTHZ, backendUrl: BACKEND }),
      TypeError,
    )
    await assert.rejects(startEchoBackend({ port: 0, hostname: '0.0.0.0' }), TypeError)
  })

  it('should refuse a configuration without audience or with a relative URL', () => {
    assert.throws(() => createGateway({ issuer: ISSUER, discoveryUrl: DISCOVERY, audiences: [], authzUrl: AUTHZ, backendUrl: BACKEND }), TypeError)
    assert.throws(() => createGateway({ issuer: ISSUER, discoveryUrl: '/x', audiences: [AUDIENCE], authzUrl: AUTHZ, backendUrl: BACKEND }), TypeError)
  })
})

describe('dev gateway: protected resource metadata (RFC 9728, CONTRACT v2 "AI clients and MCP servers")', () => {
  it('§3, §3.1: GET at the root form and under the API path → resource, authorization_servers, bearer_methods_supported, scopes_supported; no token needed', async () => {
    const w = world([keyA])
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/sample']) {
      const res = await w.call(path)
      assert.equal(res.status, 200, path)
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
      assert.deepEqual(await res.json(), {
        resource: 'http://localhost:7072/sample',
        authorization_servers: [ISSUER],
        bearer_methods_supported: ['header'],
        scopes_supported: [],
        dpop_signing_alg_values_supported: ['ES256', 'PS256', 'RS256', 'EdDSA'],
      })
    }
    assert.equal(w.authzCalls.length, 0)
    // Another path under the well-known prefix is no metadata of ours (APIM: no such API → 404).
    assert.equal((await w.call('/.well-known/oauth-protected-resource/other')).status, 404)
    assert.equal((await w.call('/.well-known/oauth-protected-resource', { method: 'POST' })).status, 404)
  })

  it('the configured resource and scopes win; the 401 names the §3.1 URL of that resource', async () => {
    const { app } = createGateway({
      issuer: ISSUER,
      discoveryUrl: DISCOVERY,
      audiences: [AUDIENCE],
      authzUrl: AUTHZ,
      backendUrl: BACKEND,
      resource: 'https://gw.example/sample',
      resourceScopes: ['orders.read'],
      fetch: (async () => Response.json({})) as typeof fetch,
      log: () => {},
    })
    const meta = (await (await app.request('http://localhost/.well-known/oauth-protected-resource/sample')).json()) as Record<string, unknown>
    assert.equal(meta.resource, 'https://gw.example/sample')
    assert.deepEqual(meta.scopes_supported, ['orders.read'])
    const denied = await app.request('http://localhost/sample/orders')
    assert.equal(denied.status, 401)
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/sample"')
  })

  it('§5.1: every 401 carries resource_metadata (no token, bad token, authorizer 401, step-up); 403 and 503 do not', async () => {
    const w = world([keyA])
    const token = await w.token(keyA)
    const has = (res: Response) => res.headers.get('www-authenticate')?.endsWith(`resource_metadata="${METADATA}"`)
    assert.ok(has(await w.call('/sample/orders')))
    assert.ok(has(await w.call('/sample/orders', { token: token + 'x' })))
    w.answer(() => Response.json({ allow: false, status: 401, reason: 'revoked', roles: [], scopes: [], ttl: 0 }))
    assert.ok(has(await w.call('/sample/orders', { token })))
    w.answer(() => Response.json({ allow: false, status: 403, reason: 'no role', roles: [], scopes: [], ttl: 0 }))
    const forbidden = await w.call('/sample/orders/1', { token })
    assert.equal(forbidden.status, 403)
    assert.ok(!forbidden.headers.get('www-authenticate')?.includes('resource_metadata'))
  })
})
