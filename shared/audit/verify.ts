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
 * Each event is checked with the key it names (`keyId`, after a change of KEY_ENCRYPTION_KEY:
 * the current or the previous one); an event without `keyId` (written before key ids were
 * recorded) with any key given. An event that names a key not given fails as `hash_mismatch`
 * (as with a wrong key), and the message names the key id that is missing.
 *
 * Events appended after the head was read are left for the next run.
 */
import type { VersionedKey } from '../crypto/kek.js'
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
  previousKey,
  anchor,
  pageSize = 1000,
}: {
  store: Pick<Store, 'getAuditHead' | 'listAudit'>
  /** The chain key of KEY_ENCRYPTION_KEY; with its key id, events that name it are checked with it. */
  key: CryptoKey | VersionedKey
  /** The chain key of KEY_ENCRYPTION_KEY_PREVIOUS, with its key id (after a change of the KEK). */
  previousKey?: VersionedKey
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

  const keys: { id?: string; key: CryptoKey }[] = ['id' in key ? key : { key }, ...(previousKey ? [previousKey] : [])]
  const given = keys.map((k) => k.id).filter((id) => id !== undefined)
  /** The keys to check `e` with: the one it names, else all (a key without an id may be any). */
  const keysFor = (e: AuditEventRecord) => {
    const named = keys.filter((k) => k.id !== undefined && k.id === e.keyId)
    return named.length ? named : keys
  }

  /** Which key an event that did not verify needs, when the keys given cannot be it. */
  const missingKey = (e: AuditEventRecord): string => {
    if (e.keyId !== undefined && given.length && !given.includes(e.keyId))
      return `; it names the KEY_ENCRYPTION_KEY with key id ${e.keyId}, and the keys given have key ids ${given.join(', ')}: ` +
        'after a change of KEY_ENCRYPTION_KEY, give that key as KEY_ENCRYPTION_KEY_PREVIOUS (or its key id was edited)'
    // Written before key ids were recorded: with the key of that time, perhaps a previous one.
    if (e.keyId === undefined && !previousKey && given.length)
      return '; it names no key: if KEY_ENCRYPTION_KEY was changed since it was written, give the earlier key as KEY_ENCRYPTION_KEY_PREVIOUS'
    return ''
  }

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
      let matches = false
      for (const k of keysFor(e)) if ((matches = (await chainHash(k.key, e)) === e.hash)) break
      if (!matches) return fail('hash_mismatch', e.seq, `content does not match its hash (edited, or hashed with another key)${missingKey(e)}`)
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
