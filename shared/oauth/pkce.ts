/**
 * PKCE (RFC 7636) with S256 only: `plain` is refused (RFC 9700 §2.1.1 recommends S256).
 */
import { sha256b64u, timingSafeEqual } from '../util/hash.js'

/** RFC 7636 §4.1: code_verifier = 43*128unreserved. */
export const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/
/** BASE64URL(SHA-256(verifier)): 32 bytes, 43 characters, no padding (§4.2). */
export const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/
export const CODE_CHALLENGE_METHODS = ['S256'] as const

/**
 * RFC 7636 §4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge.
 *
 * @example
 * if (!(await verifyPkce({ verifier, expectedChallenge }))) throw new OAuthError('invalid_grant', '…')
 */
export async function verifyPkce({ verifier, expectedChallenge }: { verifier: string | undefined; expectedChallenge: string }): Promise<boolean> {
  if (!verifier || !CODE_VERIFIER.test(verifier)) return false
  return timingSafeEqual(await sha256b64u(verifier), expectedChallenge)
}
