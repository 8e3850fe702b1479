/**
 * Request context of an audit event: where the request came from, and who made it when a guard
 * already knows (the administration routes publish the administrator with `setAuditActor`).
 */
import type { Context } from 'hono'
import type { Principal } from '../middleware/bearer.js'
import { MAX_USER_AGENT, type AuditActor, type AuditOrigin } from './events.js'

/** Where a request came from and who made it: what domain functions spread into their events. */
export type RequestOrigin = AuditOrigin & { actor?: AuditActor }

/**
 * `{ ip, userAgent, actor? }` of a request, to spread into `core.audit.record()`.
 *
 * - ip: the first `X-Forwarded-For` entry (the client as the front end saw it: App Service/
 *   Functions and APIM append, so the first is the original caller), else the runtime's remote
 *   address (`c.env.remoteAddr`, the local server). A port suffix is removed. The header is only
 *   as trustworthy as the front end that sets it: a caller reaching the app directly can put
 *   anything there (docs/audit.md).
 * - userAgent: the `User-Agent` header, at most 256 characters.
 *
 * @example
 * await core.audit.record({ ...auditContext(c), type: 'passkey.renamed', target: { credentialId } })
 */
export function auditContext(c: Context): RequestOrigin {
  const out: RequestOrigin = {}
  const forwarded = c.req.header('x-forwarded-for')?.split(',')[0]?.trim()
  const remote = (c.env as { remoteAddr?: unknown } | undefined)?.remoteAddr
  const ip = forwarded || (typeof remote === 'string' ? remote : undefined)
  if (ip) out.ip = stripPort(ip)
  const ua = c.req.header('user-agent')
  if (ua) out.userAgent = ua.slice(0, MAX_USER_AGENT)
  const actor = c.get('auditActor')
  if (actor) out.actor = actor
  return out
}

/** Publishes the authenticated caller for `auditContext`; returns the principal unchanged. */
export function setAuditActor<P extends Principal>(c: Context, principal: P): P {
  c.set('auditActor', { userId: principal.userId })
  return principal
}

/** `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`; bare IPv6 is left alone. */
function stripPort(ip: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(ip)
  if (v6) return v6[1]!
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(ip)
  return v4 ? v4[1]! : ip
}
