/**
 * Finds what a presented token stands for, for introspection and revocation: an access token (a
 * JWT of ours that verifies) or a refresh token (`<userId>.<sessionId>.<secret>`, the session's
 * current or a rotated-out secret), and the session behind it. Anything else is `undefined`:
 * not an error (RFC 7009 §2.2, RFC 7662 §2.2 `active: false`).
 */
import type { Core } from '../core.js'
import type { SessionRecord } from '../store/types.js'
import { InvalidToken, type AccessTokenClaims } from '../tokens/accessToken.js'
import { decode, isBase64url } from '../util/base64url.js'
import { sha256b64u, timingSafeEqual } from '../util/hash.js'

export type FoundToken =
  | { kind: 'access_token'; claims: AccessTokenClaims; session: SessionRecord | undefined }
  | { kind: 'refresh_token'; session: SessionRecord; current: boolean }

/** A JWT's first part decodes to a JSON object; a refresh token's is a random id. */
function looksLikeJwt(token: string): boolean {
  const head = token.split('.')[0]!
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(decode(head)))
    return typeof v === 'object' && v !== null
  } catch {
    return false
  }
}

export async function findToken(core: Core, token: string): Promise<FoundToken | undefined> {
  const parts = token.split('.')
  if (token.length > 8192 || parts.length !== 3 || !parts.every(isBase64url)) return undefined
  if (looksLikeJwt(token)) {
    let claims: AccessTokenClaims
    try {
      claims = await core.tokens.verify(token, { audiences: core.config.audiences })
    } catch (e) {
      if (e instanceof InvalidToken) return undefined
      throw e
    }
    return { kind: 'access_token', claims, session: await core.store.getSession(claims.sub, claims.sid) }
  }
  const [userId, sessionId, secret] = parts as [string, string, string]
  if (userId.length > 64 || sessionId.length > 64 || secret.length > 64) return undefined
  const session = await core.store.getSession(userId, sessionId)
  if (!session) return undefined
  const h = await sha256b64u(secret)
  if (timingSafeEqual(session.refreshHash, h)) return { kind: 'refresh_token', session, current: true }
  if (session.previousRefreshHashes.some((p) => timingSafeEqual(p, h))) return { kind: 'refresh_token', session, current: false }
  return undefined
}
