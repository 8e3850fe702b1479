import { Hono } from 'hono'
import type { Config } from './config.js'
import { createCore, type Core } from './core.js'
import { ServiceError, problemResponse } from './errors.js'
import { authzRoutes } from './routes/authz.js'
import { adminRoutes } from './routes/admin.js'
import { meRoutes } from './routes/me.js'
import { meSessionsRoutes } from './routes/sessions.js'
import { meAgentsRoutes } from './routes/agents.js'
import { oauthRoutes } from './routes/oauth.js'
import { webauthnRoutes } from './routes/webauthn.js'
import { issuerWellKnownRoutes, wellKnownRoutes } from './routes/wellKnown.js'
import { pageRoutes } from './routes/page.js'
import { authenticatorRoutes } from './routes/authenticators.js'
import { noStore } from './middleware/noStore.js'
import { renderErrors, type LogError } from './middleware/onError.js'
import { rateLimit } from './middleware/rateLimit.js'
import { auditOrigin } from './audit/context.js'
import type { Store } from './store/types.js'
import type { Clock } from './util/clock.js'
import type { AppEnv } from './env.js'
import { systemClock } from './util/clock.js'
import type { Telemetry } from './telemetry.js'
import { requestTelemetry } from './middleware/telemetry.js'
import type { ReadMetadataBlob } from './webauthn/metadata.js'
import type { ClientMetadataFetcherFactory } from './oauth/clientMetadata.js'

export interface AppDeps {
  config: Config
  store: Store
  clock?: Clock
  /** Where unexpected errors go (name and message only: never bodies, tokens or secrets). */
  logError?: LogError
  /** Spans and metrics (shared/telemetry.ts, loaded by shared/bootstrap.ts); default: none. */
  telemetry?: Telemetry
  /** Reads METADATA_BLOB: runtime/node/metadataBlob.ts (files and https); default https only. */
  readMetadataBlob?: ReadMetadataBlob
  /** Makes the client ID metadata document fetcher (runtime/node/clientMetadata.ts); default: none, unsupported. */
  clientMetadataFetcher?: ClientMetadataFetcherFactory
}

export type { AppBindings, AppEnv } from './env.js'

/**
 * The one Hono app that serves every route, for the Functions host and the local server alike.
 *
 * @example
 * const app = createApp({ config, store })
 * const res = await app.request('/api/health')
 */
export function createApp(deps: AppDeps): Hono<AppEnv> & { core: Core } {
  const logError = deps.logError ?? ((msg) => console.error(msg))
  const core = createCore({
    config: deps.config,
    store: deps.store,
    clock: deps.clock ?? systemClock,
    telemetry: deps.telemetry,
    readMetadataBlob: deps.readMetadataBlob,
    clientMetadataFetcher: deps.clientMetadataFetcher,
    log: logError,
  })
  const app = new Hono<AppEnv>()

  // Only with telemetry on: otherwise no request pays for it.
  if (core.telemetry.enabled) app.use('*', requestTelemetry(core.telemetry))

  app.use('*', async (c, next) => {
    // Set before the handler builds its response, so it is merged in without copying headers.
    c.header('x-content-type-options', 'nosniff')
    await next()
  })

  app.get('/api/health', noStore(), async (c) => {
    await core.store.ping()
    // The signing key must open with KEY_ENCRYPTION_KEY (cached once it has): a wrong key is 503
    // with a problem naming the setting, not a 500 on every sign-in.
    await core.keyRing.signingKey()
    return c.json({ status: 'ok' })
  })
  // Built on the first request for it (its code is a file of its own in the Functions bundle).
  let openApi: Promise<object> | undefined
  app.get('/api/openapi.json', async (c) => {
    openApi ??= import('./openapi.js').then(
      ({ openApiDocument }) => openApiDocument(deps.config),
      (err: unknown) => {
        openApi = undefined // a failed load is tried again by the next request
        throw err
      },
    )
    return c.json(await openApi, 200, { 'cache-control': 'public, max-age=3600' })
  })
  // The caller's address for audit events, on the routes that record them (not the authorizer's).
  const origin = auditOrigin(deps.config.trustedProxyHops)
  // ('/api/me/*' matches /api/me itself too.)
  for (const path of ['/api/webauthn/*', '/api/oauth2/*', '/api/me/*', '/api/manage/*']) app.use(path, origin)
  // CONTRACT v2 "Rate limits": the unauthenticated routes (never the authorizer).
  const limited = rateLimit(deps.config, core.clock)
  app.use('/api/webauthn/*', limited)
  app.use('/api/oauth2/*', limited)
  app.route('/api/webauthn', webauthnRoutes(core))
  app.route('/api/.well-known', wellKnownRoutes(core))
  app.route('/', issuerWellKnownRoutes(core))
  app.route('/api/oauth2', oauthRoutes(core, { logError }))
  app.route('/api/me', meRoutes(core))
  app.route('/api/me', meSessionsRoutes(core))
  app.route('/api/me', meAgentsRoutes(core))
  app.route('/api/authz', authzRoutes(core))
  app.route('/api/manage', adminRoutes(core))
  app.route('/api/authenticators', authenticatorRoutes(core))
  app.route('/', pageRoutes(core))

  app.notFound(() => problemResponse(new ServiceError('not_found', 'No such route')))
  app.onError(renderErrors(logError))
  return Object.assign(app, { core })
}
