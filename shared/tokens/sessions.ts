/**
 * Sessions and refresh tokens.
 *
 * A refresh token is opaque to clients: `<userId>.<sessionId>.<secret>` (base64url parts). Only
 * SHA-256(secret) is stored, in the session row. Every use rotates it (RFC 9700 §2.2.2 / OAuth
 * 2.0 Security BCP: refresh token rotation); the rotated-out hashes are kept (bounded), and
 * presenting one of them is reuse, which revokes the whole session. A forged secret for a known
 * session id (the `sid` claim is public) is merely invalid: it does not revoke anything.
 */
import type { Config } from '../config.js'
import { MAX_USER_AGENT } from '../audit/events.js'
import { OAuthError } from '../errors.js'
import { inHandFirst, updateWithRetry } from '../store/retry.js'
import { ConcurrencyError, type SessionRecord, type Store, type UserRecord } from '../store/types.js'
import type { Clock } from '../util/clock.js'
import { seconds } from '../util/clock.js'
import { encode, isBase64url } from '../util/base64url.js'
import { sha256, sha256b64u, timingSafeEqual } from '../util/hash.js'
import { randomId } from '../util/random.js'
import type { AccessTokens } from './accessToken.js'
import type { TokenResponseBody } from '../schemas/oauth.js'

/** OIDC Core §3.1.3.6: base64url of the left half of SHA-256(access token) (RS256, PS256, ES256). */
export async function atHash(accessToken: string): Promise<string> {
  const digest = await sha256(accessToken)
  return encode(digest.subarray(0, digest.length / 2))
}

/** RFC 9449 §5: `DPoP` for a session bound to a key, else `Bearer` (RFC 6750). */
export function tokenType(session: { jkt?: string | undefined }): 'DPoP' | 'Bearer' {
  return session.jkt !== undefined ? 'DPoP' : 'Bearer'
}

/** client_id of tokens issued by our own WebAuthn endpoints. */
export const FIRST_PARTY_CLIENT = 'passkey-web'
/**
 * How many rotated-out refresh hashes a session remembers for reuse detection: more than a
 * session's lifetime of rotations at the defaults (REFRESH_TOKEN_TTL / ACCESS_TOKEN_TTL = 144).
 * A token older than that is refused as invalid without revoking the session. ≈ 9 KB per row.
 */
export const REUSE_MEMORY = 200

/** A person's tokens (RFC 6749 §5.1, the wire shape of shared/schemas/oauth.ts): always with a refresh token. */
export type TokenResponse = TokenResponseBody & { refresh_token: string }

/**
 * What a new session is made of: who, and the session record's sign-in fields. `userAgent`: the
 * sign-in request's User-Agent (shown in the account's session list), truncated as the audit's.
 */
export type NewSession = { user: UserRecord } & Pick<SessionRecord, 'credentialId' | 'clientId' | 'audience' | 'scope' | 'amr' | 'acr' | 'userAgent'> & { jkt?: string | undefined }

export class Sessions {
  constructor(
    private readonly deps: { config: Config; store: Store; clock: Clock; tokens: AccessTokens; onRevoke?: (userId: string) => void },
  ) {}

  /** Makes a session record and its first refresh token; the caller stores the record. */
  async create(s: NewSession): Promise<{ session: SessionRecord; refreshToken: string }> {
    const now = this.deps.clock.now()
    const id = randomId(16)
    const secret = randomId(32)
    const session: SessionRecord = {
      id,
      userId: s.user.id,
      credentialId: s.credentialId,
      clientId: s.clientId,
      audience: s.audience,
      scope: s.scope,
      amr: s.amr,
      acr: s.acr,
      authTime: seconds(now),
      createdAt: now,
      expiresAt: now + this.deps.config.refreshTokenTtl * 1000,
      lastUsedAt: now,
      refreshHash: await sha256b64u(secret),
      previousRefreshHashes: [],
    }
    if (s.jkt !== undefined) session.jkt = s.jkt
    const userAgent = s.userAgent?.trim().slice(0, MAX_USER_AGENT)
    if (userAgent) session.userAgent = userAgent
    return { session, refreshToken: `${s.user.id}.${id}.${secret}` }
  }

  /**
   * RFC 6749 §5.1 token response for a stored session. `nonce`: the authorization request's, for
   * the ID token of an authorization code exchange (OIDC Core §3.1.3.6).
   */
  async respond(user: UserRecord, session: SessionRecord, refreshToken: string, { nonce }: { nonce?: string } = {}): Promise<TokenResponse> {
    const { token, expiresIn } = await this.accessToken(user, session)
    const res: TokenResponse = {
      access_token: token,
      token_type: tokenType(session),
      expires_in: expiresIn,
      refresh_token: refreshToken,
      scope: session.scope,
    }
    if (session.scope.split(' ').includes('openid'))
      res.id_token = await this.deps.tokens.signIdToken({
        sub: user.id,
        aud: session.clientId,
        auth_time: session.authTime,
        amr: session.amr,
        acr: session.acr,
        username: user.username,
        sid: session.id,
        at_hash: await atHash(token),
        ...(nonce !== undefined ? { nonce } : {}),
      })
    return res
  }

  /**
   * The access token of a session (RFC 9068). A delegated session's (CONTRACT v2 "Agents acting
   * for people") also names the agent as the actor, `act: { sub: <agent> }` (RFC 8693 §4.1), and
   * carries the approved RFC 9396 `authorization_details` of a per-action approval.
   */
  accessToken(user: UserRecord, session: Omit<SessionRecord, 'jkt'> & { jkt?: string | undefined }): Promise<{ token: string; expiresIn: number; exp: number }> {
    const d = session.delegation
    return this.deps.tokens.sign({
      sub: user.id,
      aud: session.audience,
      client_id: session.clientId,
      scope: session.scope,
      auth_time: session.authTime,
      amr: session.amr,
      acr: session.acr,
      roles: user.roles,
      sid: session.id,
      ...(d ? { act: { sub: session.clientId } } : {}),
      ...(d?.authorizationDetails ? { authorization_details: d.authorizationDetails } : {}),
      // RFC 9449 §6.1: bound to the session's DPoP key.
      ...(session.jkt !== undefined ? { cnf: { jkt: session.jkt } } : {}),
    })
  }

  /** grant_type=refresh_token (RFC 6749 §6) with rotation and reuse detection. */
  async refresh(
    refreshToken: string,
    { clientId, scope, resource, grantable, jkt }: { clientId?: string; scope?: string; resource?: string; grantable?: Set<string>; jkt?: string },
  ): Promise<TokenResponse> {
    const { store, clock } = this.deps
    const parts = refreshToken.split('.')
    if (parts.length !== 3 || !parts.every((p) => isBase64url(p) && p.length <= 64))
      throw new OAuthError('invalid_grant', 'refresh token is invalid')
    const [userId, sessionId, secret] = parts as [string, string, string]
    const [session, user] = await Promise.all([store.getSession(userId, sessionId), store.getUser(userId)])
    if (!session || !user) throw new OAuthError('invalid_grant', 'refresh token is invalid')
    const presented = await sha256b64u(secret)
    // Disabling revokes the sessions too; this also covers a session it could not reach yet.
    if (user.disabledAt !== undefined) throw new OAuthError('invalid_grant', 'the account is disabled')
    if (session.revokedAt) throw new OAuthError('invalid_grant', 'the session was revoked')
    // RFC 9449 §5: a bound refresh token needs a proof by its key. An unbound one stays unbound
    // (docs/dpop.md: a session keeps the binding it was made with). Before reuse detection: a
    // thief holding an old rotated-out token of a bound session but not its key changes nothing
    // (revoking on its replay would let anyone without the key end the holder's session).
    if (session.jkt !== undefined && jkt === undefined)
      throw new OAuthError('invalid_dpop_proof', 'This refresh token is bound to a DPoP key: send a DPoP proof signed by it')
    if (session.jkt !== undefined && jkt !== session.jkt)
      throw new OAuthError('invalid_dpop_proof', 'The DPoP proof is signed by another key than the one this refresh token is bound to')
    if (session.previousRefreshHashes.some((h) => timingSafeEqual(h, presented))) {
      await this.revoke(session, 'refresh token reuse')
      throw new OAuthError('invalid_grant', 'refresh token was already used; the session is revoked')
    }
    if (!timingSafeEqual(session.refreshHash, presented)) throw new OAuthError('invalid_grant', 'refresh token is invalid')
    if (clock.now() >= session.expiresAt) throw new OAuthError('invalid_grant', 'the session expired')
    // RFC 6749 §6: bound to its client. Our own page may leave client_id out; another app may not.
    if ((clientId !== undefined || session.clientId !== FIRST_PARTY_CLIENT) && clientId !== session.clientId)
      throw new OAuthError('invalid_grant', 'refresh token was issued to another client (send its client_id)')
    // RFC 8707 §2.2: a refresh may name only the resource the session was granted for.
    if (resource !== undefined && resource !== session.audience)
      throw new OAuthError('invalid_target', 'resource is not the one this refresh token was issued for (RFC 8707 §2.2)')
    if (scope !== undefined) {
      // RFC 6749 §6: a narrower scope may be requested, never a wider one.
      const granted = new Set(session.scope.split(' '))
      if (!scope.split(' ').every((s) => granted.has(s)))
        throw new OAuthError('invalid_scope', 'requested scope exceeds the granted scope')
    }
    // Granted, not echoed: what the client may be granted today (SCOPES or its registration may
    // have changed since the sign-in, and sessions from before scopes were checked hold others).
    const effective = scope ?? session.scope
    const refused = grantable ? effective.split(' ').filter((s) => s && !grantable.has(s)) : []
    if (refused.length)
      throw new OAuthError('invalid_scope', `scope ${refused.join(' ')} may no longer be granted: refresh with a narrower scope, or sign in again`)
    const next = randomId(32)
    const rotated: SessionRecord = {
      ...session,
      // The rotation rewrites the row anyway: recording the use costs no round trip.
      lastUsedAt: clock.now(),
      refreshHash: await sha256b64u(next),
      previousRefreshHashes: [...session.previousRefreshHashes, session.refreshHash].slice(-REUSE_MEMORY),
    }
    // Sign first: if signing fails, nothing was rotated and the client may retry with the same
    // token (saving first would make that retry look like reuse and revoke the session).
    const response = await this.respond(user, scope ? { ...rotated, scope } : rotated, `${userId}.${sessionId}.${next}`)
    try {
      await store.updateSession(rotated)
    } catch (e) {
      if (!(e instanceof ConcurrencyError)) throw e
      // Two uses of one refresh token at once: one of them is a replay. Revoke (RFC 9700 §4.14.2).
      const fresh = await store.getSession(userId, sessionId)
      if (fresh) await this.revoke(fresh, 'refresh token reuse')
      throw new OAuthError('invalid_grant', 'refresh token was already used; the session is revoked')
    }
    return response
  }

  /** True when `refreshToken` is the session's current or a rotated-out refresh token. */
  async owns(session: SessionRecord, refreshToken: string): Promise<boolean> {
    const secret = refreshToken.split('.')[2] ?? ''
    const h = await sha256b64u(secret)
    return timingSafeEqual(session.refreshHash, h) || session.previousRefreshHashes.some((p) => timingSafeEqual(p, h))
  }

  /**
   * Revokes a session (idempotent; best effort through three lost etag races). True when this
   * call revoked it; false when it was gone or revoked already (by whoever won a race), or the
   * races were lost.
   */
  async revoke(session: SessionRecord, reason: string): Promise<boolean> {
    const { store, clock } = this.deps
    try {
      const revoked = await updateWithRetry({
        read: inHandFirst<SessionRecord | undefined>(session, () => store.getSession(session.userId, session.id)),
        // Gone, or revoked by whoever won the race: nothing left to do.
        change: (s) => (s && !s.revokedAt ? { ...s, revokedAt: clock.now(), revokedReason: reason } : undefined),
        write: async (s) => {
          if (s) await store.updateSession(s)
        },
        attempts: 3,
      })
      if (revoked) this.deps.onRevoke?.(session.userId)
      return revoked !== undefined
    } catch (e) {
      if (!(e instanceof ConcurrencyError)) throw e
      return false
    }
  }

}
