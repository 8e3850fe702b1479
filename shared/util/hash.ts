import { sha256Sync } from '../crypto/fast.js'
import { encode } from './base64url.js'

export async function sha256(data: Uint8Array<ArrayBuffer> | string): Promise<Uint8Array<ArrayBuffer>> {
  return sha256Sync(data)
}

/** base64url(SHA-256(data)): how secrets (refresh tokens) are stored and cache keys are made. */
export async function sha256b64u(data: Uint8Array<ArrayBuffer> | string): Promise<string> {
  return encode(await sha256(data))
}

/** Constant-time comparison of two equal-length strings. */
export function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}
