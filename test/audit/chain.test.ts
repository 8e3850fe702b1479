/**
 * shared/audit: the hash chain, the append path (group commit, lost races between instances),
 * sanitising, and the verifier's findings, on the memory store (no Azurite; test/audit/audit.test.ts
 * does it all again over HTTP against a real one).
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { GENESIS, canonicalJson, chainHash, chainInput, deriveAuditKey } from '../../shared/audit/chain.js'
import { REDACTED, auditId, sanitizeAuditInput } from '../../shared/audit/events.js'
import { AuditLog } from '../../shared/audit/log.js'
import { verifyAuditChain } from '../../shared/audit/verify.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import { ConcurrencyError, type AuditEventRecord, type AuditHead } from '../../shared/store/types.js'
import { ManualClock } from '../../shared/util/clock.js'

const kek = () => new Uint8Array(randomBytes(32)) as Uint8Array<ArrayBuffer>

async function filledLog(n: number) {
  const store = createMemoryStore()
  const clock = new ManualClock(Date.UTC(2025, 0, 1))
  const key = await deriveAuditKey(kek())
  const log = new AuditLog({ store, clock, key: Promise.resolve(key), logError: () => {} })
  for (let i = 1; i <= n; i++) {
    await log.append({ type: 'role.put', actor: { userId: 'admin1' }, target: { role: `r${i}` }, ip: '203.0.113.1' })
    clock.advance(1000)
  }
  const head = (await store.getAuditHead())!
  const events = await store.listAudit(1, 1000)
  return { store, clock, key, log, head, events }
}

/** A read-only view of a chain that a test has edited by hand. */
function view(events: AuditEventRecord[], head: AuditHead | undefined) {
  return {
    getAuditHead: async () => head,
    listAudit: async (from: number, limit: number) =>
      events
        .filter((e) => e.seq >= from)
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit),
  }
}

describe('RFC 8785 canonical JSON (the hashed form)', () => {
  it('sorts keys at every depth, drops undefined members, no whitespace', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: true }, u: undefined }), '{"a":{"c":true,"d":[1,"x",null]},"b":1}')
    assert.equal(canonicalJson('é"'), '"é\\""')
  })

  it('the hashed form holds seq, time, type, outcome, who, whom, where, detail and prev', () => {
    const e = { seq: 7, at: 1, type: 'role.put', outcome: 'success' as const, actor: { userId: 'u' }, target: {}, detail: {}, prev: GENESIS, ip: '1.2.3.4' }
    const parsed = JSON.parse(chainInput(e))
    assert.deepEqual(Object.keys(parsed), ['actor', 'at', 'detail', 'ip', 'outcome', 'prev', 'seq', 'target', 'type', 'v'])
  })
})

describe('AuditLog.append: one linear chain', () => {
  it('numbers events 1, 2, 3… and links each to the previous hash (genesis first)', async () => {
    const { events, head, key } = await filledLog(5)
    assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4, 5])
    assert.equal(events[0]!.prev, GENESIS)
    for (let i = 1; i < events.length; i++) assert.equal(events[i]!.prev, events[i - 1]!.hash)
    for (const e of events) assert.equal(await chainHash(key, e), e.hash)
    assert.deepEqual({ seq: head.seq, hash: head.hash }, { seq: 5, hash: events[4]!.hash })
  })

  it('caches the head: after the first append, an append is one store call (no read first)', async () => {
    const { store, log } = await filledLog(1)
    const before = { ...store.calls }
    await log.append({ type: 'role.deleted', target: { role: 'x' } })
    assert.equal((store.calls.getAuditHead ?? 0) - (before.getAuditHead ?? 0), 0)
    assert.equal((store.calls.appendAudit ?? 0) - (before.appendAudit ?? 0), 1)
  })

  it('group commit: 250 appends at once on one instance take a few transactions, in call order', async () => {
    const { store, log, key } = await filledLog(0)
    const results = await Promise.all(
      Array.from({ length: 250 }, (_, i) => log.append({ type: 'role.put', target: { role: `g${i}` } })),
    )
    assert.deepEqual(results.map((e) => e.seq), Array.from({ length: 250 }, (_, i) => i + 1))
    assert.ok((store.calls.appendAudit ?? 0) <= 4, `transactions: ${store.calls.appendAudit}`)
    assert.equal((await verifyAuditChain({ store, key })).ok, true)
  })

  it('two instances on one store: lost races re-read the head, renumber and re-hash; the chain stays linear', async () => {
    const store = createMemoryStore()
    const clock = new ManualClock()
    const key = await deriveAuditKey(kek())
    const a = new AuditLog({ store, clock, key: Promise.resolve(key) })
    const b = new AuditLog({ store, clock, key: Promise.resolve(key) })
    const all = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).append({ type: 'token.refreshed', target: { sessionId: `s${i}` } })),
    )
    assert.deepEqual(all.map((e) => e.seq).sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i + 1))
    const r = await verifyAuditChain({ store, key })
    assert.deepEqual({ ok: r.ok, events: r.events }, { ok: true, events: 60 })
  })

  it('eight instances appending at once, each in a steady stream: nothing lost (events queued during a lost race ride along)', async () => {
    const inner = createMemoryStore()
    // A round trip takes time, as Table Storage's does: between reading the head and the write
    // landing, other instances commit.
    const store = { ...inner, appendAudit: async (...a: Parameters<typeof inner.appendAudit>) => {
      await new Promise((r) => setTimeout(r, 1))
      return inner.appendAudit(...a)
    } }
    const clock = new ManualClock()
    const key = await deriveAuditKey(kek())
    const logs = Array.from({ length: 8 }, () => new AuditLog({ store, clock, key: Promise.resolve(key), logError: () => {} }))
    // Each instance has 6 requests in flight, each appending 25 events one after another.
    const results = await Promise.allSettled(
      logs.flatMap((log, w) =>
        Array.from({ length: 6 }, async (_, lane) => {
          for (let i = 0; i < 25; i++) await log.append({ type: 'user.signed_in', target: { sessionId: `w${w}l${lane}i${i}` } })
        }),
      ),
    )
    assert.deepEqual(results.filter((r) => r.status === 'rejected'), [], 'no append failed')
    const r = await verifyAuditChain({ store, key })
    assert.deepEqual({ ok: r.ok, events: r.events }, { ok: true, events: 8 * 6 * 25 })
  })

  it('out of lost races, only the events that were in the first attempt fail; ones that joined during the retries get their own', async () => {
    const inner = createMemoryStore()
    const clock = new ManualClock()
    let calls = 0
    // The first three transactions lose their race, each taking 2 s: the 5 s budget runs out.
    const store = { ...inner, appendAudit: async (...a: Parameters<typeof inner.appendAudit>) => {
      if (++calls <= 3) {
        clock.advance(2000)
        throw new ConcurrencyError('audit head')
      }
      return inner.appendAudit(...a)
    } }
    const key = await deriveAuditKey(kek())
    const log = new AuditLog({ store, clock, key: Promise.resolve(key), logError: () => {} })
    const first = log.append({ type: 'role.put', target: { role: 'first' } })
    const late = log.append({ type: 'role.put', target: { role: 'late' } }) // queued while the first is in flight
    await assert.rejects(first, ConcurrencyError)
    const stored = await late
    assert.equal(stored.target.role, 'late')
    assert.deepEqual((await inner.listAudit(1, 10)).map((e) => e.target.role), ['late'])
  })

  it('times never go back along the chain, even when a clock does', async () => {
    const { store, clock, log, key } = await filledLog(2)
    clock.advance(-60_000)
    const e = await log.append({ type: 'role.put', target: { role: 'late' } })
    assert.equal(e.at, (await store.getAuditEvent(2))!.at)
    assert.equal((await verifyAuditChain({ store, key })).ok, true)
  })

  it('record() is best effort: a storage failure resolves undefined and logs one line without values', async () => {
    const store = createMemoryStore()
    const lines: string[] = []
    const log = new AuditLog({ store, clock: new ManualClock(), key: deriveAuditKey(kek()), logError: (m) => lines.push(m) })
    store.down = true
    const r = await log.record({ type: 'user.signed_in', actor: { userId: 'u1', username: 'secret-ish-name' } })
    assert.equal(r, undefined)
    assert.equal(lines.length, 1)
    assert.match(lines[0]!, /^audit: could not record user\.signed_in \(storage_unavailable\)/)
    assert.doesNotMatch(lines[0]!, /u1|secret-ish-name/)
    store.down = false
    assert.equal((await log.record({ type: 'user.signed_in' }))?.seq, 1, 'the next append reads the head again')
  })
})

describe('sanitizeAuditInput: never a secret', () => {
  it('drops detail keys that name secrets and redacts token-shaped values anywhere', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'
    const refresh = 'AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB.CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'
    const e = sanitizeAuditInput({
      type: 'token.refreshed',
      actor: { userId: jwt },
      target: { sessionId: refresh },
      detail: { refresh_token: refresh, access_token: jwt, client_assertion: 'x', nested: { id_token: jwt, note: jwt }, list: [refresh], scope: 'openid' },
    })
    assert.equal(e.actor.userId, REDACTED)
    assert.equal(e.target.sessionId, REDACTED)
    assert.deepEqual(e.detail, { nested: { note: REDACTED }, list: [REDACTED], scope: 'openid' })
  })

  it('keeps only known actor/target keys; user agent ≤ 256 characters; detail ≤ 8 KiB', () => {
    const e = sanitizeAuditInput({
      type: 'user.signed_in',
      actor: { userId: 'u', extra: 'x' } as never,
      userAgent: 'a'.repeat(1000),
      detail: { big: Array.from({ length: 50 }, () => 'b'.repeat(500)) },
    })
    assert.deepEqual(e.actor, { userId: 'u' })
    assert.equal(e.userAgent!.length, 256)
    assert.deepEqual(e.detail, { truncated: true })
    assert.throws(() => sanitizeAuditInput({ type: 'no.such' as never }), TypeError)
  })
})

describe('verifyAuditChain: names the first bad event', () => {
  it('a whole chain verifies; an empty log verifies', async () => {
    const { store, key } = await filledLog(5)
    assert.deepEqual(await verifyAuditChain({ store, key, pageSize: 2 }), { ok: true, events: 5, head: await store.getAuditHead() })
    assert.deepEqual(await verifyAuditChain({ store: createMemoryStore(), key }), { ok: true, events: 0 })
  })

  it('an edited field → hash_mismatch at that event', async () => {
    const { events, head, key } = await filledLog(5)
    events[2] = { ...events[2]!, ip: '198.51.100.66' }
    const r = await verifyAuditChain({ store: view(events, head), key })
    assert.deepEqual(r.problem && { kind: r.problem.kind, seq: r.problem.seq, id: r.problem.id }, { kind: 'hash_mismatch', seq: 3, id: auditId(3) })
    assert.equal(r.events, 2)
  })

  it('an edit whose hashes were recomputed without the KEK (plain SHA-256) → hash_mismatch', async () => {
    const { events, head, key } = await filledLog(4)
    // The attacker rewrites event 2 and every later hash, and the head, with SHA-256.
    let prev = events[0]!.hash
    for (let i = 1; i < events.length; i++) {
      const e = { ...events[i]!, prev, ...(i === 1 ? { type: 'role.deleted' } : {}) }
      e.hash = createHash('sha256').update(chainInput(e) + prev).digest('base64url')
      events[i] = e
      prev = e.hash
    }
    const r = await verifyAuditChain({ store: view(events, { ...head, hash: prev }), key })
    assert.equal(r.problem?.kind, 'hash_mismatch')
    assert.equal(r.problem?.seq, 2)
  })

  it('a deleted middle event → gap naming it', async () => {
    const { events, head, key } = await filledLog(5)
    const r = await verifyAuditChain({ store: view(events.filter((e) => e.seq !== 3), head), key })
    assert.equal(r.problem?.kind, 'gap')
    assert.equal(r.problem?.seq, 3)
    assert.match(r.problem!.message, /event 3 is missing/)
  })

  it('deleted last events → truncated, naming the first missing one (the head still says 5)', async () => {
    const { events, head, key } = await filledLog(5)
    const r = await verifyAuditChain({ store: view(events.slice(0, 3), head), key })
    assert.deepEqual([r.problem?.kind, r.problem?.seq], ['truncated', 4])
    assert.match(r.problem!.message, /events 4–5 are missing/)
  })

  it('reordered events → broken_link at the first moved one', async () => {
    const { events, head, key } = await filledLog(5)
    const [e2, e3] = [events[1]!, events[2]!]
    events[1] = { ...e3, seq: 2 }
    events[2] = { ...e2, seq: 3 }
    const r = await verifyAuditChain({ store: view(events, head), key })
    assert.deepEqual([r.problem?.kind, r.problem?.seq], ['broken_link', 2])
  })

  it('head missing, or not matching the last event → reported', async () => {
    const { events, head, key } = await filledLog(3)
    const missing = await verifyAuditChain({ store: view(events, undefined), key })
    assert.deepEqual([missing.problem?.kind, missing.problem?.id], ['head_missing', 'head'])
    const wrong = await verifyAuditChain({ store: view(events, { ...head, hash: events[0]!.hash }), key })
    assert.deepEqual([wrong.problem?.kind, wrong.problem?.seq], ['head_mismatch', 3])
  })

  it('another key → hash_mismatch at event 1', async () => {
    const { store } = await filledLog(2)
    const r = await verifyAuditChain({ store, key: await deriveAuditKey(kek()) })
    assert.deepEqual([r.problem?.kind, r.problem?.seq], ['hash_mismatch', 1])
  })

  it('an anchor from an earlier run catches a rollback of events and head together', async () => {
    const { events, head, key } = await filledLog(5)
    const anchor = { seq: 5, hash: head.hash }
    assert.equal((await verifyAuditChain({ store: view(events, head), key, anchor })).ok, true)
    const rolledBack = { seq: 3, hash: events[2]!.hash, at: events[2]!.at }
    const r = await verifyAuditChain({ store: view(events.slice(0, 3), rolledBack), key, anchor })
    assert.deepEqual([r.problem?.kind, r.problem?.seq], ['anchor_mismatch', 5])
    assert.equal((await verifyAuditChain({ store: view(events.slice(0, 3), rolledBack), key })).ok, true, 'without an anchor a rollback is invisible')
  })
})

describe('AuditLog.list: pages, oldest first', () => {
  it('after an event id, or at/after a time (binary search over monotone times)', async () => {
    const { log, events } = await filledLog(9)
    assert.deepEqual((await log.list(undefined, 4)).map((e) => e.seq), [1, 2, 3, 4])
    assert.deepEqual((await log.list({ afterSeq: 4 }, 4)).map((e) => e.seq), [5, 6, 7, 8])
    assert.deepEqual((await log.list({ at: events[6]!.at }, 100)).map((e) => e.seq), [7, 8, 9])
    assert.deepEqual((await log.list({ at: events[6]!.at - 1 }, 100)).map((e) => e.seq), [7, 8, 9])
    assert.deepEqual((await log.list({ at: 0 }, 2)).map((e) => e.seq), [1, 2])
    assert.deepEqual(await log.list({ at: events[8]!.at + 1 }, 100), [])
  })
})
