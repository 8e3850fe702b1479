/**
 * Verifies the audit chain (docs/audit.md "Verification"): reads the head, then every event from
 * seq 1 to the head's seq in pages, and reports the FIRST problem:
 *
 * - `gap`: an event is missing (a row deleted from the middle);
 * - `broken_link`: an event's `prev` is not the previous event's `hash` (rows reordered, replaced
 *   or relinked);
 * - `hash_mismatch`: an event's content does not give its `hash` (a field edited; with the HMAC
 *   this also catches an edit whose hashes were recomputed without the KEK);
 * - `time_regression`: an event is older than the one before it;
 * - `truncated`: the head names a later seq than the last event (the last events deleted);
 * - `head_mismatch`: the head's hash is not the last event's;
 * - `head_missing`: events exist but the head row does not;
 * - `anchor_mismatch`: an event recorded earlier (`--anchor seq:hash`) is gone or different
 *   (the log was rolled back, head included).
 *
 * Events appended after the head was read are left for the next run.
 */
import type { AuditEventRecord, AuditHead, Store } from '../store/types.js'
import { GENESIS, chainHash } from './chain.js'
import { auditId } from './events.js'

export type AuditProblemKind =
  | 'gap'
  | 'broken_link'
  | 'hash_mismatch'
  | 'time_regression'
  | 'truncated'
  | 'head_mismatch'
  | 'head_missing'
  | 'anchor_mismatch'

export interface AuditProblem {
  kind: AuditProblemKind
  /** The first bad event's sequence number (for head_missing: the last event's). */
  seq: number
  /** Its id (zero-padded seq), or `head` for the head row. */
  id: string
  message: string
}

export interface AuditVerification {
  ok: boolean
  /** Events checked (seq 1 … last good). */
  events: number
  head?: AuditHead
  problem?: AuditProblem
}

/**
 * @example
 * const r = await verifyAuditChain({ store, key: await deriveAuditKey(kek) })
 * if (!r.ok) console.error(`event ${r.problem!.id}: ${r.problem!.message}`)
 */
export async function verifyAuditChain({
  store,
  key,
  anchor,
  pageSize = 1000,
}: {
  store: Pick<Store, 'getAuditHead' | 'listAudit'>
  key: CryptoKey
  /** An event seen earlier: it must still be there with this hash. */
  anchor?: { seq: number; hash: string }
  pageSize?: number
}): Promise<AuditVerification> {
  const head = await store.getAuditHead()
  const fail = (kind: AuditProblemKind, seq: number, message: string, id = auditId(seq)): AuditVerification => ({
    ok: false,
    events: Math.max(0, seq - 1),
    ...(head ? { head } : {}),
    problem: { kind, seq, id, message },
  })

  if (!head) {
    const any = await store.listAudit(1, pageSize)
    if (any.length === 0) {
      if (anchor) return fail('anchor_mismatch', anchor.seq, `the log is empty, but event ${anchor.seq} was seen before (rolled back?)`)
      return { ok: true, events: 0 }
    }
    let last = any[any.length - 1]!
    for (let page = any; page.length === pageSize; ) {
      page = await store.listAudit(last.seq + 1, pageSize)
      if (page.length) last = page[page.length - 1]!
    }
    return { ...fail('head_missing', last.seq, `the head row is missing, but events up to seq ${last.seq} exist`, 'head') }
  }
  if (anchor && anchor.seq > head.seq)
    return fail('anchor_mismatch', anchor.seq, `event ${anchor.seq} was seen before, but the head is at seq ${head.seq} (rolled back?)`)

  let prev: AuditEventRecord | undefined
  let next = 1
  while (next <= head.seq) {
    const page = await store.listAudit(next, Math.min(pageSize, head.seq - next + 1))
    if (page.length === 0) break
    for (const e of page) {
      if (e.seq > head.seq) break
      const expected = (prev?.seq ?? 0) + 1
      if (!Number.isSafeInteger(e.seq)) return fail('gap', expected, `a row with a malformed key sits where event ${expected} should be`)
      if (e.seq !== expected) {
        const missing = e.seq > expected ? e.seq - 1 : expected
        return fail(
          'gap',
          expected,
          expected === missing
            ? `event ${expected} is missing (seq jumps from ${expected - 1} to ${e.seq})`
            : `events ${expected}–${missing} are missing (seq jumps from ${expected - 1} to ${e.seq})`,
        )
      }
      const expectedPrev = prev?.hash ?? GENESIS
      if (e.prev !== expectedPrev)
        return fail('broken_link', e.seq, `prev does not match the hash of event ${e.seq - 1} (events reordered, replaced or relinked)`)
      if ((await chainHash(key, e)) !== e.hash)
        return fail('hash_mismatch', e.seq, 'content does not match its hash (edited, or hashed with another key)')
      if (prev && !(e.at >= prev.at)) return fail('time_regression', e.seq, `time goes back from event ${prev.seq}`)
      if (anchor && anchor.seq === e.seq && anchor.hash !== e.hash)
        return fail('anchor_mismatch', e.seq, 'hash differs from the one recorded earlier (chain rewritten?)')
      prev = e
    }
    next = (prev?.seq ?? 0) + 1
    if (page[page.length - 1]!.seq > head.seq) break
  }
  const last = prev?.seq ?? 0
  if (last < head.seq) {
    const from = last + 1
    return fail(
      'truncated',
      from,
      from === head.seq
        ? `event ${from} is missing: the head records seq ${head.seq}, the last event is ${last} (last events deleted)`
        : `events ${from}–${head.seq} are missing: the head records seq ${head.seq}, the last event is ${last} (last events deleted)`,
    )
  }
  if (prev!.hash !== head.hash) return fail('head_mismatch', head.seq, `the head's hash is not event ${head.seq}'s`)
  return { ok: true, events: last, head }
}
