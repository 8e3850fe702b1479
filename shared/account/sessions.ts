/**
 * The sessions of an account (CONTRACT v2 "Sessions"): the person's own (shared/routes/sessions.ts
 * `meSessionsRoutes`) and an administrator's view of anyone's (`adminSessionsRoutes`).
 *
 * Listing is one partition range query (the `sess:` rows of the user's `users` partition), never
 * a scan. Revoking goes through `Sessions.revoke`, the path every other revocation takes: an
 * etag-guarded write (so a refresh racing it cannot undo it), after which the refresh token
 * answers `invalid_grant`, the bearer check refuses the access tokens at once and the authorizer
 * forgets the user's cached decisions (`authz.forgetUser`, within AUTHZ_CACHE_TTL on other
 * instances). Each session revoked is one `session.revoked` event, recorded by the call that
 * revoked it: two concurrent "sign out everywhere else" revoke and record every session once.
 */
import { isMetadataDocumentClientId } from '../oauth/clientMetadata.js'
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import type { SessionView } from '../schemas/sessions.js'
import type { SessionRecord } from '../store/types.js'
import { isKeyId } from '../util/base64url.js'
import { FIRST_PARTY_CLIENT } from '../tokens/sessions.js'

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Live: not revoked, not expired, and not made by the authorization endpoint for a code that
 * expired unused (no token was issued from it, and none can be).
 */
export function isLive(s: SessionRecord, now: number): boolean {
  if (s.revokedAt !== undefined || now >= s.expiresAt) return false
  const code = s.authorizationCode
  return !code || code.usedAt !== undefined || now < code.expiresAt
}

/** `current`: the caller's own session (the `sid` of the token that asked). */
export function sessionView(s: SessionRecord, currentSessionId?: string): SessionView {
  const v: SessionView = {
    id: s.id,
    createdAt: iso(s.createdAt),
    // Sessions stored before lastUsedAt was recorded were last used when made, or since.
    lastUsedAt: iso(s.lastUsedAt ?? s.createdAt),
    expiresAt: iso(s.expiresAt),
    clientId: s.clientId,
    current: s.id === currentSessionId,
  }
  if (s.credentialId !== undefined) v.credentialId = s.credentialId
  if (s.userAgent !== undefined) v.userAgent = s.userAgent
  return v
}

/**
 * The account's live sessions, most recently used first (one partition query, and one read per
 * other application it signed in to: a deleted client's sessions stay in storage until they
 * expire, but nothing accepts their tokens any more, so they are not listed as live).
 */
async function liveSessions(core: Core, userId: string): Promise<SessionRecord[]> {
  const now = core.clock.now()
  const live = (await core.store.listSessions(userId)).filter((s) => isLive(s, now))
  const apps = [...new Set(live.map((s) => s.clientId).filter((id) => id !== FIRST_PARTY_CLIENT && id !== userId))]
  // A client ID metadata document's client is never registered: its sessions stay listed.
  const gone = new Set((await Promise.all(apps.filter((id) => !isMetadataDocumentClientId(id)).map(async (id) => ((await core.store.getClient(id)) ? undefined : id)))).filter(Boolean))
  return live.filter((s) => !gone.has(s.clientId)).sort((a, b) => (b.lastUsedAt ?? b.createdAt) - (a.lastUsedAt ?? a.createdAt))
}

/**
 * The signed-in person's live sessions, `current` marking the caller's.
 *
 * @example
 * const list = await listSessions(core, { userId: p.userId, currentSessionId: p.sessionId })
 */
export async function listSessions(core: Core, { userId, currentSessionId }: { userId: string; currentSessionId?: string }): Promise<SessionView[]> {
  return (await liveSessions(core, userId)).map((s) => sessionView(s, currentSessionId))
}

/**
 * Revokes each session and records `session.revoked` for those this call revoked (one revoked
 * meanwhile by someone else is theirs to record). A session that is still live after
 * `Sessions.revoke` gave up (three races lost to its refreshes) is a 409: "signed out" must
 * never be answered for a session that is not.
 */
async function revokeEach(core: Core, sessions: SessionRecord[], { reason, from }: { reason: string; from: RequestOrigin }): Promise<number> {
  const revoked = await Promise.all(
    sessions.map(async (s) => {
      if (await core.sessions.revoke(s, reason)) return s
      const fresh = await core.store.getSession(s.userId, s.id)
      if (fresh && isLive(fresh, core.clock.now())) throw new ServiceError('conflict', 'A session changed while it was being revoked; retry')
      return undefined
    }),
  )
  const mine = revoked.filter((s): s is SessionRecord => s !== undefined)
  await Promise.all(
    mine.map((s) =>
      core.audit.record({
        ...from,
        type: 'session.revoked',
        target: { userId: s.userId, sessionId: s.id, ...(s.credentialId ? { credentialId: s.credentialId } : {}) },
        detail: { reason, clientId: s.clientId },
      }),
    ),
  )
  return mine.length
}

const noSuchSession = () => new ServiceError('not_found', 'No such session on this account')

/**
 * Signs one of the person's own sessions out (the current one too: that is signing out). Another
 * account's session id, an unknown, revoked or expired one: 404 alike, looked up only in the
 * caller's own partition, so nothing is learnt about other accounts.
 */
export async function revokeSession(core: Core, { userId, sessionId, from }: { userId: string; sessionId: string; from: RequestOrigin }): Promise<void> {
  const session = isKeyId(sessionId) ? await core.store.getSession(userId, sessionId) : undefined
  if (!session || !isLive(session, core.clock.now())) throw noSuchSession()
  // Revoked by a concurrent call meanwhile: signed out all the same, nothing to answer but 204.
  await revokeEach(core, [session], { reason: 'signed out by the user', from: { ...from, actor: { userId } } })
}

/** The person's live sessions of one application, revoked (its consent was withdrawn). */
export async function revokeClientSessions(core: Core, { userId, clientId, from }: { userId: string; clientId: string; from: RequestOrigin }): Promise<number> {
  const now = core.clock.now()
  const sessions = (await core.store.listSessions(userId)).filter((s) => s.clientId === clientId && isLive(s, now))
  return revokeEach(core, sessions, { reason: 'consent revoked by the user', from: { ...from, actor: { userId } } })
}

/** "Sign out everywhere else": every live session of the person but `keep` (the caller's). */
export async function revokeOtherSessions(core: Core, { userId, keep, from }: { userId: string; keep: string; from: RequestOrigin }): Promise<number> {
  const others = (await liveSessions(core, userId)).filter((s) => s.id !== keep)
  return revokeEach(core, others, { reason: 'signed out everywhere else', from: { ...from, actor: { userId } } })
}

const noSuchUser = () => new ServiceError('not_found', 'No such user')

/** The user (a person: an OAuth client's principal row has no username), or 404. */
async function mustBeUser(core: Core, userId: string): Promise<void> {
  if (!(await core.store.getUser(userId))?.username) throw noSuchUser()
}

/**
 * An administrator's view of a person's live sessions; `current` marks the administrator's own
 * session (only when listing their own account).
 */
export async function userSessions(core: Core, { userId, currentSessionId }: { userId: string; currentSessionId?: string }): Promise<SessionView[]> {
  // An id no storage key can hold names no one (and must not reach the store).
  if (!isKeyId(userId)) throw noSuchUser()
  const [list] = await Promise.all([listSessions(core, { userId, currentSessionId }), mustBeUser(core, userId)])
  return list
}

/**
 * An administrator signs a person out everywhere: every live session (their own too, when it is
 * their own account). `from` carries the administrator as the actor (requireRole publishes it).
 */
export async function revokeUserSessions(core: Core, { userId, from }: { userId: string; from: RequestOrigin }): Promise<number> {
  if (!isKeyId(userId)) throw noSuchUser()
  await mustBeUser(core, userId)
  return revokeEach(core, await liveSessions(core, userId), { reason: 'revoked by an administrator', from })
}
