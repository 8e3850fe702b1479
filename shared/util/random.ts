import { encode } from './base64url.js'

/** `n` bytes from the platform CSPRNG. */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(n))
}

/** A random identifier: `n` bytes, base64url. 16 bytes = 128 bits, unguessable. */
export function randomId(n = 16): string {
  return encode(randomBytes(n))
}
