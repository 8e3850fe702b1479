/**
 * Personal data in audit events, crypto-shredded (docs/audit.md "Personal data"). Each person's
 * account has its own random AES-256 key (row `pdkey` of the account's partition, wrapped under
 * the KEK's `audit-pd-wrap-v1` key). Before an event is hashed into the chain, its personal fields
 * are replaced by ciphertext under the key of the person they belong to:
 *
 * - `actor.username` under the actor's key, `target.username` under the target's;
 * - `ip` and `userAgent` under the actor's key when the actor is a person, else the target's
 *   when the target is one; with neither, they stay as they are (a process, a client, nobody).
 *
 * A field becomes `pd1:<userId>:<base64url(iv ‖ AES-256-GCM ciphertext ‖ tag)>`, the additional
 * data `pd1|<seq>|<field>|<userId>` binding it to its event and field: copied into another field
 * or event, it no longer decrypts. Deleting the account deletes the key, so those fields can never
 * be read again, while the chain (which hashes the ciphertext) still verifies.
 *
 * A person named by a field whose key cannot be had (the account is gone, or the event only
 * claims the id, e.g. the user handle of a refused sign-in) gets nothing stored: the field is left
 * out rather than kept readable.
 */
import { aesGcmDecryptSync, aesGcmEncryptSync } from '../crypto/fast.js'
import { openWith, seal, type RotatingKey } from '../crypto/kek.js'
import { LruTtl } from '../authz/lru.js'
import { ConcurrencyError, type AuditEventRecord, type AuditKeyRecord, type Store } from '../store/types.js'
import { decode, encode } from '../util/base64url.js'
import type { Clock } from '../util/clock.js'
import { randomBytes } from '../util/random.js'
import { REDACTED, type AuditEventType, type PersonalField } from './events.js'

/** The prefix of an encrypted field; usernames (a-z 0-9 . _ @ + -) and IP addresses never contain ':' after `pd1`. */
export const PD_PREFIX = 'pd1:'
export { PERSONAL_FIELDS, type PersonalField } from './events.js'

/**
 * Events whose user ids are only claimed by the request (a refused ceremony names the user handle
 * as sent): their personal fields are encrypted under an existing key, and never make one.
 */
const CLAIMED_SUBJECT: ReadonlySet<AuditEventType | string> = new Set<AuditEventType>(['ceremony.failed'])

/** Keys are cached per instance this long (docs/audit.md: after a deletion on another instance). */
export const PD_KEY_TTL_MS = 60_000
const PD_KEY_CACHE_MAX = 10_000

const te = new TextEncoder()
const td = new TextDecoder()
const wrapAad = (userId: string) => `audit-pd-key:${userId}`
const fieldAad = (seq: number, field: PersonalField, userId: string) => te.encode(`pd1|${seq}|${field}|${userId}`)

/** A person's key, or why there is none: `none` the id is not a person's (a client), `gone` no key can be had. */
export type KeyLookup = CryptoKey | 'none' | 'gone'

type StoreDeps = Pick<Store, 'getUser' | 'getAuditKey' | 'createAuditKey' | 'updateAuditKey' | 'listAuditKeysWrappedBy'>

/**
 * The accounts' personal-data keys: made at sign-up (`newKey`, stored by createAccount), made
 * lazily for an existing person on first need, unwrapped and cached (bounded LRU, PD_KEY_TTL_MS).
 */
export class PersonalDataKeys {
  private readonly cache: LruTtl<CryptoKey | 'none'>

  constructor(
    private readonly deps: { store: StoreDeps; clock: Clock; wrapKey: Promise<RotatingKey>; ttlMs?: number; max?: number },
  ) {
    this.cache = new LruTtl(deps.max ?? PD_KEY_CACHE_MAX)
  }

  private get ttl(): number {
    return this.deps.ttlMs ?? PD_KEY_TTL_MS
  }

  /**
   * A fresh key for a new account: the record for createAccount, and the key (give it to
   * `remember` once the account is stored).
   *
   * @example
   * const pd = await core.personal.newKey(user.id)
   * await store.createAccount({ user, credential, session, auditKey: pd.record })
   * core.personal.remember(user.id, pd.key)
   */
  async newKey(userId: string): Promise<{ record: AuditKeyRecord; key: CryptoKey }> {
    const raw = randomBytes(32)
    const wrap = await this.deps.wrapKey
    const record: AuditKeyRecord = { userId, wrappedKey: await seal(wrap, raw, wrapAad(userId)), wrappedBy: wrap.current.id, createdAt: this.deps.clock.now() }
    const key = await importRaw(raw)
    raw.fill(0)
    return { record, key }
  }

  remember(userId: string, key: CryptoKey): void {
    this.cache.set(userId, key, this.deps.clock.now() + this.ttl)
  }

  /** This instance stops using the key at once (others within PD_KEY_TTL_MS). */
  forget(userId: string): void {
    this.cache.delete(userId)
  }

  /**
   * The key of `userId`: cached, else read; with `create`, made for an existing person who has
   * none (insert-if-absent guarded by the user row: never for a missing, deleted or client id;
   * a lost race reads the winner's).
   */
  async keyOf(userId: string, { create }: { create: boolean }): Promise<KeyLookup> {
    const cached = this.cache.get(userId, this.deps.clock.now())
    if (cached) return cached
    const { store } = this.deps
    for (let attempt = 0; attempt < 3; attempt++) {
      const stored = await store.getAuditKey(userId)
      if (stored) return this.adopt(stored)
      if (!create) return 'gone'
      const user = await store.getUser(userId)
      if (!user || user.deletedAt !== undefined) return 'gone'
      if (user.username === '') {
        // A client's principal: never a person (cached: it cannot become one).
        this.cache.set(userId, 'none', this.deps.clock.now() + this.ttl)
        return 'none'
      }
      const made = await this.newKey(userId)
      try {
        await store.createAuditKey(made.record, user)
        this.remember(userId, made.key)
        return made.key
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err
        // Another request made it first, or the user row changed (a deletion began?): look again.
      }
    }
    return 'gone'
  }

  /** Unwraps a stored key (re-wrapping it under the current KEK when the previous one opened it). */
  private async adopt(stored: AuditKeyRecord): Promise<CryptoKey> {
    const wrap = await this.deps.wrapKey
    const opened = await openWith(wrap, stored.wrappedKey, wrapAad(stored.userId), stored.wrappedBy)
    if (!opened) throw new Error(`audit: the personal-data key of an account does not open with KEY_ENCRYPTION_KEY (wrapped by ${stored.wrappedBy ?? 'an unnamed key'})`)
    const key = await importRaw(opened.plain)
    // During a change of KEY_ENCRYPTION_KEY: wrapped again under the current one (best effort;
    // a lost race leaves the winner's row).
    await this.rewrap(stored, wrap, opened).catch(() => false)
    opened.plain.fill(0)
    this.remember(stored.userId, key)
    return key
  }

  /** Writes `stored` back wrapped by the current KEK, if another opened it (etag-guarded). */
  private async rewrap(stored: AuditKeyRecord, wrap: RotatingKey, opened: { plain: Uint8Array<ArrayBuffer>; id?: string }): Promise<boolean> {
    if (opened.id === undefined || opened.id === wrap.current.id) return false
    const next = { ...stored, wrappedKey: await seal(wrap, opened.plain, wrapAad(stored.userId)), wrappedBy: wrap.current.id }
    await this.deps.store.updateAuditKey(next)
    return true
  }

  /**
   * The rotation timer's sweep during a change of KEY_ENCRYPTION_KEY (PREVIOUS set): up to `max`
   * keys still wrapped by the previous KEK are wrapped again under the current one, so that
   * accounts nobody reads during the overlap stay readable once PREVIOUS goes. Only keys the
   * previous KEK wrapped are listed: keys of an older KEK (left over from an earlier change) open
   * with neither and can never hold the sweep up. `left`: keys that changed meanwhile (a request
   * re-wrapped one, or the account's deletion began); a later run looks again. Nothing to do (no
   * PREVIOUS): no storage read.
   */
  async rewrapStale(max: number): Promise<{ rewrapped: number; left: number }> {
    const wrap = await this.deps.wrapKey
    if (!wrap.previous) return { rewrapped: 0, left: 0 }
    let rewrapped = 0
    let left = 0
    for (const stored of await this.deps.store.listAuditKeysWrappedBy({ wrappedBy: wrap.previous.id, max })) {
      const opened = await openWith(wrap, stored.wrappedKey, wrapAad(stored.userId), stored.wrappedBy)
      if (!opened) {
        left++
        continue
      }
      try {
        if (await this.rewrap(stored, wrap, opened)) rewrapped++
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err
        left++ // changed meanwhile (a request re-wrapped it, or the account's deletion began)
      } finally {
        opened.plain.fill(0)
      }
    }
    return { rewrapped, left }
  }
}

const isKey = (k: KeyLookup | undefined): k is CryptoKey => typeof k === 'object'

const importRaw = (raw: Uint8Array<ArrayBuffer>) => crypto.subtle.importKey('raw', raw, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])

/** An event's content before numbering, as the log sanitised it. */
type Clean = Pick<AuditEventRecord, 'type' | 'actor' | 'target' | 'ip' | 'userAgent'>

/** Whose key each personal field of one event goes under (resolved before the event is queued). */
export interface PersonalPlan {
  actor?: { userId: string; key: CryptoKey }
  target?: { userId: string; key: CryptoKey }
  /** ip and user agent: under this owner, or `omit` (a person without a key), or kept (`undefined`). */
  origin?: { userId: string; key: CryptoKey } | 'omit'
  /** A username beside a person's id whose key cannot be had: left out. */
  drop: ('actor.username' | 'target.username')[]
}

/**
 * Whose keys an event's personal fields need, making a key for a person who has none (except
 * for events that only claim an id, CLAIMED_SUBJECT).
 */
export async function planPersonal(keys: PersonalDataKeys, e: Clean): Promise<PersonalPlan> {
  const create = !CLAIMED_SUBJECT.has(e.type)
  const lookups = new Map<string, Promise<KeyLookup>>()
  const lookup = (userId: string | undefined) => {
    if (!userId) return undefined
    let p = lookups.get(userId)
    if (!p) lookups.set(userId, (p = keys.keyOf(userId, { create })))
    return p
  }
  const [a, t] = await Promise.all([lookup(e.actor.userId), lookup(e.target.userId)])
  const plan: PersonalPlan = { drop: [] }
  const owner = (userId: string | undefined, k: KeyLookup | undefined) => (userId && isKey(k) ? { userId, key: k } : undefined)
  const actor = owner(e.actor.userId, a)
  const target = owner(e.target.userId, t)
  if (actor) plan.actor = actor
  if (target) plan.target = target
  if (e.actor.username && a === 'gone') plan.drop.push('actor.username')
  if (e.target.username && t === 'gone') plan.drop.push('target.username')
  // An id only claimed by the request (a refused ceremony's user handle) without a key proves no
  // person: its origin stays as it is, so a caller cannot keep its address out of the log by
  // naming some random handle.
  const omit = (k: KeyLookup | undefined) => (k === 'gone' && create ? 'omit' : undefined)
  const origin = actor ?? omit(a) ?? target ?? omit(t)
  if (origin) plan.origin = origin
  return plan
}

function encryptField(owner: { userId: string; key: CryptoKey }, seq: number, field: PersonalField, value: string): string {
  const iv = randomBytes(12)
  const ct = aesGcmEncryptSync(owner.key, iv, te.encode(value), fieldAad(seq, field, owner.userId))
  const out = new Uint8Array(12 + ct.length)
  out.set(iv)
  out.set(ct, 12)
  return `${PD_PREFIX}${owner.userId}:${encode(out)}`
}

/** A value that looks like ours but was not made here (kept as is) is not kept: it would read as erased. */
const clear = (v: string) => (v.startsWith(PD_PREFIX) ? REDACTED : v)

/**
 * The event with its personal fields encrypted as `plan` says, for sequence number `seq` (run
 * again when a lost race renumbers the event).
 */
export function sealPersonal<E extends Clean>(e: E, plan: PersonalPlan, seq: number): E {
  const out = { ...e, actor: { ...e.actor }, target: { ...e.target } }
  for (const side of ['actor', 'target'] as const) {
    const name = out[side].username
    if (name === undefined) continue
    const field = `${side}.username` as const
    const owner = plan[side]
    if (owner) out[side].username = encryptField(owner, seq, field, name)
    else if (plan.drop.includes(field)) delete out[side].username
    else out[side].username = clear(name)
  }
  for (const field of ['ip', 'userAgent'] as const) {
    const v = out[field]
    if (v === undefined) continue
    if (plan.origin === 'omit') delete out[field]
    else if (plan.origin) out[field] = encryptField(plan.origin, seq, field, v)
    else out[field] = clear(v)
  }
  return out
}

/** Who owns an encrypted field (`pd1:<userId>:…`), else undefined. */
export function ownerOf(v: string | undefined): string | undefined {
  if (!v?.startsWith(PD_PREFIX)) return undefined
  const end = v.indexOf(':', PD_PREFIX.length)
  return end > PD_PREFIX.length ? v.slice(PD_PREFIX.length, end) : undefined
}

/** An event as shown: personal fields in clear where their key exists, else absent and listed. */
export type RevealedEvent = AuditEventRecord & { erased?: PersonalField[]; undecryptable?: PersonalField[] }

/**
 * Decrypts the personal fields of a page of events for display (GET /api/manage/audit). A field
 * whose owner's key is gone (the account was deleted) is left out and named in `erased`; one
 * that does not decrypt under an existing key (altered, or moved from another field or event) is
 * left out and named in `undecryptable`. Keys are looked up, never made.
 */
export async function revealPersonal(keys: PersonalDataKeys, events: AuditEventRecord[]): Promise<RevealedEvent[]> {
  const owners = new Set<string>()
  for (const e of events) for (const v of [e.actor.username, e.target.username, e.ip, e.userAgent]) {
    const o = ownerOf(v)
    if (o) owners.add(o)
  }
  const found = new Map<string, KeyLookup>()
  const ids = [...owners]
  for (let i = 0; i < ids.length; i += 16)
    await Promise.all(ids.slice(i, i + 16).map(async (id) => found.set(id, await keys.keyOf(id, { create: false }))))

  return events.map((e) => {
    const out: RevealedEvent = { ...e, actor: { ...e.actor }, target: { ...e.target } }
    const erased: PersonalField[] = []
    const bad: PersonalField[] = []
    const reveal = (field: PersonalField, v: string | undefined, set: (plain: string | undefined) => void) => {
      if (v === undefined || !v.startsWith(PD_PREFIX)) return
      const userId = ownerOf(v)
      const key = userId ? found.get(userId) : undefined
      if (!isKey(key)) {
        set(undefined)
        ;(userId ? erased : bad).push(field)
        return
      }
      const plain = decryptField(key, userId!, e.seq, field, v)
      set(plain)
      if (plain === undefined) bad.push(field)
    }
    reveal('actor.username', e.actor.username, (p) => (p === undefined ? delete out.actor.username : (out.actor.username = p)))
    reveal('target.username', e.target.username, (p) => (p === undefined ? delete out.target.username : (out.target.username = p)))
    reveal('ip', e.ip, (p) => (p === undefined ? delete out.ip : (out.ip = p)))
    reveal('userAgent', e.userAgent, (p) => (p === undefined ? delete out.userAgent : (out.userAgent = p)))
    if (erased.length) out.erased = erased
    if (bad.length) out.undecryptable = bad
    return out
  })
}

/** The clear value of an encrypted field of event `seq`, or undefined when it does not decrypt there. */
export function decryptField(key: CryptoKey, userId: string, seq: number, field: PersonalField, v: string): string | undefined {
  const prefix = `${PD_PREFIX}${userId}:`
  if (!v.startsWith(prefix)) return undefined
  try {
    const bytes = decode(v.slice(prefix.length))
    if (bytes.length < 12 + 16) return undefined
    return td.decode(aesGcmDecryptSync(key, bytes.subarray(0, 12), bytes.subarray(12), fieldAad(seq, field, userId)))
  } catch {
    return undefined
  }
}
