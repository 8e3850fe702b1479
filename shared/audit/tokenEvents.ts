/**
 * Audit events of the OAuth endpoints (shared/routes/oauth.ts): tokens issued, refreshed,
 * refused and revoked. Only ids are recorded (subject, session, client, grant, error code): never
 * the access, refresh or id token, the code, the verifier or a client assertion.
 *
 * For the OAuth engineer: the token endpoint wraps its grant dispatch in `auditTokenRequest`, so
 * every grant that `token()` dispatches (refresh_token now; authorization_code and
 * client_credentials when added) is recorded without further calls. Anything that issues or
 * revokes tokens elsewhere calls `recordTokenEvent` once, after its write.
 */
import type { Context } from 'hono'
import type { Core } from '../core.js'
import { OAuthError } from '../errors.js'
import { FIRST_PARTY_CLIENT } from '../tokens/sessions.js'
import { auditContext } from './context.js'
import { grantLabel } from '../telemetry.js'
import type { AuditActor, AuditTarget } from './events.js'
import { presentedSessionIds, refreshTokenIds, tokenIds, type IssuedTokens } from './tokenIds.js'

export interface TokenEvent {
  type: 'token.issued' | 'token.refreshed' | 'token.failed' | 'token.revoked'
  /** grant_type of the request (`refresh_token`, `authorization_code`, `client_credentials`, …). */
  grant?: string
  /** The response just sent: ids are read from it (sub, sid, client_id, aud, scope), nothing kept. */
  tokens?: IssuedTokens
  /** The session concerned (revocation), when known. */
  session?: { userId: string; id: string; clientId?: string }
  /** token.failed: the RFC 6749 §5.2 error code, and our error description. */
  error?: string
  reason?: string
  actor?: AuditActor
  target?: AuditTarget
  /** More detail (no secrets): e.g. `{ via: 'access_token' }` for a revocation. */
  detail?: Record<string, unknown>
}

/**
 * Records one token event (best effort: never throws).
 *
 * @example
 * await recordTokenEvent(core, c, { type: 'token.issued', grant: 'client_credentials', tokens })
 */
export async function recordTokenEvent(core: Core, c: Context, e: TokenEvent): Promise<void> {
  const ids = tokenIds(e.tokens)
  const userId = e.session?.userId ?? ids.userId
  const sessionId = e.session?.id ?? ids.sessionId
  const clientId = e.session?.clientId ?? ids.clientId
  // A delegated token (CIBA): the agent acted, for the person (the target).
  const actor: AuditActor = e.actor ?? (ids.actor ? { clientId: ids.actor } : undefined) ?? {
    ...(e.type !== 'token.revoked' && userId && userId !== clientId ? { userId } : {}),
    ...(ids.username ? { username: ids.username } : {}),
    ...(clientId ? { clientId } : {}),
  }
  await core.audit.record({
    ...auditContext(c),
    type: e.type,
    outcome: e.type === 'token.failed' ? 'failure' : 'success',
    actor,
    target: e.target ?? { ...(userId ? { userId } : {}), ...(sessionId ? { sessionId } : {}) },
    detail: {
      ...(e.grant ? { grant: e.grant.slice(0, 64) } : {}),
      ...(ids.audience ? { audience: ids.audience } : {}),
      ...(ids.scope ? { scope: ids.scope } : {}),
      ...(e.error ? { error: e.error } : {}),
      ...(e.reason ? { reason: e.reason } : {}),
      ...e.detail,
    },
  })
}

/**
 * Awaits a token endpoint answer and records it: `token.refreshed` for grant_type=refresh_token,
 * `token.issued` for any other grant; an OAuthError becomes `token.failed` (with its error code;
 * for a refresh token, the user and session ids it names) and is rethrown unchanged. Other errors
 * (storage: 503) pass through unrecorded.
 *
 * @example
 * r.post('/token', async (c) => {
 *   const params = await oauthForm(c)
 *   return c.json(await auditTokenRequest(core, c, params, token(core, params)), 200, NO_STORE)
 * })
 */
export async function auditTokenRequest<T extends IssuedTokens>(
  core: Core,
  c: Context,
  params: Map<string, string>,
  pending: Promise<T>,
): Promise<T> {
  const grant = params.get('grant_type')
  let tokens: T
  try {
    tokens = await pending
  } catch (err) {
    core.telemetry.count('passkey.token.grants', { grant_type: grantLabel(grant), outcome: 'failure', error: err instanceof OAuthError ? err.error : 'server_error' })
    // A CIBA poll before the person decided is the protocol working, not a failure to record.
    if (err instanceof OAuthError && err.error !== 'authorization_pending' && err.error !== 'slow_down') {
      await recordTokenEvent(core, c, {
        type: 'token.failed',
        grant,
        error: err.error,
        // Our descriptions for invalid_grant are fixed texts; others may echo request values.
        ...(err.error === 'invalid_grant' ? { reason: err.message } : {}),
        // A refused request proves nothing about who sent it: what it claims goes under `detail`,
        // never as `actor` or `target` (anyone could otherwise write events naming anyone).
        target: {},
        actor: {},
        detail: {
          claimed: {
            ...(params.get('client_id') ? { clientId: params.get('client_id')!.slice(0, 128) } : {}),
            ...(grant === 'refresh_token' ? refreshTokenIds(params.get('refresh_token')) : {}),
          },
        },
      })
    }
    throw err
  }
  core.telemetry.count('passkey.token.grants', { grant_type: grantLabel(grant), outcome: 'success' })
  await recordTokenEvent(core, c, { type: grant === 'refresh_token' ? 'token.refreshed' : 'token.issued', grant, tokens })
  return tokens
}

/**
 * After an RFC 7009 revocation that does not say what it revoked: records `token.revoked` when the
 * presented token names a session (refresh token ids, or an access token's `sub`/`sid`) that
 * this client's request revoked, i.e. now revoked at or after `since` and issued to this client.
 * One point read. Nothing is recorded for unknown, foreign or already revoked tokens (§2.2: not
 * an error), so a forged token cannot put a false event in the log. Best effort: never throws.
 *
 * When `revoke()` returns the session it revoked, call `recordTokenEvent(core, c, { type:
 * 'token.revoked', session, detail: { via } })` instead and save the read.
 *
 * @example
 * const since = core.clock.now()
 * await revoke(core, { caller, token: t })
 * await recordRevocation(core, c, t, { clientId: caller.clientId, since })
 */
export async function recordRevocation(
  core: Core,
  c: Context,
  presented: string,
  { clientId, since }: { clientId?: string; since: number },
): Promise<void> {
  const ids = presentedSessionIds(presented)
  if (!ids) return
  let session
  try {
    session = await core.store.getSession(ids.userId, ids.sessionId)
  } catch {
    core.audit.logError('audit: could not record token.revoked (storage_unavailable); the request was answered anyway')
    return
  }
  if (!session?.revokedAt || session.revokedAt < since || session.clientId !== (clientId ?? FIRST_PARTY_CLIENT)) return
  await recordTokenEvent(core, c, { type: 'token.revoked', session, detail: { via: ids.via } })
}
