/**
 * The dev gateway: the local stand-in for Azure API Management in front of the sample API.
 *
 * It applies apim/policy.xml, step for step, with every name and number taken from `POLICY`
 * (apim/policy.ts), which test/gateway/policy.test.ts checks against the XML:
 *   0. API and operation matching (APIM's built-in steps): `/{suffix}/...`, else 404;
 *   1. deletes the client's X-User-Id / X-User-Roles / X-Actor-Id;
 *   2. validate-jwt: Bearer or DPoP scheme (the authorizer checks the DPoP proof), RS256/PS256/RS512 only, signature against the keys of the
 *      discovery document's jwks_uri (pulled every hour, again on an unknown kid at most once per
 *      5 minutes), iss exactly, aud in the list, exp required, exp/nbf with clock skew; a failure
 *      answers 401 like the policy's on-error (no authorizer call);
 *   3. decision cache lookup (SHA-256 of token, method, API id, operation path);
 *   4. on a miss, POST the authorizer (timeout 5 s) with the same headers and body as the policy
 *      (the client's DPoP proof and the URL it called at this gateway included);
 *      no answer / not 200 / not a decision → 503; stores the decision for its ttl;
 *   5. 401 (with the decision's WWW-Authenticate) / 403 as the authorizer says, else forwards
 *      to the backend with X-User-Id, X-User-Roles and, for an agent's delegated token,
 *      X-Actor-Id (and the caller's Authorization, as APIM forwards it by default).
 * Before 0., like the policy fragment apim/fragment-protected-resource.xml, it answers GET
 * /.well-known/oauth-protected-resource (and …/<suffix>, RFC 9728 §3.1) with the API's protected
 * resource metadata; every 401 carries `resource_metadata` (`withResourceMetadata`).
 * Bound to loopback only.
 */
import { getRequestListener } from '@hono/node-server'
import { isEntryPoint } from '../runtime/node/entry.js'
import { assertLoopback, listenLoopback, stop } from '../runtime/node/listen.js'
import { Hono } from 'hono'
import { cors } from 'hono/cors'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import {
  POLICY,
  decisionCacheKey,
  calledUrl,
  jwtErrorDescription,
  operationPath,
  presentedToken,
  problemBody,
  protectedResourceMetadata,
  readDecision,
  resourceMetadataUrl,
  schemeOf,
  withResourceMetadata,
  tokenOf,
  wwwAuthenticate,
  type Failure,
  type JwtErrorReason,
} from '../apim/policy.js'
import { loadConfig, type Config } from '../shared/config.js'
import { internalErrorResponse } from '../shared/errors.js'
import { SAMPLE_API, startEchoBackend, type GatewayApi, type GatewayOperation } from './echo.js'

export { POLICY } from '../apim/policy.js'

export interface GatewayOptions {
  port: number
  hostname?: string
  /** Expected `iss`, exactly (the `passkey-issuer` named value). */
  issuer: string
  /** `{ISSUER}/.well-known/openid-configuration` (the `passkey-openid-config-url` named value). */
  discoveryUrl: string
  /** Accepted `aud` values (one `<audience>` each in the policy). */
  audiences: string[]
  /** POST /api/authz/check (the `passkey-authz-url` named value). */
  authzUrl: string
  /** Sent as `x-functions-key` when set (`passkey-authz-key`); the local authorizer needs none. */
  authzKey?: string
  /** The API's web service URL: operation paths are appended to it. */
  backendUrl: string
  /** The published API (id, URL suffix, operations). Default: the sample API (`/sample`). */
  api?: GatewayApi
  /**
   * The API's resource identifier (RFC 9728 `resource`, the `passkey-resource` named value): the
   * URL clients call it by. Default: the origin the request came to + `/<suffix>`.
   */
  resource?: string
  /** `scopes_supported` of its metadata (`passkey-resource-scopes`). Default: none. */
  resourceScopes?: readonly string[]
  /** validate-jwt `clock-skew`. Default: the policy's. */
  clockSkewSeconds?: number
  /** How long discovery + JWKS are cached. Default 3600, like APIM. */
  jwksRefreshSeconds?: number
  /** Every outbound call (discovery, JWKS, authorizer, backend) goes through it. */
  fetch?: typeof fetch
  /** Milliseconds since the epoch: token times, key refresh and the decision cache follow it. */
  now?: () => number
  /** One line per notable event (key pulls, authorizer failures). Default: console.error. */
  log?: (line: string) => void
  /**
   * Browser origins allowed to call the API cross-origin (the demo page): APIM's `cors` policy.
   * Default: none (no CORS headers).
   */
  corsOrigins?: readonly string[]
}

export interface Gateway {
  /** `http://localhost:<port>` */
  url: string
  port: number
  close(): Promise<void>
}

/** A validate-jwt outcome: the token, or the `context.LastError.Reason` APIM would report. */
type JwtResult = { ok: true; token: string } | { ok: false; reason: JwtErrorReason }

interface KeySnapshot {
  issuer: string
  jwks: ReturnType<typeof createLocalJWKSet>
  at: number
}

/**
 * APIM's `openid-config` cache: discovery document → `jwks_uri` → keys, pulled when missing or
 * older than `refreshMs`, and again for an unknown `kid` or after a failed pull, but at most
 * once per `refetchMs` (Microsoft Learn, validate-jwt, element `openid-config`).
 */
export class OpenIdKeys {
  private current: KeySnapshot | undefined
  private lastAttempt = -Infinity
  private lastFailure = -Infinity
  private inflight: Promise<void> | undefined
  /** Discovery and JWKS pulls made, successful or not (tests watch it). */
  pulls = 0

  constructor(
    private readonly deps: {
      discoveryUrl: string
      fetch: typeof fetch
      now: () => number
      refreshMs: number
      refetchMs: number
      log: (line: string) => void
    },
  ) {}

  /** Keys for one validation: pulls first when there are none or they are older than refreshMs. */
  async snapshot(): Promise<KeySnapshot | undefined> {
    const now = this.deps.now()
    const stale = !this.current || now - this.current.at >= this.deps.refreshMs
    if (stale && now - this.lastFailure >= this.deps.refetchMs) await this.pull()
    return this.current
  }

  /** A token named a key we do not have: pull again unless we pulled in the last refetchMs. */
  async unknownKid(): Promise<KeySnapshot | undefined> {
    if (this.deps.now() - this.lastAttempt < this.deps.refetchMs) return undefined
    await this.pull()
    return this.current
  }

  private pull(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined
    })
    return this.inflight
  }

  private async load(): Promise<void> {
    const at = this.deps.now()
    this.lastAttempt = at
    this.pulls++
    try {
      const meta = await this.getJson(this.deps.discoveryUrl)
      const issuer = meta.issuer
      const jwksUri = meta.jwks_uri
      if (typeof issuer !== 'string' || typeof jwksUri !== 'string')
        throw new Error('discovery document without issuer or jwks_uri')
      const jwks = await this.getJson(jwksUri)
      if (!Array.isArray(jwks.keys)) throw new Error('JWKS without keys')
      this.current = { issuer, jwks: createLocalJWKSet(jwks as unknown as JSONWebKeySet), at }
    } catch (err) {
      this.lastFailure = at
      const kept = this.current ? 'the previous keys' : 'no keys'
      this.deps.log(`openid-config pull failed (${(err as Error).message}); keeping ${kept}`)
    }
  }

  private async getJson(url: string): Promise<Record<string, unknown>> {
    const res = await this.deps.fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) })
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`)
    const body = (await res.json()) as unknown
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error(`${url} is not a JSON object`)
    return body as Record<string, unknown>
  }
}

/** A decision cache like APIM's `cache-lookup-value` / `cache-store-value`: string values, TTL. */
export class DecisionCache {
  private readonly entries = new Map<string, { value: string; expires: number }>()
  constructor(private readonly maxEntries = 10_000) {}

  get(key: string, now: number): string | undefined {
    const e = this.entries.get(key)
    if (!e) return undefined
    if (now >= e.expires) {
      this.entries.delete(key)
      return undefined
    }
    return e.value
  }

  set(key: string, value: string, durationSeconds: number, now: number): void {
    if (this.entries.size >= this.maxEntries) {
      for (const [k, e] of this.entries) if (now >= e.expires) this.entries.delete(k)
      // Still full: drop the oldest insertion (the APIM cache is volatile too).
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
    }
    this.entries.set(key, { value, expires: now + durationSeconds * 1000 })
  }

  get size(): number {
    return this.entries.size
  }
}

/** jose error → the validate-jwt Reason APIM reports for the same failure. */
function jwtReason(err: unknown): JwtErrorReason {
  const e = err as { code?: string; claim?: string }
  switch (e?.code) {
    case 'ERR_JWT_EXPIRED':
      return 'TokenExpired'
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'TokenSignatureInvalid'
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'TokenSignatureKeyNotFound'
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'aud') return 'TokenAudienceNotAllowed'
      if (e.claim === 'iss') return 'TokenIssuerNotAllowed'
      return 'JwtInvalid'
    default:
      return 'JwtInvalid'
  }
}

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]

function compileTemplate(template: string): (path: string) => boolean {
  const parts = template.split('/').filter(Boolean)
  return (path) => {
    const segs = path.split('/').filter(Boolean)
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!
      if (p === '*' && i === parts.length - 1) return segs.length > i
      if (i >= segs.length) return false
      if (!(p.startsWith('{') && p.endsWith('}')) && p !== segs[i]) return false
    }
    return segs.length === parts.length
  }
}

/**
 * A failure as the policy answers it; `challenge` replaces the failure's own WWW-Authenticate, and
 * a 401's gets `resource_metadata` (`metadataUrl`).
 */
function failureResponse(failure: Failure, detail: string, metadataUrl: string, challenge = wwwAuthenticate(failure, detail)): Response {
  const headers = new Headers({ 'content-type': POLICY.problemContentType })
  if (challenge) headers.set('www-authenticate', failure.status === 401 ? withResourceMetadata(challenge, metadataUrl) : challenge)
  return new Response(JSON.stringify(problemBody(failure, detail)), { status: failure.status, headers })
}

/**
 * The gateway as a Hono app, without a server: `app.fetch(request)` runs the whole pipeline.
 * `keys` and `decisions` are exposed for tests and diagnostics.
 *
 * @example
 * const { app } = createGateway({ issuer, discoveryUrl, audiences, authzUrl, backendUrl })
 * const res = await app.request('/sample/orders', { headers: { authorization: `Bearer ${token}` } })
 */
export function createGateway(opts: Omit<GatewayOptions, 'port' | 'hostname'>) {
  const {
    issuer: expectedIssuer,
    discoveryUrl,
    audiences,
    authzUrl,
    authzKey,
    backendUrl,
    api = SAMPLE_API,
    resource: configuredResource,
    resourceScopes = [],
    clockSkewSeconds = POLICY.jwt.clockSkewSeconds,
    jwksRefreshSeconds = POLICY.jwt.configRefreshSeconds,
    fetch: fetchFn = globalThis.fetch,
    now = Date.now,
    log = (line: string) => console.error(`[gateway] ${line}`),
    corsOrigins = [],
  } = opts
  if (!expectedIssuer) throw new TypeError('createGateway: issuer is required')
  if (!audiences?.length) throw new TypeError('createGateway: at least one audience is required')
  for (const [name, value] of Object.entries({ discoveryUrl, authzUrl, backendUrl })) {
    try {
      new URL(value)
    } catch {
      throw new TypeError(`createGateway: ${name} must be an absolute URL, got ${JSON.stringify(value)}`)
    }
  }
  const operations = api.operations?.map((op) => ({ op, matches: compileTemplate(op.urlTemplate) }))
  const keys = new OpenIdKeys({
    discoveryUrl,
    fetch: fetchFn,
    now,
    refreshMs: jwksRefreshSeconds * 1000,
    refetchMs: POLICY.jwt.unknownKidRefetchSeconds * 1000,
    log,
  })
  const decisions = new DecisionCache()
  let warnedIssuer = false

  /** validate-jwt, as configured in the policy. */
  async function validateJwt(authorization: string | null): Promise<JwtResult> {
    // token-value: the credentials of a Bearer or DPoP Authorization; anything else is no token at all.
    const token = presentedToken(authorization)
    if (!token) return { ok: false, reason: 'TokenNotPresent' }
    let snap = await keys.snapshot()
    if (!snap) return { ok: false, reason: 'TokenSignatureKeyNotFound' }
    for (let attempt = 0; ; attempt++) {
      try {
        await jwtVerify(token, snap.jwks, {
          algorithms: [...POLICY.jwt.algorithms],
          issuer: expectedIssuer,
          audience: audiences,
          clockTolerance: clockSkewSeconds,
          currentDate: new Date(now()),
          requiredClaims: POLICY.jwt.requireExpirationTime ? ['exp'] : [],
        })
        break
      } catch (err) {
        const reason = jwtReason(err)
        if (reason === 'TokenSignatureKeyNotFound' && attempt === 0) {
          const fresh = await keys.unknownKid()
          if (fresh) {
            snap = fresh
            continue
          }
        }
        return { ok: false, reason }
      }
    }
    // The issuer comes from the discovery document too: iss must equal it exactly.
    if (snap.issuer !== expectedIssuer) {
      if (!warnedIssuer) log(`discovery issuer ${snap.issuer} differs from the configured issuer ${expectedIssuer}`)
      warnedIssuer = true
      return { ok: false, reason: 'TokenIssuerNotAllowed' }
    }
    return { ok: true, token }
  }

  /** The policy's send-request: the answer as compact JSON, or '' when there is none. */
  async function askAuthorizer(
    authorization: string,
    body: { method: string; path: string; apiId: string; operationId?: string; dpop: string; url: string },
  ): Promise<string> {
    const { keyHeader, forwardHeader, contentType, method, timeoutSeconds, okStatus } = POLICY.authorizer
    const headers = new Headers({ [forwardHeader]: authorization, 'content-type': contentType })
    if (authzKey) headers.set(keyHeader, authzKey)
    try {
      const res = await fetchFn(authzUrl, {
        method,
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutSeconds * 1000),
      })
      if (res.status !== okStatus) {
        log(`authorizer answered ${res.status}: failing closed (503)`)
        await res.body?.cancel()
        return ''
      }
      const parsed = (await res.json()) as unknown
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return ''
      return JSON.stringify(parsed)
    } catch (err) {
      log(`authorizer unreachable (${(err as Error).message}): failing closed (503)`)
      return ''
    }
  }

  async function forward(req: Request, opPath: string, headers: Headers): Promise<Response> {
    const incoming = new URL(req.url)
    const target = new URL(backendUrl)
    target.pathname = target.pathname.replace(/\/+$/, '') + opPath
    target.search = incoming.search
    for (const h of HOP_BY_HOP) headers.delete(h)
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
    let res: Response
    try {
      res = await fetchFn(target, {
        method: req.method,
        headers,
        body: hasBody ? await req.arrayBuffer() : undefined,
        redirect: 'manual',
      })
    } catch (err) {
      log(`backend ${target.origin} unreachable (${(err as Error).message})`)
      return Response.json(
        {
          type: `${POLICY.problemTypeBase}backend_unavailable`,
          title: 'Bad Gateway',
          status: 502,
          detail: 'the backend did not answer',
          code: 'backend_unavailable',
        },
        { status: 502, headers: { 'content-type': POLICY.problemContentType } },
      )
    }
    // fetch has already decoded the body: drop the encoding and length that described the wire.
    const out = new Headers(res.headers)
    for (const h of [...HOP_BY_HOP, 'content-encoding']) out.delete(h)
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out })
  }

  const app = new Hono()
  if (corsOrigins.length)
    // WWW-Authenticate is exposed so that the page can read a step-up challenge (RFC 9470), and
    // DPoP-Nonce a nonce it must put in its next proof (RFC 9449 §9); the page sends DPoP proofs.
    app.use('*', cors({ origin: [...corsOrigins], allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], allowHeaders: ['Authorization', 'Content-Type', 'DPoP'], exposeHeaders: ['WWW-Authenticate', 'DPoP-Nonce'], maxAge: 600 }))
  const suffix = '/' + api.suffix.replace(/^\/+|\/+$/g, '')
  const resourceOf = (url: URL) => configuredResource ?? `${url.origin}${suffix.length > 1 ? suffix : ''}`

  // RFC 9728 §3: the metadata, at the root form and under the API's path (§3.1).
  const metadataPaths = new Set([POLICY.resourceMetadata.wellKnown, POLICY.resourceMetadata.wellKnown + (suffix.length > 1 ? suffix : '')])
  app.get('*', async (c, next) => {
    if (!metadataPaths.has(new URL(c.req.url).pathname)) return next()
    const body = protectedResourceMetadata({ resource: resourceOf(new URL(c.req.url)), issuer: expectedIssuer, scopes: resourceScopes })
    return c.json(body, 200, { 'content-type': POLICY.resourceMetadata.contentType, 'cache-control': `max-age=${POLICY.resourceMetadata.maxAgeSeconds}` })
  })

  app.all('*', async (c) => {
    const req = c.req.raw
    const url = new URL(req.url)
    const metadataUrl = resourceMetadataUrl(resourceOf(url))
    // 0. APIM's built-in steps: match the API by URL suffix, then an operation.
    const lower = url.pathname.toLowerCase()
    if (suffix.length > 1 && lower !== suffix.toLowerCase() && !lower.startsWith(suffix.toLowerCase() + '/'))
      return c.json({ statusCode: 404, message: 'Resource not found' }, 404)
    const opPath = operationPath(url.pathname, api.suffix)
    let operation: GatewayOperation | undefined
    if (operations) {
      operation = operations.find((o) => o.op.method === req.method && o.matches(opPath))?.op
      if (!operation) return c.json({ statusCode: 404, message: 'Resource not found' }, 404)
    }

    // 1. Never let a client choose the identity the backend sees.
    const headers = new Headers(req.headers)
    for (const h of POLICY.stripHeaders) headers.delete(h)

    // 2. validate-jwt; a failure is the policy's on-error answer.
    const authorization = headers.get(POLICY.jwt.headerName)
    const jwt = await validateJwt(authorization)
    if (!jwt.ok) {
      const failure = jwt.reason === 'TokenNotPresent' ? POLICY.failures.missingToken : POLICY.failures.invalidToken
      return failureResponse(failure, jwtErrorDescription(jwt.reason), metadataUrl)
    }

    // 3. Decision cache.
    const key = await decisionCacheKey({ scheme: schemeOf(authorization!), token: jwt.token, method: req.method, apiId: api.id, path: opPath })
    let decision = decisions.get(key, now())
    const fresh = decision === undefined
    // 4. On a miss, ask the authorizer.
    if (decision === undefined)
      decision = await askAuthorizer(authorization!, {
        method: req.method,
        path: opPath,
        apiId: api.id,
        ...(operation ? { operationId: operation.id } : {}),
        dpop: req.headers.get(POLICY.authorizer.dpopHeader) ?? '',
        url: calledUrl(url),
      })
    const verdict = readDecision(decision)
    if (verdict.status === 503) return failureResponse(POLICY.failures.authzUnavailable, POLICY.failures.authzUnavailable.detail, metadataUrl)
    if (fresh && verdict.ttl > 0) decisions.set(key, decision, verdict.ttl, now())
    // 401 with the decision's own challenge (a step-up names acr_values / max_age), 403 as is.
    if (verdict.status === 401) {
      const res = failureResponse(POLICY.failures.authzUnauthorized, verdict.reason, metadataUrl, verdict.wwwAuthenticate)
      if (verdict.dpopNonce) res.headers.set(POLICY.authorizer.nonceHeader, verdict.dpopNonce)
      return res
    }
    if (verdict.status === 403) return failureResponse(POLICY.failures.authzForbidden, verdict.reason, metadataUrl)

    // 5. Allowed: tell the backend who is calling.
    const { userIdHeader, rolesHeader, actorHeader, rolesSeparator, forwardAuthorization } = POLICY.backend
    if (verdict.sub) headers.set(userIdHeader, verdict.sub)
    if (verdict.actor) headers.set(actorHeader, verdict.actor)
    if (verdict.roles.length > 0) headers.set(rolesHeader, verdict.roles.join(rolesSeparator))
    if (!forwardAuthorization) headers.delete(POLICY.jwt.headerName)
    return forward(req, opPath, headers)
  })
  app.onError((err) => {
    log(`unexpected error: ${(err as Error).stack ?? err}`)
    return internalErrorResponse()
  })

  return { app, keys, decisions }
}

/**
 * Starts the dev gateway on `http://localhost:<port>`, loopback only (127.0.0.1, and ::1 when the
 * machine has it). `port: 0` picks a free port.
 *
 * @example
 * const gw = await startGateway({
 *   port: 7072,
 *   issuer: 'http://localhost:7071/api',
 *   discoveryUrl: 'http://localhost:7071/api/.well-known/openid-configuration',
 *   audiences: ['api://default'],
 *   authzUrl: 'http://localhost:7071/api/authz/check',
 *   backendUrl: echo.url,
 * })
 * await fetch(`${gw.url}/sample/orders`, { headers: { authorization: `Bearer ${token}` } })
 * await gw.close()
 */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { port, hostname, ...rest } = opts
  assertLoopback(hostname, 'the dev gateway')
  const { app } = createGateway(rest)
  const listener = getRequestListener((req) => app.fetch(req))
  const { servers, port: actual } = await listenLoopback(listener, { hostname, port })
  const close = async () => {
    await Promise.all(servers.splice(0).map(stop))
  }
  return { url: `http://localhost:${actual}`, port: actual, close }
}


/** What the dev gateway needs from the service's settings (shared/config.ts). */
export type GatewayConfig = Pick<Config, 'port' | 'gatewayPort' | 'issuer' | 'audiences' | 'allowedOrigins' | 'scopes'>

/**
 * The gateway's options for the local service, from the service's own config: GATEWAY_PORT,
 * ISSUER and AUDIENCES as the policy's named values, the service on PORT as discovery document and
 * authorizer, and the page's origins (ALLOWED_ORIGINS) for APIM's `cors` policy.
 *
 * @example
 * const options = gatewayOptions(loadConfig(process.env, { local: true }), echo.url)
 */
export function gatewayOptions(config: GatewayConfig, backendUrl: string): GatewayOptions {
  // The local service's own discovery document, whatever ISSUER says.
  const service = `http://localhost:${config.port}/api`
  return {
    port: config.gatewayPort,
    issuer: config.issuer,
    discoveryUrl: `${service}/.well-known/openid-configuration`,
    audiences: [...config.audiences],
    authzUrl: `${service}/authz/check`,
    backendUrl,
    // RFC 9728: the sample API's URL on this gateway, an audience by the local AUDIENCES default.
    resource: `http://localhost:${config.gatewayPort}/${SAMPLE_API.suffix}`,
    resourceScopes: config.scopes,
    corsOrigins: config.allowedOrigins,
  }
}

/**
 * The whole local APIM stand-in: the echo backend on a free loopback port and the gateway on
 * GATEWAY_PORT in front of it, configured from the service's settings.
 *
 * @example
 * const dev = await startDevGateway({ config: loadConfig(process.env, { local: true }) })
 * console.log(`sample API at ${dev.url}/sample/orders`)
 * await dev.close()
 */
export async function startDevGateway(opts: {
  config: GatewayConfig
  log?: (line: string) => void
}): Promise<Gateway & { backendUrl: string }> {
  const echo = await startEchoBackend({ port: 0 })
  try {
    const gw = await startGateway({ ...gatewayOptions(opts.config, echo.url), ...(opts.log ? { log: opts.log } : {}) })
    return {
      ...gw,
      backendUrl: echo.url,
      close: async () => {
        await gw.close()
        await echo.close()
      },
    }
  } catch (err) {
    await echo.close()
    throw err
  }
}

async function main() {
  let dev: Awaited<ReturnType<typeof startDevGateway>>
  try {
    const config = loadConfig(process.env, { local: true })
    dev = await startDevGateway({ config })
    if (config.tokenAlg === 'ES256')
      console.error('[gateway] TOKEN_ALG=ES256: validate-jwt (and this gateway) accept RS256, PS256 and RS512 only')
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { port?: number }
    if (e.code === 'EADDRINUSE') console.error(`dev gateway: port ${e.port} is already in use: set GATEWAY_PORT`)
    else if (err instanceof TypeError && err.message.startsWith('Setting ')) console.error(`dev gateway: ${err.message}`)
    else console.error('dev gateway failed to start:', err)
    process.exit(1)
  }
  console.log(
    [
      `Dev gateway (APIM stand-in) listening on ${dev.url} (loopback only)`,
      `  sample API  ${dev.url}/${SAMPLE_API.suffix}/orders  ->  echo backend ${dev.backendUrl}`,
    ].join('\n'),
  )
  const shutdown = () => {
    dev.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}

// Run when this file (or a bundle of it) is the entry point, not when imported. Bundled into
// dist/local/server.mjs, this module shares the bundle's import.meta.url with the server's entry:
// only a process started on gateway.ts/.mjs itself is the gateway's own.
if (isEntryPoint(import.meta.url, /^gateway\.[cm]?[jt]s$/)) void main()
