/**
 * Single-use link tokens (invitations, recovery links; CONTRACT v2 "People and sessions"):
 * `<id>.<secret>`, both base64url, the id 16 bytes (22 characters: a row key or a user id, so the
 * row is one point read) and the secret 32 random bytes (43 characters). Only SHA-256 of the
 * secret is stored, compared in constant time. The audit sanitizer redacts this shape
 * (shared/audit/events.ts TOKEN_SHAPE).
 */
import { sha256b64u, timingSafeEqual } from './hash.js'
import { randomId } from './random.js'

/** The token's shape; ids are 16 bytes (user ids and invitation ids alike). */
export const LINK_TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/

/** Longest string accepted where a link token is expected (anything longer is not one). */
export const MAX_LINK_TOKEN = 128

/**
 * A new secret for the token of `id`: the token to show once, and the hash to store.
 *
 * @example
 * const { token, secretHash } = await newLinkToken(invitationId)
 */
export async function newLinkToken(id: string): Promise<{ token: string; secretHash: string }> {
  if (!/^[A-Za-z0-9_-]{22}$/.test(id)) throw new TypeError(`newLinkToken: id must be 16 bytes of base64url, got ${id.length} characters`)
  const secret = randomId(32)
  return { token: `${id}.${secret}`, secretHash: await sha256b64u(secret) }
}

/** The token's id and secret, or undefined when it is not of the shape. */
export function parseLinkToken(token: unknown): { id: string; secret: string } | undefined {
  if (typeof token !== 'string' || token.length > MAX_LINK_TOKEN) return undefined
  const m = LINK_TOKEN.exec(token.trim())
  return m ? { id: m[1]!, secret: m[2]! } : undefined
}

/** True when `secret` hashes to the stored `secretHash` (constant-time comparison). */
export async function secretMatches(secret: string, secretHash: string): Promise<boolean> {
  return timingSafeEqual(await sha256b64u(secret), secretHash)
}
