/**
 * Authorization codes (RFC 6749 §4.1.2): a sealed pointer to the session the passkey sign-in made
 * (shared/oauth/seal.ts). What the code is bound to — client, redirect URI, PKCE challenge, nonce,
 * 60 s expiry, single use — is stored on that session (`SessionRecord.authorizationCode`), so the
 * exchange is one point read and one etag-guarded write, and a second exchange finds the session
 * to revoke. The seal makes codes unforgeable and keeps the user id out of the redirect URL.
 */
import type { Core } from '../../core.js'
import { isBase64url } from '../../util/base64url.js'
import { openJson, sealJson } from '../seal.js'

/** RFC 6749 §4.1.2: short-lived; 60 seconds. */
export const CODE_TTL_SECONDS = 60

interface SealedCode {
  /** user (or partition) id */
  u: string
  /** session id */
  s: string
}

export function sealCode(core: Core, ref: { userId: string; sessionId: string }): Promise<string> {
  return sealJson(core.oauthKey, 'oauth-authorization-code-v1', { u: ref.userId, s: ref.sessionId } satisfies SealedCode)
}

/** The session a code points at, or undefined when it is not one of our codes. */
export async function openCode(core: Core, code: string): Promise<{ userId: string; sessionId: string } | undefined> {
  const v = await openJson<SealedCode>(core.oauthKey, 'oauth-authorization-code-v1', code)
  if (!v || !isBase64url(v.u) || !isBase64url(v.s)) return undefined
  return { userId: v.u, sessionId: v.s }
}
