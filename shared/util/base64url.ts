/** base64url without padding (RFC 4648 §5), as WebAuthn's JSON forms and JOSE use it. */
import { base64url } from 'jose'

/** Bytes backed by a plain ArrayBuffer (what WebCrypto and the WebAuthn library accept). */
export type Bytes = Uint8Array<ArrayBuffer>

export const encode = (bytes: Uint8Array | string): string => base64url.encode(bytes)
export const decode = (s: string): Bytes => base64url.decode(s) as Bytes

const B64URL = /^[A-Za-z0-9_-]*$/
/** True when `s` is non-empty base64url without padding. */
export const isBase64url = (s: unknown): s is string => typeof s === 'string' && s.length > 0 && B64URL.test(s)
