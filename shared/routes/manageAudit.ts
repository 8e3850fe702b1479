import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import { auditView } from '../audit/events.js'
import { revealPersonal } from '../audit/personal.js'
import type { AuditSince } from '../audit/log.js'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { noStore } from '../middleware/noStore.js'

export const AUDIT_PAGE_DEFAULT = 100
export const AUDIT_PAGE_MAX = 1000

/** An event id (its zero-padded seq), or an ISO 8601 date or date-time. */
const EVENT_ID = /^\d{1,16}$/
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/

function parseSince(v: string | undefined): AuditSince | undefined {
  if (v === undefined || v === '') return undefined
  if (EVENT_ID.test(v)) return { afterSeq: Number(v) }
  const t = ISO_TIME.test(v) ? Date.parse(v) : NaN
  if (!Number.isFinite(t)) throw new ServiceError('invalid_request', 'since must be an event id or an ISO 8601 time')
  return { at: t }
}

function parseLimit(v: string | undefined): number {
  if (v === undefined || v === '') return AUDIT_PAGE_DEFAULT
  const n = /^\d{1,4}$/.test(v) ? Number(v) : NaN
  if (!(n >= 1 && n <= AUDIT_PAGE_MAX)) throw new ServiceError('invalid_request', `limit must be 1 to ${AUDIT_PAGE_MAX}`)
  return n
}

/**
 * GET /api/manage/audit — CONTRACT "Administration": audit events, oldest first (docs/audit.md).
 *
 * `since`: an event id (the page starts after that event) or an ISO 8601 time (at or after it);
 * absent: from the first event. `limit`: 1–1000, default 100. A full page carries
 * `Link: <…?since=<last id>&limit=…>; rel="next"` (RFC 8288); the last event's id is always the
 * cursor of the next page. Behind adminRoutes' guard.
 */
export function manageAuditRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  r.get('/audit', noStore(), async (c) => {
    const since = parseSince(c.req.query('since'))
    const limit = parseLimit(c.req.query('limit'))
    // Personal fields decrypted for display; the stored events (and the chain) keep the ciphertext.
    const events = (await revealPersonal(core.personal, await core.audit.list(since, limit))).map(auditView)
    const headers: Record<string, string> = {}
    const last = events[events.length - 1]
    if (last && events.length === limit) headers.link = `<${c.req.path}?since=${last.id}&limit=${limit}>; rel="next"`
    return c.json(events, 200, headers)
  })
  return r
}
