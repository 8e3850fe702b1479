/**
 * One server span and one duration sample per request (shared/telemetry.ts): method, route
 * template and status. The template is Hono's (`/api/me/credentials/:id`), `unmatched` when no
 * route matched, so a raw path (ids, usernames typed into a URL) is never recorded.
 */
import type { MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { Context } from 'hono'
import type { AppEnv } from '../env.js'
import type { Telemetry } from '../telemetry.js'

/** The template of the handler that serves this request (middleware, registered for ALL, is not one). */
export function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c)
  for (let i = routes.length - 1; i >= 0; i--) if (routes[i]!.method !== 'ALL') return routes[i]!.path
  return 'unmatched'
}

export function requestTelemetry(telemetry: Telemetry): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const start = performance.now()
    const method = c.req.method
    await telemetry.span(method, 'server', { 'http.request.method': method }, async (span) => {
      await next() // errors are rendered into c.res by the app's onError, not thrown here
      const attrs = { 'http.request.method': method, 'http.route': routeTemplate(c), 'http.response.status_code': c.res.status }
      // Application Insights names the operation "<method> <http.route>" from these.
      span.set(attrs)
      span.rename(`${method} ${attrs['http.route']}`)
      if (c.res.status >= 500) span.fail(String(c.res.status))
      telemetry.record('http.server.request.duration', (performance.now() - start) / 1000, attrs)
    })
  }
}
