/**
 * Request context of an audit event: where the request came from, and who made it when a guard
 * already knows (the administration routes publish the administrator with `setAuditActor`).
 */
import type { Context, MiddlewareHandler } from 'hono'
import { callerAddress } from '../middleware/rateLimit.js'
import type { Principal } from '../middleware/bearer.js'
import { MAX_USER_AGENT, type AuditActor, type AuditOrigin } from './events.js'

/** Where a request came from and who made it: what domain functions spread into their events. */
export type RequestOrigin = AuditOrigin & { actor?: AuditActor }

/**
 * `{ ip, userAgent, actor? }` of a request, to spread into `core.audit.record()`.
 *
 * - ip: the caller's address as the rate limits take it (`callerAddress`): the `X-Forwarded-For`
 *   entry TRUSTED_PROXY_HOPS from the right (what the nearest trusted proxy saw; entries left of
 *   it are whatever the caller wrote), else the local server's socket address. Published per
 *   request by `auditOrigin` (app.ts, on the routes that audit).
 * - userAgent: the `User-Agent` header, at most 256 characters.
 *
 * @example
 * await core.audit.record({ ...auditContext(c), type: 'passkey.renamed', target: { credentialId } })
 */
export function auditContext(c: Context): RequestOrigin {
  const out: RequestOrigin = {}
  const ip = c.get('clientIp')
  if (ip) out.ip = ip
  const ua = c.req.header('user-agent')
  if (ua) out.userAgent = ua.slice(0, MAX_USER_AGENT)
  const actor = c.get('auditActor')
  if (actor) out.actor = actor
  return out
}

/** Publishes the caller's address for auditContext (TRUSTED_PROXY_HOPS, as the rate limits). */
export function auditOrigin(hops: number): MiddlewareHandler {
  return async (c, next) => {
    const ip = callerAddress(c, hops)
    if (ip) c.set('clientIp', ip)
    await next()
  }
}

/** Publishes the authenticated caller for `auditContext`; returns the principal unchanged. */
export function setAuditActor<P extends Principal>(c: Context, principal: P): P {
  c.set('auditActor', { userId: principal.userId })
  return principal
}
