/**
 * Signing keys: generated on first start, private keys encrypted at rest (AES-256-GCM under a
 * key derived from KEY_ENCRYPTION_KEY, AAD = kid), published as a JWKS (RFC 7517).
 *
 * States (CONTRACT "jwks.json"): `next` (published, not signing yet), `active` (signs),
 * `retired` (published until its last token expired plus KEY_PUBLISH_AHEAD), `revoked` (gone).
 * Every instance reads the same records from storage and refreshes its copy every minute.
 */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, type JWK } from 'jose'
import type { Config, TokenAlg } from '../config.js'
import { open, seal } from '../crypto/kek.js'
import { ConcurrencyError, type SigningKeyRecord, type Store } from '../store/types.js'
import type { Clock } from '../util/clock.js'

const REFRESH_MS = 60_000
const te = new TextEncoder()
const td = new TextDecoder()

export interface SigningKey {
  kid: string
  alg: TokenAlg
  privateKey: CryptoKey
}

interface Loaded {
  at: number
  records: SigningKeyRecord[]
  active: SigningKeyRecord
}

export class KeyRing {
  private loaded: Promise<Loaded> | undefined
  private readonly privateKeys = new Map<string, Promise<CryptoKey>>()
  private readonly publicKeys = new Map<string, Promise<CryptoKey>>()

  constructor(
    private readonly deps: { store: Store; config: Config; clock: Clock; wrapKey: Promise<CryptoKey> },
  ) {}

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
    return { keys: this.published(records).map((r) => ({ ...r.publicJwk }) as JWK) }
  }

  /** The verification key for a kid we publish, bound to its algorithm; undefined otherwise. */
  async verificationKey(kid: string): Promise<{ key: CryptoKey; alg: string } | undefined> {
    let { records } = await this.current()
    let rec = this.published(records).find((r) => r.kid === kid)
    if (!rec) {
      // A kid we have not seen may be a key another instance just made: reload once.
      ;({ records } = await this.current(true))
      rec = this.published(records).find((r) => r.kid === kid)
      if (!rec) return undefined
    }
    let k = this.publicKeys.get(kid)
    if (!k) {
      k = importJWK(rec.publicJwk as JWK, rec.alg) as Promise<CryptoKey>
      this.publicKeys.set(kid, k)
    }
    return { key: await k, alg: rec.alg }
  }

  /** All key records (for administration). */
  async list(): Promise<SigningKeyRecord[]> {
    return (await this.current(true)).records
  }

  private published(records: SigningKeyRecord[]): SigningKeyRecord[] {
    const now = this.deps.clock.now()
    return records.filter(
      (r) => r.state === 'next' || r.state === 'active' || (r.state === 'retired' && (r.expiresAt ?? 0) > now),
    )
  }

  private current(force = false): Promise<Loaded> {
    const now = this.deps.clock.now()
    const cached = this.loaded
    if (!force && cached) {
      return cached.then((l) => (now - l.at < REFRESH_MS ? l : this.reload()))
    }
    return this.reload()
  }

  private reload(): Promise<Loaded> {
    const p = this.load()
    this.loaded = p
    p.catch(() => {
      if (this.loaded === p) this.loaded = undefined
    })
    return p
  }

  private async load(): Promise<Loaded> {
    const { store, clock, config } = this.deps
    let records = await store.listSigningKeys()
    if (!records.some((r) => r.state === 'active' && r.alg === config.tokenAlg)) {
      // First start (or TOKEN_ALG changed): make an active key, and the next one to publish ahead.
      const now = clock.now()
      for (const r of records.filter((r) => r.state === 'active')) {
        // A key of another algorithm stops signing but stays published for its tokens.
        r.state = 'retired'
        r.retiredAt = now
        r.expiresAt = now + (config.accessTokenTtl + config.keyPublishAhead) * 1000
        await store.updateSigningKey(r).catch((e) => {
          if (!(e instanceof ConcurrencyError)) throw e
        })
      }
      const active = await this.generate('active', now)
      const next = await this.generate('next', now + config.keyRotationPeriod * 1000)
      for (const k of [active, next]) {
        await store.createSigningKey(k).catch((e) => {
          if (!(e instanceof ConcurrencyError)) throw e
        })
      }
      records = await store.listSigningKeys()
    }
    // Instances agree: the active key is the oldest active one of the configured algorithm.
    const active = records
      .filter((r) => r.state === 'active' && r.alg === config.tokenAlg)
      .sort((a, b) => a.activatesAt - b.activatesAt || a.kid.localeCompare(b.kid))[0]
    if (!active) throw new Error('no active signing key after initialisation')
    return { at: clock.now(), records, active }
  }

  /** Generates a key pair; the private key is wrapped with the KEK before it reaches storage. */
  async generate(state: 'active' | 'next', activatesAt: number): Promise<SigningKeyRecord> {
    const alg = this.deps.config.tokenAlg
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
    const jwk = await exportJWK(publicKey)
    const kid = await calculateJwkThumbprint(jwk) // RFC 7638
    const pkcs8 = await exportPKCS8(privateKey)
    return {
      kid,
      alg,
      state,
      publicJwk: { ...jwk, kid, use: 'sig', alg },
      encryptedPrivateKey: await seal(await this.deps.wrapKey, te.encode(pkcs8), `signing-key:${kid}`),
      createdAt: this.deps.clock.now(),
      activatesAt,
    }
  }

  private async unwrap(rec: SigningKeyRecord): Promise<CryptoKey> {
    const plain = await open(await this.deps.wrapKey, rec.encryptedPrivateKey, `signing-key:${rec.kid}`)
    if (!plain)
      throw new TypeError(
        `Signing key ${rec.kid} cannot be decrypted: KEY_ENCRYPTION_KEY is not the key it was stored with`,
      )
    return importPKCS8(td.decode(plain), rec.alg) as Promise<CryptoKey>
  }
}
