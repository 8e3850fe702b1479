/**
 * Sealed values of the OAuth endpoints: the authorization request handle (page ↔ complete) and
 * the authorization code. AES-256-GCM (shared/crypto/kek.ts `seal`) under a key derived from
 * KEY_ENCRYPTION_KEY with HKDF-SHA-256 for this purpose alone (`deriveKey(kek, 'oauth-seal-v1')`); the AAD names the kind of value,
 * so a handle can never be presented as a code or the other way round. While KEY_ENCRYPTION_KEY
 * changes (KEY_ENCRYPTION_KEY_PREVIOUS set) new values are sealed with the current KEK, and those
 * sealed before the switch (minutes old at most) still open.
 */
import { open, seal, type SealKey } from '../crypto/kek.js'

const te = new TextEncoder()
const td = new TextDecoder()

export type SealKind = 'oauth-authorization-request-v1' | 'oauth-authorization-code-v1' | 'ciba-auth-req-v1'

/** base64url(iv ‖ AES-GCM(JSON(value))), bound to `kind`. */
export async function sealJson(key: Promise<SealKey>, kind: SealKind, value: unknown): Promise<string> {
  return seal(await key, te.encode(JSON.stringify(value)), kind)
}

/** The sealed value, or undefined when it is not one of ours of this kind (or was tampered with). */
export async function openJson<T>(key: Promise<SealKey>, kind: SealKind, sealed: unknown): Promise<T | undefined> {
  if (typeof sealed !== 'string' || sealed.length === 0 || sealed.length > 8192) return undefined
  const plain = await open(await key, sealed, kind)
  if (!plain) return undefined
  try {
    return JSON.parse(td.decode(plain)) as T
  } catch {
    return undefined
  }
}
