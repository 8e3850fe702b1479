/**
 * Standing delegations (CONTRACT v2 "Agents acting for people"): what a person approved an agent
 * to do until revoked, listed and revocable by the person.
 *
 * A standing delegation is the delegated session the approval issued (its refresh token is the
 * agent's): the id is the session id. Revoking it is revoking that session through
 * `Sessions.revoke` (etag-guarded, like every revocation), so its refresh token answers
 * `invalid_grant` at once, and the authorizer, which checks the session of every token, refuses
 * its access tokens at once here and within AUTHZ_CACHE_TTL on other instances. No second row to
 * keep in step, and no extra read on the authorizer's cold path.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { isLive } from '../account/sessions.js'
import { ServiceError } from '../errors.js'
import type { DelegationView } from '../schemas/agents.js'
import type { SessionRecord } from '../store/types.js'
import { isKeyId } from '../util/base64url.js'

const iso = (ms: number) => new Date(ms).toISOString()

/** A standing delegation: delegated, without per-action details, live. */
export const isStanding = (s: SessionRecord, now: number) => s.delegation !== undefined && !s.delegation.authorizationDetails && isLive(s, now)

/**
 * GET /api/me/delegations: one partition query, and one read per agent (a deleted agent's
 * sessions are not listed: nothing accepts their tokens any more).
 *
 * @example
 * const list = await listDelegations(core, principal.userId)
 */
export async function listDelegations(core: Core, userId: string): Promise<DelegationView[]> {
  const now = core.clock.now()
  const standing = (await core.store.listSessions(userId)).filter((s) => isStanding(s, now))
  const agents = new Map(
    await Promise.all([...new Set(standing.map((s) => s.clientId))].map(async (id) => [id, await core.store.getClient(id)] as const)),
  )
  return standing
    .filter((s) => agents.get(s.clientId))
    .sort((a, b) => (b.lastUsedAt ?? b.createdAt) - (a.lastUsedAt ?? a.createdAt))
    .map((s) => ({
      id: s.id,
      clientId: s.clientId,
      clientName: agents.get(s.clientId)!.name,
      scope: s.scope,
      createdAt: iso(s.createdAt),
      ...(s.lastUsedAt !== undefined && s.lastUsedAt !== s.createdAt ? { lastUsedAt: iso(s.lastUsedAt) } : {}),
    }))
}

/**
 * The person's live standing delegations to one agent, most recently used first (one partition
 * query): what a token exchange (shared/oauth/grants/token-exchange.ts) rests on.
 *
 * @example
 * const [latest] = await standingDelegations(core, { userId: claims.sub, agentId: agent.id })
 */
export async function standingDelegations(core: Core, { userId, agentId }: { userId: string; agentId: string }): Promise<SessionRecord[]> {
  const now = core.clock.now()
  return (await core.store.listSessions(userId))
    .filter((s) => s.clientId === agentId && isStanding(s, now))
    .sort((a, b) => (b.lastUsedAt ?? b.createdAt) - (a.lastUsedAt ?? a.createdAt))
}

/** DELETE /api/me/delegations/{id} (`delegation.revoked`); another person's, unknown or not live: 404 alike. */
export async function revokeDelegation(core: Core, { userId, id, from }: { userId: string; id: string; from: RequestOrigin }): Promise<void> {
  const session = isKeyId(id) ? await core.store.getSession(userId, id) : undefined
  if (!session || !isStanding(session, core.clock.now())) throw new ServiceError('not_found', 'No such delegation on this account')
  if (!(await core.sessions.revoke(session, 'delegation revoked by the person'))) {
    const fresh = await core.store.getSession(userId, id)
    if (fresh && isLive(fresh, core.clock.now())) throw new ServiceError('conflict', 'The delegation changed while it was being revoked; retry')
    return // revoked meanwhile by someone else: theirs to record
  }
  await core.audit.record({
    ...from,
    type: 'delegation.revoked',
    actor: { userId },
    target: { userId, clientId: session.clientId, sessionId: session.id },
    detail: { scope: session.scope, requestId: session.delegation!.requestId },
  })
}
