import { Hono } from 'hono'
import type { Config } from './config.js'
import { createCore, type Core } from './core.js'
import { OAuthError, ServiceError, oauthErrorResponse, problemResponse } from './errors.js'
import { authzRoutes } from './routes/authz.js'
import { adminRoutes } from './routes/admin.js'
import { meRoutes } from './routes/me.js'
import { oauthRoutes } from './routes/oauth.js'
import { webauthnRoutes } from './routes/webauthn.js'
import { wellKnownRoutes } from './routes/wellKnown.js'
import { pageRoutes } from './routes/page.js'
import { rateLimit } from './middleware/rateLimit.js'
import { openApiDocument } from './openapi.js'
import type { Store } from './store/types.js'
import type { Clock } from './util/clock.js'
import type { AppEnv } from './env.js'
import { systemClock } from './util/clock.js'

export interface AppDeps {
  config: Config
  store: Store
  clock?: Clock
  /** Where unexpected errors go (name and message only: never bodies, tokens or secrets). */
  logError?: (msg: string) => void
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
  const core = createCore({ config: deps.config, store: deps.store, clock: deps.clock ?? systemClock })
  const logError = deps.logError ?? ((msg) => console.error(msg))
  const app = new Hono<AppEnv>()

  app.use('*', async (c, next) => {
    // Set before the handler builds its response, so it is merged in without copying headers.
    c.header('x-content-type-options', 'nosniff')
    await next()
  })

  app.get('/api/health', async (c) => {
    await core.store.ping()
    // The signing key must open with KEY_ENCRYPTION_KEY (cached once it has): a wrong key is 503
    // with a problem naming the setting, not a 500 on every sign-in.
    await core.keyRing.signingKey()
    return c.json({ status: 'ok' }, 200, { 'cache-control': 'no-store' })
  })
  app.get('/api/openapi.json', (c) => c.json(openApiDocument(deps.config), 200, { 'cache-control': 'public, max-age=3600' }))
  // CONTRACT v2 "Rate limits": the unauthenticated routes (never the authorizer).
  const limited = rateLimit(deps.config, core.clock)
  app.use('/api/webauthn/*', limited)
  app.use('/api/oauth2/*', limited)
  app.route('/api/webauthn', webauthnRoutes(core))
  app.route('/api/.well-known', wellKnownRoutes(core))
  app.route('/api/oauth2', oauthRoutes(core))
  app.route('/api/me', meRoutes(core))
  app.route('/api/authz', authzRoutes(core))
  app.route('/api/manage', adminRoutes(core))
  app.route('/', pageRoutes(core))

  app.notFound(() => problemResponse(new ServiceError('not_found', 'No such route')))
  app.onError((err, c) => {
    // The token and revocation endpoints speak RFC 6749 §5.2 even when storage fails.
    if (err instanceof ServiceError && OAUTH_JSON_PATHS.has(c.req.path)) {
      if (!err.expose) logError(`${err.code}: ${causeOf(err)}`)
      else if (err.status >= 500) logError(`${err.code}: ${err.message}`)
      const mapped =
        err.status >= 500
          ? new OAuthError('temporarily_unavailable', err.expose ? err.message : 'The service is temporarily unavailable; retry', err.status)
          : new OAuthError('invalid_request', err.message, err.status)
      const res = oauthErrorResponse(mapped)
      for (const [k, v] of Object.entries(err.headers)) if (k !== 'www-authenticate') res.headers.set(k, v)
      return res
    }
    if (err instanceof ServiceError) {
      if (!err.expose) logError(`${err.code}: ${causeOf(err)}`)
      else if (err.status >= 500) logError(`${err.code}: ${err.message}`)
      return problemResponse(err)
    }
    if (err instanceof OAuthError) return oauthErrorResponse(err)
    logError(`unhandled ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`)
    return new Response(
      JSON.stringify({ type: 'about:blank', title: 'Internal error', status: 500, detail: 'The service failed; nothing was changed by this request unless its answer says so.', code: 'internal_error' }),
      { status: 500, headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' } },
    )
  })
  return Object.assign(app, { core })
}

const OAUTH_JSON_PATHS = new Set(['/api/oauth2/token', '/api/oauth2/revoke', '/api/oauth2/introspect'])

function causeOf(err: Error): string {
  const c = err.cause
  return c instanceof Error ? `${c.name}: ${c.message}` : String(c ?? '')
}
