/**
 * The signing-key lifecycle (CONTRACT "jwks.json", "Administration": keys), decided from storage
 * alone so that every instance can run it at any time and they still agree.
 *
 * States: `next` (published, not signing) → `active` (signs) → `retired` (published until every
 * token it signed has expired, plus the margin) — or `revoked` from any state (gone at once).
 * With P = KEY_ROTATION_PERIOD, A = KEY_PUBLISH_AHEAD, T = ACCESS_TOKEN_TTL:
 *
 * - Scheduled rotation: when the active key has signed for P (`activatesAt + P <= now`) and the
 *   next key has been published for A (`createdAt + A <= now`), the next key becomes active
 *   (`activatesAt = now`), the active one retires (`retiredAt = now`, `expiresAt = now + T + A`)
 *   and a fresh next key is made (`createdAt = now`, planned `activatesAt = now + max(P, A)`).
 *   A gateway that pulls the JWKS every hour therefore knows a key A before it signs anything
 *   (A > 1 h) and keeps an old key until its last token expired plus A.
 * - Forced rotation (POST /keys/rotate): the same, now, whatever the next key's age.
 * - Revocation (DELETE /keys/{kid}): the key becomes `revoked` (`expiresAt = now`). A revoked
 *   active key is replaced in the same write by the next key (or a new key when there is none);
 *   a revoked next key by a new next key. Signing never stops.
 * - A retired key past `expiresAt` leaves the JWKS; its row stays (state `retired`) for listing.
 * - Repairs, whenever the ring is run: no active key → promote the next one (or make one);
 *   several active keys (two instances started on an empty store at once) → the oldest
 *   (`activatesAt`, then kid) stays, the others retire; no next key → make one; several next keys
 *   → the oldest stays, the others are withdrawn (never signed: `retired` with `expiresAt = now`);
 *   keys of an algorithm other than TOKEN_ALG retire (active) or are withdrawn (next).
 *
 * Concurrency: each step is one transaction in the key partition (`commitSigningKeys`) whose
 * updates are guarded by the etags as read; a step that only creates keys also rewrites the
 * signing key unchanged, so two instances making "the" next key conflict. The loser of a race
 * (ConcurrencyError) reloads and plans again from what the winner wrote, usually finding nothing
 * left to do. So after any interleaving of `rotate` calls there is exactly one active key of
 * TOKEN_ALG and one next key. (Only the very first start, on an empty store, has no row to guard
 * on: duplicates made there are repaired by the rules above on the next run.)
 */
import type { Config } from '../config.js'
import { ConcurrencyError, type SigningKeyRecord, type Store } from '../store/types.js'

/** What the caller wants besides the repairs. */
export type RotationIntent =
  /** Repairs only (first start: there must be a key that signs). */
  | { kind: 'repair' }
  /** The timer: repairs, and the scheduled rotation when it is due. */
  | { kind: 'scheduled' }
  /** POST /keys/rotate: `kid` (the key that signs now) stops signing now, if it still does. */
  | { kind: 'retire'; kid: string }
  /** DELETE /keys/{kid}: revoke `kid` now. */
  | { kind: 'revoke'; kid: string }

export interface RotationDeps {
  store: Store
  config: Config
  /** Makes a key pair record (private key wrapped), not stored yet. */
  generate(state: 'active' | 'next', activatesAt: number, createdAt: number): Promise<SigningKeyRecord>
}

export interface RotationResult {
  /** One line per step written by this call (empty: nothing to do, or another instance did it). */
  changes: string[]
  /** The keys after the call, as read back from storage. */
  records: SigningKeyRecord[]
  /** For `revoke`: whether the kid exists. */
  found: boolean
  /** The signing key (kid) before and after the call: they differ when a key was promoted. */
  signing: { before?: string; after?: string }
}

/** Bound on plan → write → conflict rounds; each lost round means another instance progressed. */
const MAX_ROUNDS = 8

/**
 * Runs the key ring's rules once against storage (see the module comment).
 *
 * @example
 * const { changes } = await rotate({ store, config, generate }, clock.now(), { kind: 'scheduled' })
 */
export async function rotate(deps: RotationDeps, now: number, intent: RotationIntent): Promise<RotationResult> {
  const { store, config } = deps
  const changes: string[] = []
  let pending: RotationIntent = intent
  let before: string | undefined
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const records = await store.listSigningKeys()
    const signing = signingKeyOf(records, config.tokenAlg)?.kid
    if (round === 0) before = signing
    const signingKeys = { before, after: signing }
    if (intent.kind === 'revoke' && !records.some((r) => r.kid === intent.kid))
      return { changes, records, found: false, signing: signingKeys }
    const step = plan(records, now, config, pending)
    if (!step) return { changes, records, found: true, signing: signingKeys }
    const created = await Promise.all(step.create.map((c) => deps.generate(c.state, c.activatesAt, now)))
    try {
      await store.commitSigningKeys([...step.update, ...created])
    } catch (e) {
      if (e instanceof ConcurrencyError) continue // another instance wrote first: plan again from its result
      throw e
    }
    changes.push(...step.why, ...created.map((k) => `created ${k.state} key ${k.kid}`))
    // The intent is done (or moot) once a step for it has been written; what is left is repair.
    pending = { kind: 'repair' }
  }
  throw new ConcurrencyError('signing keys: still changing after several rounds')
}

interface Step {
  /** Existing rows, changed (or unchanged, as a guard), each with the etag it was read with. */
  update: SigningKeyRecord[]
  create: { state: 'active' | 'next'; activatesAt: number }[]
  why: string[]
}

/** The signing key: the oldest active key of `alg` (by `activatesAt`, then kid). */
export function signingKeyOf(records: readonly SigningKeyRecord[], alg: string): SigningKeyRecord | undefined {
  return records.filter((r) => r.state === 'active' && r.alg === alg).sort(byActivation)[0]
}

/** In the JWKS: next and active keys, and retired keys until `expiresAt`. Never revoked ones. */
export function isPublished(r: SigningKeyRecord, now: number): boolean {
  return r.state === 'next' || r.state === 'active' || (r.state === 'retired' && (r.expiresAt ?? 0) > now)
}

const byKid = (a: SigningKeyRecord, b: SigningKeyRecord) => (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0)
const byActivation = (a: SigningKeyRecord, b: SigningKeyRecord) => a.activatesAt - b.activatesAt || byKid(a, b)
const byCreation = (a: SigningKeyRecord, b: SigningKeyRecord) => a.createdAt - b.createdAt || byKid(a, b)

/**
 * The next step from `records` (as read), or undefined when the ring is as it should be. Pure:
 * the same records, time and intent give the same step on every instance.
 */
export function plan(
  records: readonly SigningKeyRecord[],
  now: number,
  config: Config,
  intent: RotationIntent,
): Step | undefined {
  const P = config.keyRotationPeriod * 1000
  const A = config.keyPublishAhead * 1000
  const T = config.accessTokenTtl * 1000
  const alg = config.tokenAlg
  const work = new Map(records.map((r) => [r.kid, { ...r }]))
  const touched = new Set<string>()
  const create: Step['create'] = []
  const why: string[] = []
  const set = (r: SigningKeyRecord, reason: string) => {
    work.set(r.kid, r)
    touched.add(r.kid)
    why.push(`${reason} ${r.kid}`)
  }
  const all = () => [...work.values()]
  // Still published for every token it signed (exp ≤ now + T) plus the margin gateways need.
  const retire = (r: SigningKeyRecord): SigningKeyRecord => ({ ...r, state: 'retired', retiredAt: now, expiresAt: now + T + A })
  // Never signed anything: nothing to keep publishing.
  const withdraw = (r: SigningKeyRecord): SigningKeyRecord => ({ ...r, state: 'retired', retiredAt: now, expiresAt: now })
  const promote = (r: SigningKeyRecord): SigningKeyRecord => ({ ...r, state: 'active', activatesAt: now })
  const nextsOf = () => all().filter((r) => r.state === 'next' && r.alg === alg).sort(byCreation)

  // 1. What was asked for.
  if (intent.kind === 'revoke') {
    const target = work.get(intent.kid)
    if (target && target.state !== 'revoked') {
      const signed = target.state === 'active' || target.state === 'retired'
      set(
        {
          ...target,
          state: 'revoked',
          expiresAt: now,
          ...(signed ? { retiredAt: target.retiredAt ?? now } : {}),
        },
        'revoked',
      )
    }
  } else if (intent.kind === 'retire') {
    const target = work.get(intent.kid)
    if (target?.state === 'active') set(retire(target), 'retired')
  } else if (intent.kind === 'scheduled') {
    const active = signingKeyOf(all(), alg)
    const next = nextsOf()[0]
    if (active && next && active.activatesAt + P <= now && next.createdAt + A <= now) {
      set(retire(active), 'retired (rotation period over)')
    }
  }

  // 2. Repairs: exactly one active key of TOKEN_ALG…
  const actives = all().filter((r) => r.state === 'active' && r.alg === alg).sort(byActivation)
  let activeSince = now
  if (actives.length === 0) {
    const next = nextsOf()[0]
    if (next) set(promote(next), 'promoted')
    else create.push({ state: 'active', activatesAt: now })
  } else {
    activeSince = actives[0]!.activatesAt
    for (const extra of actives.slice(1)) set(retire(extra), 'retired (second active key)')
  }
  for (const other of all().filter((r) => r.state === 'active' && r.alg !== alg)) set(retire(other), 'retired (TOKEN_ALG changed)')
  // …and exactly one next key of TOKEN_ALG, published at least A before it may sign.
  const nexts = nextsOf()
  if (nexts.length === 0) create.push({ state: 'next', activatesAt: Math.max(now + A, activeSince + P) })
  for (const extra of nexts.slice(1)) set(withdraw(extra), 'withdrawn (second next key)')
  for (const other of all().filter((r) => r.state === 'next' && r.alg !== alg)) set(withdraw(other), 'withdrawn (TOKEN_ALG changed)')

  if (touched.size === 0 && create.length === 0) return undefined
  // A step that only creates keys rewrites one row as read, so that two instances doing the same
  // step conflict: the signing key, else the newest row. (An empty store has none to guard on.)
  if (touched.size === 0) {
    const anchor = signingKeyOf(records, alg) ?? [...records].sort(byCreation).at(-1)
    if (anchor) touched.add(anchor.kid)
  }
  return { update: [...touched].map((kid) => work.get(kid)!), create, why }
}
