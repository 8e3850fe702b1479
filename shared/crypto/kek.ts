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

/** What each label's key does: AES-256-GCM seals, HMAC-SHA-256 for values that must not be guessable. */
const KEY_USE = {
  'challenge-seal-v1': 'seal',
  'signing-key-wrap-v1': 'seal',
  'oauth-seal-v1': 'seal',
  'user-enumeration-v1': 'mac',
  'audit-chain-v1': 'mac',
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

/** base64url(iv ‖ ciphertext ‖ tag). */
export async function seal(key: CryptoKey, plaintext: Uint8Array<ArrayBuffer>, aad: string): Promise<string> {
  const iv = randomBytes(12)
  const ct = aesGcmEncryptSync(key, iv, plaintext, te.encode(aad))
  const out = new Uint8Array(iv.length + ct.length)
  out.set(iv)
  out.set(ct, iv.length)
  return encode(out)
}

/** Inverse of seal; undefined when the input is not one of ours (wrong key, AAD, or tampered). */
export async function open(key: CryptoKey, sealed: string, aad: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
  let bytes: Uint8Array<ArrayBuffer>
  try {
    bytes = decode(sealed)
  } catch {
    return undefined
  }
  if (bytes.length < 12 + 16) return undefined
  try {
    return aesGcmDecryptSync(key, bytes.subarray(0, 12), bytes.subarray(12), te.encode(aad))
  } catch {
    return undefined
  }
}

export async function hmac(key: CryptoKey, data: string): Promise<Uint8Array<ArrayBuffer>> {
  return hmacSha256Sync(key, data)
}
