/**
 * DPoP proofs (RFC 9449; CONTRACT v2 "DPoP"): the one place they are checked, for the token
 * endpoint, the WebAuthn sign-in, our own bearer middleware and the authorizer.
 *
 * Checks, in the order of RFC 9449 §4.3 (every failure is `invalid_dpop_proof`):
 * 1. exactly one `DPoP` header (two arrive joined by a comma, which no compact JWS contains);
 * 2. a compact JWS of at most MAX_PROOF characters;
 * 3.–5. header `typ` = `dpop+jwt`, `alg` one of DPOP_ALGS (asymmetric: never `none` or HS*), `jwk` a
 *    public key (no private members: `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, nor a symmetric `k`);
 * 6. the signature verifies with that `jwk` (of the algorithm's key type; RSA ≥ 2048 bits);
 * 7. claims `jti` (≤ MAX_JTI characters), `htm`, `htu`, `iat` present;
 * 8. `htm` = the request's method; `htu` = the URL called, compared as §4.3 item 9 says: scheme
 *    and host case-insensitively, the default port dropped, the path after RFC 3986 §6.2.2
 *    syntax-based normalisation (percent-encoding case, unreserved characters decoded, dot
 *    segments removed), query and fragment ignored;
 * 9. `nonce`, when the server requires one (`DPOP_NONCE=required`): one this service issued in the
 *    current or the previous window, else `use_dpop_nonce` with a fresh `DPoP-Nonce`;
 * 10. `iat` at most IAT_WINDOW seconds old and at most FUTURE_SKEW ahead;
 * 11. `ath` = base64url(SHA-256(access token)) when a token is presented with it (§4.3 item 11);
 * 12. at resources, the key is the token's `cnf.jkt` (RFC 7638 thumbprint; passed as `jkt`);
 * 13. the `jti` not seen with this key within the window (§11.1), in a bounded per-instance cache
 *    (one for the token endpoint and sign-in, one for resources) that never forgets a pair inside
 *    its window: when full it refuses with `use_dpop_nonce` instead.
 *
 * Nonces are stateless, so they hold across instances (Flex Consumption scales out): the nonce is
 * `<window>.<mac>`, the MAC an HMAC-SHA-256 of the window number under a key derived from
 * KEY_ENCRYPTION_KEY, which every instance shares. What the jti cache does not stop (a replay at
 * another instance within the window) a required nonce narrows to NONCE_WINDOW (see docs/dpop.md).
 */
import type { KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { hmacSha256Sync, publicKeyFromJwk, sha256Sync, verifyJwsSync } from '../crypto/fast.js'
import { LruTtl } from '../authz/lru.js'
import { decode, encode } from '../util/base64url.js'
import type { Clock } from '../util/clock.js'
import { timingSafeEqual } from '../util/hash.js'
import { OAuthError, ServiceError } from '../errors.js'

/** Proof algorithms accepted and advertised (`dpop_signing_alg_values_supported`); each is tested. */
export const DPOP_ALGS = ['ES256', 'PS256', 'RS256', 'EdDSA'] as const
/** CONTRACT v2 "DPoP": `iat` within 5 minutes. */
export const IAT_WINDOW = 300
/** How far ahead of our clock a proof's `iat` may be (clock differences). */
export const FUTURE_SKEW = 60
/** Longest proof accepted (an RSA-4096 key and a long htu fit in well under this). */
export const MAX_PROOF = 8192
export const MAX_JTI = 256
/** A nonce is good for its window and the next one (2 to 4 minutes in all). */
export const NONCE_WINDOW = 120
/** Private (and symmetric) JWK members: a proof's key must be public (§4.3 item 7). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

type DPoPAlg = (typeof DPOP_ALGS)[number]

/** A base64url segment's bytes, or undefined when it is not base64url. */
function bytesOf(segment: string): Uint8Array | undefined {
  try {
    return decode(segment)
  } catch {
    return undefined
  }
}

/** A base64url segment's JSON object, or undefined. */
function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(decode(segment)))
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** verifyJwsSync, with a signature Node cannot even parse counted as one that does not verify. */
function verifies(alg: DPoPAlg, key: KeyObject, input: string, signature: Uint8Array): boolean {
  try {
    return verifyJwsSync(alg, key, input, signature)
  } catch {
    return false
  }
}

export type DPoPErrorCode = 'invalid_dpop_proof' | 'use_dpop_nonce'

/** A refused proof; `nonce`: with use_dpop_nonce, the DPoP-Nonce to send back. */
export class DPoPError extends Error {
  constructor(
    readonly code: DPoPErrorCode,
    message: string,
    readonly nonce?: string,
  ) {
    super(message)
    this.name = 'DPoPError'
  }
}

/** The `WWW-Authenticate` challenge of a refused proof at a resource (RFC 9449 §7.1). */
export function dpopChallenge(e: DPoPError): string {
  return `DPoP error="${e.code}", error_description="${e.message.replace(/["\\]/g, "'")}", algs="${DPOP_ALGS.join(' ')}"`
}

/** RFC 9449 §4.3 item 11: what `ath` must be for an access token. */
export function accessTokenHash(token: string): string {
  return encode(sha256Sync(token))
}

export interface ProofRequest {
  /** The DPoP header as received (undefined: none was sent). */
  proof: string | undefined
  method: string
  /** The URL the client called (public, as the client saw it). */
  url: string
  /** The access token presented with the proof (resources): `ath` must match it. */
  accessToken?: string
  /** The token's `cnf.jkt` (resources): the proof must be by that key, checked before its jti is remembered. */
  jkt?: string
}

export interface VerifiedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key, base64url (`cnf.jkt`). */
  jkt: string
}

/**
 * One generation of seen (jkt, jti) pairs: an open-addressing table of 64-bit hashes of the pair
 * in one typed array (8 bytes a slot, at most half full), so that a million pairs take 16 MB, no
 * per-entry object and nothing for the GC to walk. Two independent seeded 32-bit hashes per pair:
 * a collision can only make a fresh proof look used (refused; the client sends another), never a
 * used one look fresh.
 */
class PairTable {
  private slots: Uint32Array | undefined
  size = 0

  constructor(readonly capacity: number) {}

  private get table(): Uint32Array {
    // Allocated on first use: an instance that never sees DPoP holds no memory for it.
    return (this.slots ??= new Uint32Array(2 * tableSlots(this.capacity)))
  }

  /** true when added, false when present already. */
  add(a: number, b: number): boolean {
    const t = this.table
    const mask = t.length / 2 - 1
    for (let i = a & mask; ; i = (i + 1) & mask) {
      const x = t[2 * i]!
      if (x === 0) {
        t[2 * i] = a
        t[2 * i + 1] = b
        this.size++
        return true
      }
      if (x === a && t[2 * i + 1] === b) return false
    }
  }

  has(a: number, b: number): boolean {
    if (this.size === 0) return false
    const t = this.table
    const mask = t.length / 2 - 1
    for (let i = a & mask; ; i = (i + 1) & mask) {
      const x = t[2 * i]!
      if (x === 0) return false
      if (x === a && t[2 * i + 1] === b) return true
    }
  }

  clear(): void {
    if (this.size) this.slots?.fill(0)
    this.size = 0
  }
}

/** Slots for `capacity` entries at a load of at most ½: a power of two. */
function tableSlots(capacity: number): number {
  let n = 2
  while (n < 2 * capacity) n *= 2
  return n
}

/** Seeds per process, so that nobody can precompute colliding pairs. */
const SEEDS = crypto.getRandomValues(new Uint32Array(2))

/** A 32-bit hash of `s` (Murmur3's mixing over UTF-16 code units), never 0 (0 marks an empty slot). */
function hash32(s: string, seed: number): number {
  let h = seed
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51)
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593)
    h ^= k
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64
  }
  h ^= s.length
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  h = (h ^ (h >>> 16)) >>> 0
  return h || 1
}

/**
 * The (jkt, jti) pairs seen (RFC 9449 §11.1), in two generations (PairTable), each holding at most
 * half of `max`: a pair is kept at least `keepMs` (longer than any proof is accepted) unless its
 * generation is dropped early. When the current generation is full and the older one still holds
 * pairs inside their window, the older one is dropped all the same, and the newest `iat` it held
 * becomes a floor: from then on a proof whose `iat` is not above the floor answers `stale` (the
 * caller refuses it and asks for a new proof). So a dropped pair can never be accepted again, and
 * a busy instance keeps accepting fresh proofs at any rate (only a client whose clock is behind
 * by more than a generation's lifetime must retry).
 */
export class ReplayCache {
  private current: PairTable
  private previous: PairTable
  /** When `current` was started: every pair in `previous` was added before it. */
  private since: number
  /** The newest iat (s) in each generation, and the floor: the newest iat of any dropped early. */
  private currentIat = -Infinity
  private previousIat = -Infinity
  private floor = -Infinity

  constructor(
    max: number,
    private readonly keepMs: number,
    now: number,
  ) {
    const half = Math.max(1, Math.floor(max / 2))
    this.current = new PairTable(half)
    this.previous = new PairTable(half)
    this.since = now
  }

  /** The older generation is emptied and becomes the new current one (its memory reused). */
  private turn(now: number, dropBoth: boolean): void {
    const old = this.previous
    old.clear()
    if (dropBoth) {
      this.current.clear()
      this.previousIat = -Infinity
    } else {
      this.previous = this.current
      this.current = old
      this.previousIat = this.currentIat
    }
    this.currentIat = -Infinity
    this.since = now
  }

  /**
   * Adds the pair of a proof issued at `iat` (s): `replay` when it was seen already, `stale` when
   * it is not newer than pairs that had to be dropped early (it may be one of them).
   */
  add(key: string, now: number, iat: number): 'ok' | 'replay' | 'stale' {
    if (now - this.since >= this.keepMs) {
      // `previous` was last added to at `since`, at least keepMs ago: past any proof's window.
      this.turn(now, now - this.since >= 2 * this.keepMs)
    }
    const a = hash32(key, SEEDS[0]!)
    const b = hash32(key, SEEDS[1]!)
    if (this.previous.has(a, b) || this.current.has(a, b)) return 'replay'
    if (this.current.size >= this.current.capacity) {
      // Dropping `previous` forgets pairs perhaps still inside their window: none of them may
      // be accepted again, so nothing as old as its newest is.
      if (this.previous.size) this.floor = Math.max(this.floor, this.previousIat)
      this.turn(now, false)
    }
    if (iat <= this.floor) return 'stale'
    this.current.add(a, b)
    if (iat > this.currentIat) this.currentIat = iat
    return 'ok'
  }
}

export class DPoPVerifier {
  /**
   * Two replay caches: proofs at the token endpoint and sign-in (`accessToken` absent) cannot
   * crowd out those at resources (`accessToken` present; the authorizer and our bearer
   * middleware), which only a bound token's holder can make.
   */
  private readonly seen: { token: ReplayCache; resource: ReplayCache }
  /** Imported public keys by their JWK's JSON: a client signs every proof with one key. */
  private readonly keys = new LruTtl<{ key: KeyObject; jkt: string }>(10_000, false)

  constructor(
    private readonly deps: {
      clock: Clock
      /** HMAC key for stateless nonces (derived from KEY_ENCRYPTION_KEY). */
      nonceKey: Promise<CryptoKey>
      /** DPOP_NONCE=required: every proof must carry a nonce of ours. */
      nonceRequired: boolean
      /** How many (jkt, jti) pairs each replay cache keeps: `token` endpoint and sign-in, `resource` checks. */
      replayCacheSize: { token: number; resource: number }
    },
  ) {
    // A proof is accepted while iat ≥ now − IAT_WINDOW and iat ≤ now + FUTURE_SKEW: remembered that long after its latest acceptance.
    const keepMs = (IAT_WINDOW + 2 * FUTURE_SKEW) * 1000
    this.seen = {
      token: new ReplayCache(deps.replayCacheSize.token, keepMs, deps.clock.now()),
      resource: new ReplayCache(deps.replayCacheSize.resource, keepMs, deps.clock.now()),
    }
  }

  get nonceRequired(): boolean {
    return this.deps.nonceRequired
  }

  /** The current nonce (`DPoP-Nonce`). */
  async nonce(): Promise<string> {
    const w = Math.floor(this.deps.clock.now() / 1000 / NONCE_WINDOW)
    return `${w.toString(36)}.${await this.mac(w)}`
  }

  private async mac(window: number): Promise<string> {
    return encode(hmacSha256Sync(await this.deps.nonceKey, `dpop-nonce:${window}`).subarray(0, 16))
  }

  private async nonceValid(nonce: unknown): Promise<boolean> {
    if (typeof nonce !== 'string' || nonce.length > 64) return false
    const [w36, mac, ...rest] = nonce.split('.')
    if (!w36 || !mac || rest.length || !/^[0-9a-z]{1,12}$/.test(w36)) return false
    const w = parseInt(w36, 36)
    const now = Math.floor(this.deps.clock.now() / 1000 / NONCE_WINDOW)
    if (w !== now && w !== now - 1) return false
    return timingSafeEqual(mac, await this.mac(w))
  }

  /**
   * The proof key, imported once per distinct JWK (a client signs every proof with one key), with
   * its RFC 7638 thumbprint. Its type must be the algorithm's; an RSA key at least 2048 bits.
   */
  private async publicKey(alg: DPoPAlg, jwk: Record<string, unknown>, fail: (why: string) => DPoPError): Promise<{ key: KeyObject; jkt: string }> {
    const id = `${alg}\u0000${JSON.stringify(jwk)}`
    const now = this.deps.clock.now()
    const hit = this.keys.get(id, now)
    if (hit) return hit
    const kty = alg === 'ES256' ? 'EC' : alg === 'EdDSA' ? 'OKP' : 'RSA'
    if (jwk.kty !== kty || (alg === 'ES256' && jwk.crv !== 'P-256') || (alg === 'EdDSA' && jwk.crv !== 'Ed25519'))
      throw fail(`jwk must be a${alg === 'ES256' ? ' P-256' : alg === 'EdDSA' ? 'n Ed25519' : 'n RSA'} public key for alg ${alg}`)
    let key: KeyObject
    let jkt: string
    try {
      key = publicKeyFromJwk(jwk)
      jkt = await calculateJwkThumbprint(jwk as JWK, 'sha256')
    } catch {
      throw fail('jwk is not a usable public key')
    }
    if (kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw fail('An RSA jwk must have at least 2048 bits')
    const entry = { key, jkt }
    this.keys.set(id, entry, now + 3600_000)
    return entry
  }

  /** Verifies a proof (RFC 9449 §4.3); throws DPoPError. */
  async verify({ proof, method, url, accessToken, jkt: expected }: ProofRequest): Promise<VerifiedProof> {
    const fail = (why: string) => new DPoPError('invalid_dpop_proof', why)
    if (proof === undefined) throw fail('A DPoP proof is required')
    if (proof.includes(',')) throw fail('Exactly one DPoP header is allowed')
    const compact = proof.trim()
    if (compact.length > MAX_PROOF || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(compact)) throw fail('The DPoP proof is not a compact JWS')
    const [h64, p64, s64] = compact.split('.') as [string, string, string]
    // A base64url segment of length ≡ 1 (mod 4) encodes no bytes (RFC 4648 §5): not a JWS.
    if (h64.length % 4 === 1 || p64.length % 4 === 1 || s64.length % 4 === 1) throw fail('The DPoP proof is not a compact JWS')
    const signature = bytesOf(s64)
    if (!signature) throw fail('The DPoP proof is not a compact JWS')
    const header = jsonObject(h64)
    if (!header) throw fail('The DPoP proof header is not a JSON object')
    // Header checks before any signature math.
    if (header.typ !== 'dpop+jwt') throw fail('typ must be dpop+jwt')
    const alg = header.alg
    if (typeof alg !== 'string' || !(DPOP_ALGS as readonly string[]).includes(alg)) throw fail(`alg must be one of ${DPOP_ALGS.join(', ')}`)
    // RFC 7515 §4.1.11: no extension is understood here, so none may be critical.
    if (header.crit !== undefined) throw fail('crit is not supported')
    const jwk = header.jwk
    if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw fail('The proof has no jwk header')
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw fail('jwk must be a public key (it has private members)')
    const { key, jkt } = await this.publicKey(alg as DPoPAlg, jwk as Record<string, unknown>, fail)
    // The signature, synchronously on Node's crypto (shared/crypto/fast.ts): one verification per call.
    if (!verifies(alg as DPoPAlg, key, `${h64}.${p64}`, signature)) throw fail('The proof signature does not verify')
    const payload = jsonObject(p64)
    if (!payload) throw fail('The DPoP proof payload is not a JSON object')
    const { jti, htm, htu, iat, ath, nonce } = payload
    if (typeof jti !== 'string' || !jti || jti.length > MAX_JTI) throw fail(`jti must be a string of 1 to ${MAX_JTI} characters`)
    if (typeof htm !== 'string' || htm !== method.toUpperCase()) throw fail('htm does not match the request method')
    if (typeof htu !== 'string' || !sameHtu(htu, url)) throw fail('htu does not match the request URL')
    if (this.deps.nonceRequired && !(await this.nonceValid(nonce))) {
      throw new DPoPError('use_dpop_nonce', nonce === undefined ? 'This server requires a DPoP nonce' : 'The DPoP nonce is not valid any more', await this.nonce())
    }
    const now = this.deps.clock.now()
    const nowS = now / 1000
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw fail('iat is required')
    if (iat < nowS - IAT_WINDOW) throw fail('The proof is too old (iat)')
    if (iat > nowS + FUTURE_SKEW) throw fail('The proof is from the future (iat)')
    if (accessToken !== undefined) {
      if (typeof ath !== 'string' || !timingSafeEqual(ath, accessTokenHash(accessToken))) throw fail('ath does not match the access token')
    }
    if (expected !== undefined && jkt !== expected) throw fail('The DPoP proof is signed by another key than the token is bound to')
    // Last: only a proof that passed every other check uses up its jti (at resources, only the bound key's).
    const seen = this.seen[accessToken !== undefined ? 'resource' : 'token'].add(`${jkt}\u0000${jti}`, now, iat)
    if (seen === 'replay') throw fail('The proof was already used (jti)')
    // RFC 9449 §8: the server may ask for a nonce at any time; the client retries with a new proof.
    if (seen === 'stale') throw new DPoPError('use_dpop_nonce', 'This proof is older than this server can still check for replay: retry with a new proof carrying this nonce', await this.nonce())
    return { jkt }
  }
}

/** RFC 9449 §4.3 item 9: the htu claim names the URL called (query and fragment ignored). */
export function sameHtu(htu: string, url: string): boolean {
  const a = normalisedUrl(htu)
  const b = normalisedUrl(url)
  return a !== undefined && a === b
}

/**
 * Scheme, host (lower case, by the WHATWG parser), port without the default, and the path with
 * RFC 3986 §6.2.2 normalisation (the parser removes dot segments; percent-encodings are
 * upper-cased, and those of unreserved characters decoded, here).
 */
function normalisedUrl(s: string): string | undefined {
  if (s.length > 4096) return undefined
  let u: URL
  try {
    u = new URL(s)
  } catch {
    return undefined
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined
  const path = u.pathname.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16))
    return /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${hex.toUpperCase()}`
  })
  return `${u.protocol}//${u.host}${path}`
}

/**
 * A proof where one is optional (the token endpoint, the WebAuthn sign-in): the key's thumbprint,
 * or undefined when no DPoP header was sent. Refusals as the endpoint renders errors: RFC 6749
 * JSON (`oauth`) or problem+json (`problem`), 400 either way, with `DPoP-Nonce` for use_dpop_nonce.
 */
export async function optionalProof(dpop: DPoPVerifier, req: ProofRequest, as: 'oauth' | 'problem'): Promise<string | undefined> {
  if (req.proof === undefined) return undefined
  try {
    return (await dpop.verify(req)).jkt
  } catch (e) {
    if (!(e instanceof DPoPError)) throw e
    const headers: Record<string, string> = e.nonce ? { 'dpop-nonce': e.nonce } : {}
    throw as === 'oauth' ? new OAuthError(e.code, e.message, 400, headers) : new ServiceError(e.code, e.message, { headers })
  }
}
