import { ConcurrencyError, type AuditStore } from '../types.js'
import { copy, type MemoryState } from './state.js'

export function auditVerbs({ auditEvents, audit, etag }: MemoryState): AuditStore {
  return {
    async getAuditHead() {
      return audit.head && copy(audit.head)
    },

    async appendAudit(events, head) {
      const base = head?.seq ?? 0
      if (events.length === 0 || events.length >= 100 || events.some((e, i) => e.seq !== base + i + 1))
        throw new TypeError(`appendAudit: 1 to 99 events numbered from ${base + 1}`)
      if (head && !head.etag) throw new TypeError('appendAudit: head etag required (pass the head as read)')
      if (audit.head?.etag !== head?.etag || events.some((e) => auditEvents.has(e.seq)))
        throw new ConcurrencyError(`audit head at seq ${base}`)
      for (const e of events) auditEvents.set(e.seq, copy(e))
      const last = events[events.length - 1]!
      audit.head = { seq: last.seq, hash: last.hash, at: last.at, etag: etag() }
      return copy(audit.head)
    },

    async listAudit(fromSeq, limit) {
      return [...auditEvents.keys()]
        .filter((seq) => seq >= fromSeq)
        .sort((a, b) => a - b)
        .slice(0, Math.max(0, limit))
        .map((seq) => copy(auditEvents.get(seq)!))
    },

    async getAuditEvent(seq) {
      const e = auditEvents.get(seq)
      return e && copy(e)
    },
  }
}
