/**
 * The audit log (docs/audit.md): partition 'audit', events under their zero-padded seq and the
 * head row after them, so an append and the head's move are one transaction.
 */
import type { AuditHead, AuditStore } from '../types.js'
import { MAX_TX_OPS, odata, transactionError, type Calls, type TransactionAction } from './calls.js'
import { AUDIT_HEAD_RK, AUDIT_LAST_RK, AUDIT_PK, auditRowKey } from './keys.js'
import { auditEventRow, auditHeadRow } from './rows.js'

export function auditVerbs(db: Calls): AuditStore {
  return {
    async getAuditHead() {
      const row = await db.getRow('audit', AUDIT_PK, AUDIT_HEAD_RK)
      return row && auditHeadRow.record(row)
    },

    async appendAudit(events, head) {
      const base = head?.seq ?? 0
      if (events.length === 0 || events.length >= MAX_TX_OPS || events.some((e, i) => e.seq !== base + i + 1))
        throw new TypeError(`appendAudit: 1 to ${MAX_TX_OPS - 1} events numbered from ${base + 1}`)
      if (head && !head.etag) throw new TypeError('appendAudit: head etag required (pass the head as read)')
      const last = events[events.length - 1]!
      const next: AuditHead = { seq: last.seq, hash: last.hash, at: last.at }
      // One partition, one transaction: the events and the head move together or not at all.
      const actions: TransactionAction[] = events.map((e) => ['create', auditEventRow.entity(e)])
      actions.push(
        head ? ['update', auditHeadRow.entity(next), 'Replace', { etag: head.etag! }] : ['create', auditHeadRow.entity(next)],
      )
      let etags: (string | undefined)[]
      try {
        etags = await db.transact('audit', actions)
      } catch (err) {
        const lost = `audit head at seq ${base}`
        throw transactionError(err, { 404: lost, 409: lost, 412: lost })
      }
      next.etag = etags[actions.length - 1]
      return next
    },

    async listAudit(fromSeq, limit) {
      if (limit <= 0) return []
      const filter = odata`PartitionKey eq ${AUDIT_PK} and RowKey ge ${auditRowKey(Math.max(1, fromSeq))} and RowKey le ${AUDIT_LAST_RK}`
      return (await db.query('audit', filter, { limit })).map(auditEventRow.record)
    },

    async getAuditEvent(seq) {
      const row = await db.getRow('audit', AUDIT_PK, auditRowKey(seq))
      return row && auditEventRow.record(row)
    },
  }
}
