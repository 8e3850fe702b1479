/**
 * `Cache-Control: no-store` on a route's responses (tokens, account data, administration), and
 * with `pragma` also `Pragma: no-cache` for HTTP/1.0 caches, as RFC 6749 §5.1 asks of the token
 * endpoint. Set before the handler, so Hono merges it into the response the handler builds; an
 * error is rendered by onError, whose responses carry their own (problemResponse, oauthErrorResponse).
 */
import type { MiddlewareHandler } from 'hono'

/**
 * @example
 * r.get('/credentials', noStore(), handler)
 * r.post('/token', noStore({ pragma: true }), handler)
 */
export function noStore({ pragma = false }: { pragma?: boolean } = {}): MiddlewareHandler {
  return async function noStore(c, next) {
    c.header('cache-control', 'no-store')
    if (pragma) c.header('pragma', 'no-cache')
    await next()
  }
}
