import { Hono, type Context } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { createMiddleware } from 'hono/factory'
import { header } from '../middleware/body.js'
import { validJson } from '../middleware/validate.js'
import { AuthzRequest } from '../schemas/authz.js'
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

/**
 * The token of an `Authorization: Bearer <token>` (RFC 6750 §2.1) or `DPoP <token>` (RFC 9449
 * §7.1) header, schemes case-insensitive, with the scheme it came in.
 */
function presentedOf(h: string | undefined): { token: string; scheme: 'bearer' | 'dpop' } | undefined {
  if (!h) return undefined
  const sp = h.indexOf(' ')
  const scheme = h.slice(0, sp).toLowerCase()
  if (sp < 0 || (scheme !== 'bearer' && scheme !== 'dpop')) return undefined
  const t = h.slice(sp + 1).trim()
  return t && !/\s/.test(t) ? { token: t, scheme } : undefined
}

/** POST /api/authz/check — CONTRACT "Authorizer". */
export function authzRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  // The gateway only (checked before the body is read), then the body's shape (shared/schemas/authz.ts).
  const gatewayOnly = createMiddleware<AppEnv>(async (c, next) => {
    if (!callerAllowed(c, core.config.local))
      throw new ServiceError('forbidden', 'The authorizer accepts the gateway only (function key, or loopback locally)')
    await next()
  })
  r.post('/check', noStore(), gatewayOnly, validJson(AuthzRequest), async (c) => {
    const { method, path, apiId, operationId, token, scheme, dpop, url } = c.req.valid('json')
    // The caller's token: the forwarded Authorization header, or the body's token when the
    // gateway's managed identity occupies Authorization (then the header is not the caller's),
    // with the caller's scheme when the gateway sends it (`body`: unknown, an older policy).
    const presented =
      typeof token === 'string' && token
        ? { token, scheme: typeof scheme === 'string' ? (scheme.toLowerCase() as 'bearer' | 'dpop') : ('body' as const) }
        : presentedOf(header(c, 'authorization'))
    const decision = await core.authz.decideJson(
      presented?.token,
      {
        method,
        path,
        ...(typeof apiId === 'string' ? { apiId } : {}),
        ...(typeof operationId === 'string' ? { operationId } : {}),
      },
      {
        ...(presented ? { scheme: presented.scheme } : {}),
        ...(typeof dpop === 'string' && dpop ? { proof: dpop } : {}),
        ...(typeof url === 'string' ? { url } : {}),
      },
    )
    // The status only (200, 401, 403): the decision's JSON names the subject and its roles.
    if (core.telemetry.enabled) core.telemetry.count('passkey.authz.decisions', { 'authz.status': Number(/"status":(\d+)/.exec(decision)?.[1]) })
    return c.body(decision, 200, { 'content-type': 'application/json' })
  })
  return r
}
