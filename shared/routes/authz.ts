import { Hono, type Context } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { header, jsonBody } from '../middleware/body.js'
import { noStore } from '../middleware/noStore.js'

/** 127.0.0.0/8, ::1 and their IPv4-mapped IPv6 forms. */
export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false
  const a = addr.replace(/^::ffff:/i, '')
  return a === '::1' || /^127(\.\d{1,3}){3}$/.test(a)
}

/**
 * In Azure the Functions host admits only callers with the function key (authLevel function):
 * a request that reached us through the host has passed that check. The local server has no
 * keys, so it accepts loopback callers only. Anything else is refused (fail closed).
 */
function callerAllowed(c: Context<AppEnv>, local: boolean): boolean {
  if (c.env?.invocation) return true
  return local && isLoopback(c.env?.remoteAddr)
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750 §2.1). */
function bearerOf(h: string | undefined): string | undefined {
  if (!h || h.length < 8 || h.slice(0, 7).toLowerCase() !== 'bearer ') return undefined
  const t = h.slice(7).trim()
  return t && !/\s/.test(t) ? t : undefined
}

// Control characters have no place in a method, path or id (a gateway sends paths percent-encoded);
// refusing them also keeps the decision cache's NUL-separated keys unambiguous.
const CONTROL = /[\u0000-\u001f\u007f]/
const str = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max && !CONTROL.test(v)

/** POST /api/authz/check — CONTRACT "Authorizer". */
export function authzRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  r.post('/check', noStore(), async (c) => {
    if (!callerAllowed(c, core.config.local))
      throw new ServiceError('forbidden', 'The authorizer accepts the gateway only (function key, or loopback locally)')
    const body = await jsonBody(c)
    const { method, path, apiId, operationId, token } = body
    if (!str(method, 16) || !/^[A-Za-z]+$/.test(method)) throw new ServiceError('invalid_request', 'method must be an HTTP method')
    if (!str(path, 4096) || !path.startsWith('/')) throw new ServiceError('invalid_request', 'path must start with / (no control characters)')
    if (apiId !== undefined && apiId !== null && !str(apiId, 256)) throw new ServiceError('invalid_request', 'apiId must be a string (no control characters)')
    if (operationId !== undefined && operationId !== null && !str(operationId, 256))
      throw new ServiceError('invalid_request', 'operationId must be a string')
    if (token !== undefined && token !== null && typeof token !== 'string') throw new ServiceError('invalid_request', 'token must be a string')
    // The caller's token: the forwarded Authorization header, or the body's token when the
    // gateway's managed identity occupies Authorization (then the header is not the caller's).
    let bearer: string | undefined
    if (typeof token === 'string' && token) bearer = token
    else {
      bearer = bearerOf(header(c, 'authorization'))
    }
    const decision = await core.authz.decideJson(bearer, {
      method,
      path,
      ...(typeof apiId === 'string' ? { apiId } : {}),
      ...(typeof operationId === 'string' ? { operationId } : {}),
    })
    return c.body(decision, 200, { 'content-type': 'application/json' })
  })
  return r
}
