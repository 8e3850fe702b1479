/**
 * The audit hash chain (docs/audit.md "Chain"):
 *
 *   hash_n = base64url(HMAC-SHA-256(K, canonical(event_n without hash) ‖ hash_{n-1}))
 *
 * with K = HKDF-SHA-256(KEY_ENCRYPTION_KEY, info "audit-chain-v1") (RFC 5869) and hash_0 the
 * genesis value below. `canonical` is JSON with object keys sorted by UTF-16 code units and no
 * whitespace: RFC 8785 (JCS) for the values events hold (strings, integers, booleans, null,
 * arrays, objects). The event includes its own `seq` and `prev`, so moving, renumbering or
 * relinking an event changes its hash.
 *
 * Keyed on purpose: with a plain SHA-256 anyone who can write the table could edit an event and
 * recompute every later hash and the head; with the HMAC they also need the KEK.
 *
 * Changing KEY_ENCRYPTION_KEY changes K from the next event on: each event names the KEK it was
 * MAC'd with (`keyId`), and the chain of `prev` links runs on unbroken across the switch, so a
 * verifier given both keys checks every event with the key it names (shared/audit/verify.ts).
 */
import type { AuditEventRecord } from '../store/types.js'
import { hmacSha256Sync } from '../crypto/fast.js'
import { deriveKey, type KeyPurpose } from '../crypto/kek.js'
import { encode } from '../util/base64url.js'

/** hash_0: base64url of 32 zero bytes. */
export const GENESIS = encode(new Uint8Array(32))

/** HKDF info of the chain key; a new version of the chain gets a new label. */
export const AUDIT_KEY_INFO = 'audit-chain-v1' satisfies KeyPurpose

/**
 * The chain key, derived from the 32-byte KEY_ENCRYPTION_KEY (shared/crypto/kek.ts `deriveKey`).
 *
 * @example
 * const key = await deriveAuditKey(config.keyEncryptionKey!)
 */
export function deriveAuditKey(kek: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return deriveKey(kek, AUDIT_KEY_INFO)
}

/** JSON with sorted keys and no whitespace (RFC 8785 for strings, integers, booleans, arrays). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`
}

/**
 * The hashed form of an event: every field but `hash`. `keyId` (which KEK's chain key MACs it)
 * is inside, so it cannot be changed without the key; events without it hash as before.
 */
export function chainInput(e: Omit<AuditEventRecord, 'hash'>): string {
  const { seq, at, type, outcome, actor, target, ip, userAgent, detail, prev, keyId } = e
  return canonicalJson({ v: 1, seq, at, type, outcome, actor, target, ip, userAgent, detail, prev, keyId })
}

/**
 * hash_n for an event whose `prev` is hash_{n-1}.
 *
 * @example
 * const hash = await chainHash(key, { ...event, prev: GENESIS })
 */
export async function chainHash(key: CryptoKey, e: Omit<AuditEventRecord, 'hash'>): Promise<string> {
  return encode(hmacSha256Sync(key, chainInput(e) + e.prev))
}
