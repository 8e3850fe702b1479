/**
 * The ids inside a token response we just issued, for audit events: subject, session, client,
 * audience, scope, amr/acr, and the username from the id token (`preferred_username`). Only the payloads are decoded
 * (our own fresh tokens: nothing to verify); the tokens themselves are never kept.
 */
import { decodeJwt } from 'jose'

/** Any token endpoint answer (RFC 6749 §5.1): only these two members are looked into. */
export interface IssuedTokens {
  access_token?: string
  id_token?: string
}

export interface TokenIds {
  userId?: string
  username?: string
  sessionId?: string
  clientId?: string
  audience?: string
  scope?: string
  amr?: string[]
  acr?: string
  /** A delegated token's actor (`act.sub`, RFC 8693 §4.1): the agent acting for `userId`. */
  actor?: string
}

export function tokenIds(res: IssuedTokens | undefined): TokenIds {
  const out: TokenIds = {}
  const at = claims(res?.access_token)
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined)
  out.userId = str(at.sub)
  out.sessionId = str(at.sid)
  out.clientId = str(at.client_id)
  out.audience = Array.isArray(at.aud) ? str(at.aud[0]) : str(at.aud)
  out.scope = str(at.scope)
  out.acr = str(at.acr)
  out.actor = str((at.act as { sub?: unknown } | undefined)?.sub)
  if (Array.isArray(at.amr) && at.amr.every((x) => typeof x === 'string')) out.amr = at.amr as string[]
  const id = claims(res?.id_token)
  out.username = str(id.preferred_username) ?? str(id.username) // OIDC Core §5.1; older tokens: username
  for (const k of Object.keys(out) as (keyof TokenIds)[]) if (out[k] === undefined) delete out[k]
  return out
}

function claims(jwt: string | undefined): Record<string, unknown> {
  if (!jwt) return {}
  try {
    return decodeJwt(jwt) as Record<string, unknown>
  } catch {
    return {}
  }
}

/** `<userId>.<sessionId>` of a refresh token as presented (the secret part is never looked at). */
export function refreshTokenIds(token: string | undefined): { userId?: string; sessionId?: string } {
  const [userId, sessionId] = (token ?? '').split('.')
  const id = /^[A-Za-z0-9_-]{1,64}$/
  return userId && sessionId && id.test(userId) && id.test(sessionId) ? { userId, sessionId } : {}
}

/**
 * The session a presented token names, without trusting it: a refresh token's first two parts,
 * or an access token's `sub` and `sid` (payload decoded, not verified). Callers confirm against
 * storage before recording anything.
 */
export function presentedSessionIds(
  token: string,
): { userId: string; sessionId: string; via: 'access_token' | 'refresh_token' } | undefined {
  if (token.startsWith('ey')) {
    const { sub, sid } = claims(token)
    const id = /^[A-Za-z0-9_-]{1,64}$/
    return typeof sub === 'string' && typeof sid === 'string' && id.test(sub) && id.test(sid)
      ? { userId: sub, sessionId: sid, via: 'access_token' }
      : undefined
  }
  const ids = refreshTokenIds(token)
  return ids.userId && ids.sessionId ? { userId: ids.userId, sessionId: ids.sessionId, via: 'refresh_token' } : undefined
}
