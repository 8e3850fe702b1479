/** base64url without padding (RFC 4648 §5), as WebAuthn's JSON forms and JOSE use it. */
import { base64url } from 'jose'

/** Bytes backed by a plain ArrayBuffer (what WebCrypto and the WebAuthn library accept). */
export type Bytes = Uint8Array<ArrayBuffer>

export const encode = (bytes: Uint8Array | string): string => base64url.encode(bytes)
export const decode = (s: string): Bytes => base64url.decode(s) as Bytes

const B64URL = /^[A-Za-z0-9_-]*$/
/** True when `s` is non-empty base64url without padding. */
export const isBase64url = (s: unknown): s is string => typeof s === 'string' && s.length > 0 && B64URL.test(s)

/**
 * Longest id (base64url characters) used in a storage key: Table Storage keys are at most 1 KiB,
 * and a row key adds a short prefix. 480 characters = 360 bytes, well above any authenticator's
 * credential id for a discoverable credential (typically 16–64 bytes).
 */
export const MAX_KEY_ID = 480

/** An id fit for a storage key: base64url, at most MAX_KEY_ID characters. */
export const isKeyId = (s: unknown): s is string => isBase64url(s) && s.length <= MAX_KEY_ID
