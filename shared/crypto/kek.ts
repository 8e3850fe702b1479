/**
 * Keys derived from KEY_ENCRYPTION_KEY (32 bytes) with HKDF-SHA-256 (RFC 5869), one per purpose
 * (`KeyPurpose`), so that sealing challenges and wrapping signing keys never share a key.
 * AES-256-GCM (NIST SP 800-38D) with a random 96-bit IV per message; AAD binds a ciphertext to its use.
 */
import { decode, encode } from '../util/base64url.js'
import { randomBytes } from '../util/random.js'
import { aesGcmDecryptSync, aesGcmEncryptSync, hmacSha256Sync } from './fast.js'

/**
 * Every HKDF `info` label derived from KEY_ENCRYPTION_KEY, one per use, so no two uses share a
 * key. A label is part of the stored data's format: a new use (or a new format) gets a new label.
 */
export type KeyPurpose =
  | 'challenge-seal-v1'
  | 'signing-key-wrap-v1'
  | 'oauth-seal-v1'
  | 'user-enumeration-v1'
  | 'audit-chain-v1'
  | 'audit-pd-wrap-v1'
  | 'dpop-nonce-v1'

/** What each label's key does: AES-256-GCM seals, HMAC-SHA-256 for values that must not be guessable. */
const KEY_USE = {
  'challenge-seal-v1': 'seal',
  'signing-key-wrap-v1': 'seal',
  'oauth-seal-v1': 'seal',
  'user-enumeration-v1': 'mac',
  'audit-chain-v1': 'mac',
  /** Wraps each account's personal-data key (shared/audit/personal.ts). */
  'audit-pd-wrap-v1': 'seal',
  /** Stateless DPoP nonces (shared/oauth/dpop.ts): the same on every instance. */
  'dpop-nonce-v1': 'mac',
} as const satisfies Record<KeyPurpose, 'seal' | 'mac'>

const te = new TextEncoder()

/**
 * The non-extractable key for `purpose`: HKDF-SHA-256 (RFC 5869) of the 32-byte KEK, empty salt,
 * info = the label.
 *
 * @example
 * const key = await deriveKey(config.keyEncryptionKey!, 'challenge-seal-v1')
 */
export async function deriveKey(kek: Uint8Array<ArrayBuffer>, purpose: KeyPurpose): Promise<CryptoKey> {
  if (kek.length !== 32) throw new TypeError('KEY_ENCRYPTION_KEY must be 32 bytes')
  const base = await crypto.subtle.importKey('raw', kek, 'HKDF', false, ['deriveKey'])
  const hkdf = { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: te.encode(purpose) }
  return KEY_USE[purpose] === 'seal'
    ? crypto.subtle.deriveKey(hkdf, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    : crypto.subtle.deriveKey(hkdf, base, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign'])
}

/**
 * A KEY_ENCRYPTION_KEY's public name: base64url of the first 6 bytes of HMAC-SHA-256(kek,
 * 'kek-id-v1'). Records name the key that wrapped or MAC'd them by it, and errors name a missing
 * key by it; it tells nothing about the key (an HMAC output, never the key or a derived key).
 *
 * @example
 * const id = await keyEncryptionKeyId(config.keyEncryptionKey!) // e.g. 'q3Vb0s1x'
 */
export async function keyEncryptionKeyId(kek: Uint8Array<ArrayBuffer>): Promise<string> {
  if (kek.length !== 32) throw new TypeError('KEY_ENCRYPTION_KEY must be 32 bytes')
  const k = await crypto.subtle.importKey('raw', kek, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return encode(new Uint8Array(await crypto.subtle.sign('HMAC', k, te.encode('kek-id-v1'))).subarray(0, 6))
}

/** A key derived from one KEY_ENCRYPTION_KEY, with that KEK's id. */
export interface VersionedKey {
  id: string
  key: CryptoKey
}

/**
 * One purpose's keys while KEY_ENCRYPTION_KEY is being changed: `current` (KEY_ENCRYPTION_KEY)
 * seals, `previous` (KEY_ENCRYPTION_KEY_PREVIOUS) still opens what was sealed before the switch.
 */
export interface RotatingKey {
  current: VersionedKey
  previous?: VersionedKey
}

/** What seals and opens: one key, or a rotating pair (the current key seals, either opens). */
export type SealKey = CryptoKey | RotatingKey

/**
 * `deriveKey(kek, purpose)` for KEY_ENCRYPTION_KEY and, when set, KEY_ENCRYPTION_KEY_PREVIOUS,
 * each with its key id. The same key twice counts once.
 *
 * @example
 * const wrap = await deriveRotatingKey(config.keyEncryptionKey!, config.keyEncryptionKeyPrevious, 'signing-key-wrap-v1')
 */
export async function deriveRotatingKey(
  kek: Uint8Array<ArrayBuffer>,
  previous: Uint8Array<ArrayBuffer> | undefined,
  purpose: KeyPurpose,
): Promise<RotatingKey> {
  const versioned = async (k: Uint8Array<ArrayBuffer>): Promise<VersionedKey> => ({ id: await keyEncryptionKeyId(k), key: await deriveKey(k, purpose) })
  const current = await versioned(kek)
  const prev = previous ? await versioned(previous) : undefined
  return prev && prev.id !== current.id ? { current, previous: prev } : { current }
}

/** The keys of a SealKey, the one to try first first: `prefer` (a key id) if it names one, else the current one. */
export function keysOf(key: SealKey, prefer?: string): { id?: string; key: CryptoKey }[] {
  if (!('current' in key)) return [{ key }]
  const all = key.previous ? [key.current, key.previous] : [key.current]
  return prefer && key.previous?.id === prefer ? [key.previous, key.current] : all
}

const sealingKey = (key: SealKey): CryptoKey => ('current' in key ? key.current.key : key)

/** base64url(iv ‖ ciphertext ‖ tag), under the current key. */
export async function seal(key: SealKey, plaintext: Uint8Array<ArrayBuffer>, aad: string): Promise<string> {
  const iv = randomBytes(12)
  const ct = aesGcmEncryptSync(sealingKey(key), iv, plaintext, te.encode(aad))
  const out = new Uint8Array(iv.length + ct.length)
  out.set(iv)
  out.set(ct, iv.length)
  return encode(out)
}

/**
 * Inverse of seal, under any of the keys (a rotating key: the current one, then the previous
 * one); undefined when the input is not one of ours (wrong key, AAD, or tampered).
 */
export async function open(key: SealKey, sealed: string, aad: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
  return (await openWith(key, sealed, aad))?.plain
}

/**
 * open, also saying which key opened it (`id` undefined for a plain CryptoKey); `prefer` (a key
 * id, e.g. the one a record names) is tried first.
 */
export async function openWith(
  key: SealKey,
  sealed: string,
  aad: string,
  prefer?: string,
): Promise<{ plain: Uint8Array<ArrayBuffer>; id?: string } | undefined> {
  let bytes: Uint8Array<ArrayBuffer>
  try {
    bytes = decode(sealed)
  } catch {
    return undefined
  }
  if (bytes.length < 12 + 16) return undefined
  for (const k of keysOf(key, prefer)) {
    try {
      return { plain: aesGcmDecryptSync(k.key, bytes.subarray(0, 12), bytes.subarray(12), te.encode(aad)), id: k.id }
    } catch {}
  }
  return undefined
}

export async function hmac(key: CryptoKey, data: string): Promise<Uint8Array<ArrayBuffer>> {
  return hmacSha256Sync(key, data)
}
