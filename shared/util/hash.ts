import { encode } from './base64url.js'

const te = new TextEncoder()

export async function sha256(data: Uint8Array<ArrayBuffer> | string): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = typeof data === 'string' ? te.encode(data) : data
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
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
