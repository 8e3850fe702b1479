/**
 * Signing keys: generated on first start, private keys encrypted at rest (AES-256-GCM under a
 * key derived from KEY_ENCRYPTION_KEY, AAD = kid), published as a JWKS (RFC 7517).
 *
 * States (CONTRACT "jwks.json"): `next` (published, not signing yet), `active` (signs),
 * `retired` (published until its last token expired plus KEY_PUBLISH_AHEAD), `revoked` (gone).
 * How keys move between them is shared/tokens/rotation.ts; this class holds this instance's copy.
 *
 * Every instance reads the same records from storage. Its copy is at most REFRESH_MS old when
 * used (refreshed in the background from SOFT_REFRESH_MS on, so a busy instance never waits),
 * and is replaced at once by what this instance itself writes (rotation, revocation). Hence the
 * revocation bound: a key revoked on one instance stops verifying and signing there at once, and
 * on every other instance within REFRESH_MS (60 s).
 *
 * Changing KEY_ENCRYPTION_KEY (docs/security.md "Changing KEY_ENCRYPTION_KEY"): each record names
 * the KEK that wrapped it (`wrappedBy`, a key id). With KEY_ENCRYPTION_KEY_PREVIOUS set, a key
 * wrapped with the previous KEK still opens, and the timer's run (`rotate`) re-wraps the keys that
 * may still sign (next, active) under the current one, each written back under the etag it was
 * read with: once, by whichever instance gets there first (a lost race leaves the winner's row).
 * Not on first use: during the restart that brings the new setting, instances that still run
 * with the old key alone must keep opening the stored keys.
 */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, type JWK } from 'jose'
import type { Config, TokenAlg } from '../config.js'
import { keysOf, openWith, seal, type SealKey } from '../crypto/kek.js'
import { KeyEncryptionKeyMismatch } from '../errors.js'
import { ConcurrencyError, type SigningKeyRecord, type Store } from '../store/types.js'
import type { Clock } from '../util/clock.js'
import { isPublished, rotate, signingKeyOf, type RotationDeps, type RotationResult } from './rotation.js'

/** The most a copy of the keys may have aged when used: the cross-instance revocation bound. */
export const REFRESH_MS = 60_000
/** From this age on, a use refreshes the copy in the background. */
const SOFT_REFRESH_MS = 30_000
/** A kid we do not know makes us reload at most this often (a stream of made-up kids stays cheap). */
const UNKNOWN_KID_RELOAD_MS = 5_000
const te = new TextEncoder()
const td = new TextDecoder()

/** A key re-wrapped under KEY_ENCRYPTION_KEY by `rotate` (key ids: `from` absent when unrecorded). */
export interface Rewrapped {
  kid: string
  from?: string
  to: string
}

export interface SigningKey {
  kid: string
  alg: TokenAlg
  privateKey: CryptoKey
}

interface Loaded {
  /** When it was read (the clock's time at the start of the read). */
  at: number
  records: SigningKeyRecord[]
  byKid: Map<string, SigningKeyRecord>
  /** The key that signs: always in state `active` and of TOKEN_ALG. */
  active: SigningKeyRecord
}

export class KeyRing {
  /** The newest copy (by `seq`); reads that started earlier never replace a later one. */
  private snap: { seq: number; loaded: Loaded } | undefined
  private inflight: Promise<Loaded> | undefined
  private seq = 0
  private lastUnknownReload = -Infinity
  private readonly privateKeys = new Map<string, Promise<CryptoKey>>()
  private readonly publicKeys = new Map<string, Promise<CryptoKey>>()
  private readonly rotation: RotationDeps

  constructor(
    private readonly deps: {
      store: Store
      config: Config
      clock: Clock
      /** Wraps private keys; a rotating key (current and previous KEK) also re-wraps them. */
      wrapKey: Promise<SealKey>
    },
  ) {
    this.rotation = {
      store: deps.store,
      config: deps.config,
      generate: (state, activatesAt, createdAt) => this.generate(state, activatesAt, createdAt),
    }
  }

  /** The key that signs now. */
  async signingKey(): Promise<SigningKey> {
    const { active } = await this.current()
    let pk = this.privateKeys.get(active.kid)
    if (!pk) {
      pk = this.unwrap(active)
      this.privateKeys.set(active.kid, pk)
      pk.catch(() => this.privateKeys.delete(active.kid))
    }
    return { kid: active.kid, alg: active.alg as TokenAlg, privateKey: await pk }
  }

  /** Public keys that verify: next, active and retired ones still within their publication window. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const { records } = await this.current()
    const now = this.deps.clock.now()
    return { keys: records.filter((r) => isPublished(r, now)).map((r) => ({ ...r.publicJwk }) as JWK) }
  }

  /**
   * The verification key for a kid we publish, bound to its algorithm; undefined otherwise (a
   * revoked key, a retired one past its window, or a kid we never made). The state is checked on
   * every call, so a key cached here stops verifying as soon as the copy says it is revoked.
   */
  async verificationKey(kid: string): Promise<{ key: CryptoKey; alg: string } | undefined> {
    let loaded = await this.current()
    let rec = loaded.byKid.get(kid)
    const now = this.deps.clock.now()
    if (!rec && now - this.lastUnknownReload >= UNKNOWN_KID_RELOAD_MS) {
      // A kid we have not seen may be a key another instance just made: reload (rate-limited).
      this.lastUnknownReload = now
      loaded = await this.reload()
      rec = loaded.byKid.get(kid)
    }
    if (!rec || !isPublished(rec, this.deps.clock.now())) return undefined
    let k = this.publicKeys.get(kid)
    if (!k) {
      k = importJWK(rec.publicJwk as JWK, rec.alg) as Promise<CryptoKey>
      this.publicKeys.set(kid, k)
      k.catch(() => this.publicKeys.delete(kid))
    }
    return { key: await k, alg: rec.alg }
  }

  /**
   * Whether tokens signed by `kid` still verify (published, not revoked): for caches of tokens
   * verified earlier (the authorizer's). Synchronous while this instance's copy is fresh.
   */
  trusts(kid: string): boolean | Promise<boolean> {
    const s = this.snap?.loaded
    const now = this.deps.clock.now()
    if (s && now - s.at < REFRESH_MS) {
      if (now - s.at >= SOFT_REFRESH_MS) this.refreshBehind()
      const rec = s.byKid.get(kid)
      return !!rec && isPublished(rec, now)
    }
    return this.current().then((l) => {
      const rec = l.byKid.get(kid)
      return !!rec && isPublished(rec, this.deps.clock.now())
    })
  }

  /** All key records (for administration), read now. */
  async list(): Promise<SigningKeyRecord[]> {
    return (await this.reload()).records
  }

  /**
   * The timer's job (every instance may run it, any time): repairs and the scheduled rotation
   * (shared/tokens/rotation.ts). This instance uses the result at once.
   *
   * @example
   * const { changes } = await keyRing.rotate()
   */
  async rotate(now = this.deps.clock.now()): Promise<RotationResult & { rewrapped: Rewrapped[] }> {
    // An instance whose KEY_ENCRYPTION_KEY cannot open the keys in storage must not add keys
    // sealed with its own (the others could not sign with them): KeyEncryptionKeyMismatch.
    // (One read per timer run; an empty store has nothing to open. Any live key will do: after a
    // TOKEN_ALG change there may be none of the new algorithm yet.)
    const stored = await this.deps.store.listSigningKeys()
    const live = signingKeyOf(stored, this.deps.config.tokenAlg) ?? stored.find((r) => r.state !== 'revoked')
    if (live) await this.unwrap(live)
    const rewrapped = await this.rewrap(stored)
    const result = await rotate(this.rotation, now, { kind: 'scheduled' })
    this.adopt(result.records)
    return { ...result, changes: [...rewrapped.map((r) => `re-wrapped key ${r.kid} under KEY_ENCRYPTION_KEY ${r.to}`), ...result.changes], rewrapped }
  }

  /**
   * During a change of KEY_ENCRYPTION_KEY (KEY_ENCRYPTION_KEY_PREVIOUS set): the keys that may
   * still sign (next, active) not recorded as wrapped by the current KEK are opened and wrapped
   * again under it, each written under the etag it was read with. A lost race (another instance
   * re-wrapped it, or a rotation changed it) is left to the winner: the next run looks again. A
   * key neither KEK opens is left as it is (signing with it answers KeyEncryptionKeyMismatch).
   * Retired keys never sign again and are not re-wrapped.
   */
  private async rewrap(stored: SigningKeyRecord[]): Promise<Rewrapped[]> {
    const wrapKey = await this.deps.wrapKey
    if (!('current' in wrapKey) || !wrapKey.previous) return []
    const to = wrapKey.current.id
    const done: Rewrapped[] = []
    for (const rec of stored) {
      if ((rec.state !== 'active' && rec.state !== 'next') || rec.wrappedBy === to) continue
      const opened = await openWith(wrapKey, rec.encryptedPrivateKey, aadOf(rec.kid), rec.wrappedBy)
      if (!opened) continue
      const next = { ...rec, encryptedPrivateKey: await seal(wrapKey, opened.plain, aadOf(rec.kid)), wrappedBy: to }
      try {
        await this.deps.store.updateSigningKey(next)
      } catch (err) {
        if (err instanceof ConcurrencyError) continue
        throw err
      }
      done.push({ kid: rec.kid, ...(rec.wrappedBy ? { from: rec.wrappedBy } : {}), to })
    }
    return done
  }

  /** POST /keys/rotate: the next key signs from now on; the old one retires (still published). */
  async rotateNow(): Promise<RotationResult> {
    const { active } = await this.reload()
    await this.unwrap(active) // as in rotate(): never add keys another key cannot open
    const result = await rotate(this.rotation, this.deps.clock.now(), { kind: 'retire', kid: active.kid })
    this.adopt(result.records)
    return result
  }

  /**
   * DELETE /keys/{kid}: revokes a key at once (`found: false` when there is no such kid). A
   * revoked signing key is replaced in the same write, so signing never stops.
   */
  async revoke(kid: string): Promise<RotationResult> {
    const result = await rotate(this.rotation, this.deps.clock.now(), { kind: 'revoke', kid })
    if (result.found) this.adopt(result.records)
    return result
  }

  /** This instance's copy: reloaded when REFRESH_MS old, in the background from SOFT_REFRESH_MS. */
  private current(): Promise<Loaded> {
    const s = this.snap?.loaded
    if (s) {
      const age = this.deps.clock.now() - s.at
      if (age < SOFT_REFRESH_MS) return Promise.resolve(s)
      if (age < REFRESH_MS) {
        this.refreshBehind()
        return Promise.resolve(s)
      }
    }
    return (this.inflight ??= this.reload())
  }

  private refreshBehind(): void {
    if (this.inflight) return
    this.inflight = this.reload()
    this.inflight.catch(() => {}) // a failed refresh keeps the copy until REFRESH_MS
  }

  /** A fresh read (never one that started before this call). */
  private reload(): Promise<Loaded> {
    const seq = ++this.seq
    const p = this.load().then((loaded) => {
      if (!this.snap || this.snap.seq < seq) this.use(seq, loaded)
      return loaded
    })
    const done = () => {
      if (this.inflight === p) this.inflight = undefined
    }
    p.then(done, done)
    return p
  }

  /** Takes records this instance has just read back after writing them. */
  private adopt(records: SigningKeyRecord[]): void {
    const active = signingKeyOf(records, this.deps.config.tokenAlg)
    if (!active) {
      this.snap = undefined // cannot happen after a rotation; read again on next use
      return
    }
    this.use(++this.seq, { at: this.deps.clock.now(), records, byKid: new Map(records.map((r) => [r.kid, r])), active })
  }

  private use(seq: number, loaded: Loaded): void {
    this.snap = { seq, loaded }
    // Imported keys of kids that no longer verify are dropped (they are checked per use anyway).
    const now = this.deps.clock.now()
    for (const cache of [this.privateKeys, this.publicKeys])
      for (const kid of cache.keys()) {
        const rec = loaded.byKid.get(kid)
        if (!rec || !isPublished(rec, now) || (cache === this.privateKeys && kid !== loaded.active.kid)) cache.delete(kid)
      }
  }

  private async load(): Promise<Loaded> {
    const { store, clock, config } = this.deps
    const at = clock.now()
    let records = await store.listSigningKeys()
    if (!signingKeyOf(records, config.tokenAlg)) {
      // First start (or TOKEN_ALG changed, or every key revoked): repair so that one key signs.
      records = (await rotate(this.rotation, at, { kind: 'repair' })).records
    }
    const active = signingKeyOf(records, config.tokenAlg)
    if (!active) throw new Error('no active signing key after initialisation')
    return { at, records, byKid: new Map(records.map((r) => [r.kid, r])), active }
  }

  /** Generates a key pair; the private key is wrapped with the KEK before it reaches storage. */
  async generate(state: 'active' | 'next', activatesAt: number, createdAt = this.deps.clock.now()): Promise<SigningKeyRecord> {
    const alg = this.deps.config.tokenAlg
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
    const jwk = await exportJWK(publicKey)
    const kid = await calculateJwkThumbprint(jwk) // RFC 7638
    const pkcs8 = await exportPKCS8(privateKey)
    const wrapKey = await this.deps.wrapKey
    return {
      kid,
      alg,
      state,
      publicJwk: { ...jwk, kid, use: 'sig', alg },
      encryptedPrivateKey: await seal(wrapKey, te.encode(pkcs8), aadOf(kid)),
      ...('current' in wrapKey ? { wrappedBy: wrapKey.current.id } : {}),
      createdAt,
      activatesAt,
    }
  }

  /** The private key, opened with the KEK the record names first (then the other one, if set). */
  private async unwrap(rec: SigningKeyRecord): Promise<CryptoKey> {
    const wrapKey = await this.deps.wrapKey
    const opened = await openWith(wrapKey, rec.encryptedPrivateKey, aadOf(rec.kid), rec.wrappedBy)
    if (!opened) {
      const tried = keysOf(wrapKey).flatMap((k) => (k.id ? [k.id] : []))
      throw new KeyEncryptionKeyMismatch(rec.kid, { ...(rec.wrappedBy ? { wrappedBy: rec.wrappedBy } : {}), tried })
    }
    return importPKCS8(td.decode(opened.plain), rec.alg) as Promise<CryptoKey>
  }
}

/** AAD of a wrapped private key: binds it to its kid. */
const aadOf = (kid: string) => `signing-key:${kid}`
