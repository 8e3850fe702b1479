/**
 * The audit log: appends hash-chained events (docs/audit.md) and reads them back in pages.
 *
 * Append = ONE storage round trip in the common case: the head (latest seq, hash, etag) is cached
 * in memory, so an append is a single partition transaction {insert event(s), replace head
 * If-Match etag}. Another instance that appended meanwhile makes it fail with 412: the head is
 * read again (+1) and the events renumbered, re-hashed and sent again. The chain stays linear
 * because the head can only move by one transaction at a time.
 *
 * Within one instance, appends are group-committed: while a transaction is in flight, new events
 * queue, and the next transaction carries all of them (≤ 99). Each caller waits for its own
 * event's transaction.
 */
import { ServiceError } from '../errors.js'
import { ConcurrencyError, type AuditEventRecord, type AuditHead, type Store } from '../store/types.js'
import type { Clock } from '../util/clock.js'
import type { VersionedKey } from '../crypto/kek.js'
import { GENESIS, chainHash } from './chain.js'
import { sanitizeAuditInput, type AuditInput } from './events.js'
import { planPersonal, sealPersonal, type PersonalDataKeys, type PersonalPlan } from './personal.js'

/** Events per transaction: 100 operations at most, one of them the head. */
const MAX_BATCH = 99
/**
 * Lost races before giving up (each costs a head read and a transaction). High on purpose: with N
 * instances appending at once each wins about one race in N, and every win carries the whole
 * queue (see `commit`), so losing is cheap; the time budget is what bounds the wait.
 */
const MAX_ATTEMPTS = 64
/** Retrying stops after this long; the store bounds each call to 3 s on its own. */
const RETRY_BUDGET_MS = 5_000

interface Pending {
  input: ReturnType<typeof sanitizeAuditInput>
  /** Whose keys its personal fields go under (encrypted once its seq is known, in `build`). */
  plan?: PersonalPlan
  at: number
  resolve(e: AuditEventRecord): void
  reject(err: unknown): void
}

/** Where a page starts: after an event (its id / seq), or at a time. */
export type AuditSince = { afterSeq: number } | { at: number }

export class AuditLog {
  /** Where failed best-effort appends are reported: one line, type and error, never values. */
  logError: (msg: string) => void
  private head: AuditHead | undefined
  private headLoaded = false
  private readonly queue: Pending[] = []
  private draining = false

  constructor(
    private readonly deps: {
      store: Store
      clock: Clock
      /**
       * HMAC key of the chain (`deriveAuditKey(KEY_ENCRYPTION_KEY)`); with its KEK's key id, every
       * event records that id (`keyId`), so that the chain verifies across a change of the KEK.
       */
      key: Promise<CryptoKey | VersionedKey>
      /**
       * Rejects when this instance must not write to the chain (core: its KEY_ENCRYPTION_KEY does
       * not open the stored signing keys, so its HMACs would not verify with everyone else's).
       * Checked before every head read.
       */
      ready?: () => Promise<void>
      /**
       * The accounts' personal-data keys (shared/audit/personal.ts): with them, usernames, IPs and
       * user agents are stored encrypted under their person's key (docs/audit.md "Personal data").
       */
      personal?: PersonalDataKeys
      logError?: (msg: string) => void
    },
  ) {
    this.logError = deps.logError ?? ((msg) => console.error(msg))
  }

  /**
   * Appends one event and resolves with it as stored. Rejects with StorageUnavailableError (the
   * event may or may not be stored: a lost answer) or ConcurrencyError (too many lost races).
   *
   * @example
   * await core.audit.append({ type: 'key.rotated', actor: { system: 'rotation' }, target: { kid } })
   */
  async append(input: AuditInput): Promise<AuditEventRecord> {
    const clean = sanitizeAuditInput(input)
    const at = this.deps.clock.now()
    // The keys are found (or made) before the event queues: a transaction never waits for them.
    const plan = this.deps.personal ? await planPersonal(this.deps.personal, clean) : undefined
    return new Promise((resolve, reject) => {
      this.queue.push({ input: clean, ...(plan ? { plan } : {}), at, resolve, reject })
      void this.drain()
    })
  }

  /**
   * Best effort: appends, and when that fails logs one line (event type and error code, no
   * values) and resolves undefined. Never throws, so an audit failure never changes the answer
   * of the request that caused it (docs/audit.md "Availability").
   *
   * @example
   * await core.audit.record({ ...auditContext(c), type: 'passkey.deleted', actor, target })
   */
  async record(input: AuditInput): Promise<AuditEventRecord | undefined> {
    try {
      return await this.append(input)
    } catch (err) {
      const why = err instanceof ServiceError ? err.code : err instanceof Error ? err.name : 'error'
      this.logError(`audit: could not record ${String(input.type)} (${why}); the request was answered anyway`)
      return undefined
    }
  }

  /**
   * One page, oldest first: events after `since.afterSeq`, or at/after `since.at` (found by a
   * binary search on seq over point reads: times are monotone along the chain), at most `limit`.
   */
  async list(since: AuditSince | undefined, limit: number): Promise<AuditEventRecord[]> {
    const { store } = this.deps
    let from = 1
    if (since && 'afterSeq' in since) from = since.afterSeq + 1
    else if (since) {
      const head = await store.getAuditHead()
      if (!head || head.at < since.at) return []
      let lo = 1
      let hi = head.seq // the head event has at ≥ since.at: the answer is in [lo, hi]
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2)
        const e = await store.getAuditEvent(mid)
        if (e && e.at >= since.at) hi = mid
        else lo = mid + 1 // a missing event (tampering) counts as earlier: verify reports it
      }
      from = lo
    }
    return store.listAudit(from, limit)
  }

  private async drain(): Promise<void> {
    if (this.draining) return
    this.draining = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH)
        const own = batch.length
        try {
          const events = await this.commit(batch)
          batch.forEach((p, i) => p.resolve(events[i]!))
        } catch (err) {
          // Out of lost races: events that joined during the retries had no budget of their own,
          // so they go back to the front of the queue and get one. (Not after a lost answer: that
          // transaction may have stored them, and they would be there twice.)
          const late = err instanceof ConcurrencyError ? batch.splice(own) : []
          for (const p of batch) p.reject(err)
          this.queue.unshift(...late)
        }
      }
    } finally {
      this.draining = false
    }
  }

  private async commit(batch: Pending[]): Promise<AuditEventRecord[]> {
    const { store } = this.deps
    const key = await this.deps.key
    const started = this.deps.clock.now()
    for (let attempt = 1; ; attempt++) {
      if (!this.headLoaded) {
        await this.deps.ready?.()
        this.head = await store.getAuditHead()
        this.headLoaded = true
      }
      // Events queued while we lost a race ride along (group commit across retries): under
      // contention, each won race commits more, so the log keeps up instead of falling behind.
      while (attempt > 1 && batch.length < MAX_BATCH && this.queue.length > 0) batch.push(this.queue.shift()!)
      const events = await this.build(key, batch, this.head)
      try {
        const head = await store.appendAudit(events, this.head)
        this.head = head
        this.headLoaded = head.etag !== undefined
        return events
      } catch (err) {
        // Lost a race (412/409), or no answer (the append may have applied): read the head again.
        this.headLoaded = false
        const budgetLeft = this.deps.clock.now() - started < RETRY_BUDGET_MS
        if (!(err instanceof ConcurrencyError) || attempt >= MAX_ATTEMPTS || !budgetLeft) throw err
        await sleep(Math.random() * Math.min(100, 5 * 2 ** attempt))
      }
    }
  }

  /** Numbers, times and chains the batch after `head`. Times never go back along the chain. */
  private async build(key: CryptoKey | VersionedKey, batch: Pending[], head: AuditHead | undefined): Promise<AuditEventRecord[]> {
    const events: AuditEventRecord[] = []
    let seq = head?.seq ?? 0
    let prev = head?.hash ?? GENESIS
    let at = head?.at ?? 0
    const [hmacKey, keyId] = 'id' in key ? [key.key, key.id] : [key, undefined]
    for (const p of batch) {
      at = Math.max(at, p.at)
      seq++
      // Personal fields encrypted for this seq (their AAD names it), before the hash covers them.
      const content = p.plan ? sealPersonal(p.input, p.plan, seq) : p.input
      const e = { ...content, seq, at, prev, ...(keyId ? { keyId } : {}) }
      const hash = await chainHash(hmacKey, e)
      events.push({ ...e, hash })
      prev = hash
    }
    return events
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
