/**
 * Invitations (CONTRACT v2 "Invitations"): how people join when registration is closed. An
 * administrator invites a username (with a display name and roles); the token `<id>.<secret>` is
 * shown once (only SHA-256 of the secret is stored), and its link puts it in the page's fragment.
 * The person's registration options and verify (shared/webauthn/enrolment.ts) use it up: single
 * use, also while REGISTRATION=closed.
 *
 * Single use holds by construction: the invitation fixes the id of the account it makes, so every
 * enrolment with it claims the username for the same account id and `createAccount`'s username
 * claim lets exactly one through; marking the invitation used afterwards keeps it out of the list.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { INVITATION_TTL, type InvitationBody, type InvitationCreateBody, type InvitationCreatedBody } from '../schemas/admin.js'
import { inHandFirst, updateWithRetry } from '../store/retry.js'
import { ConcurrencyError, type InvitationRecord } from '../store/types.js'
import { isKeyId } from '../util/base64url.js'
import { newLinkToken, parseLinkToken, secretMatches } from '../util/linkToken.js'
import { randomId } from '../util/random.js'
import { mustBeDefined } from './clients.js'

const iso = (ms: number) => new Date(ms).toISOString()

/** Pending: not used, not revoked, not expired. */
export const isPending = (i: InvitationRecord, now: number): boolean => i.usedAt === undefined && i.revokedAt === undefined && now < i.expiresAt

/**
 * The page link of a token (`kind` names the fragment member): the page served by both runtimes at
 * `/api/ui/` of the first allowed WebAuthn origin, so the ceremony it starts runs on an allowed
 * origin. The token is in the fragment, which browsers never send to a server.
 */
export function pageLink(core: Core, kind: 'invitation' | 'recovery', token: string): string {
  return `${core.config.allowedOrigins[0]}/api/ui/#${kind}=${token}`
}

export function invitationView(i: InvitationRecord): InvitationBody {
  return {
    id: i.id,
    username: i.username,
    ...(i.displayName !== undefined ? { displayName: i.displayName } : {}),
    roles: i.roles,
    createdAt: iso(i.createdAt),
    expiresAt: iso(i.expiresAt),
  }
}

/** Draws of a fresh invitation id before giving up (a collision of 16 random bytes is never seen). */
const ID_DRAWS = 3

/**
 * Invites a person (`invitation.created`, actor the administrator). The username must be free
 * (409 `username_taken`) and the roles defined (404, as for clients).
 *
 * @example
 * const created = await createInvitation(core, { input: { username: 'ada', roles: [] }, from: auditContext(c) })
 */
export async function createInvitation(
  core: Core,
  { input, from }: { input: InvitationCreateBody; from: RequestOrigin },
): Promise<InvitationCreatedBody> {
  const roles = [...new Set(input.roles ?? [])]
  await mustBeDefined(core, roles)
  if (await core.store.findUserIdByUsername(input.username)) throw new ServiceError('username_taken', 'That username is taken')
  const now = core.clock.now()
  for (let draw = 1; ; draw++) {
    const id = randomId(16)
    const { token, secretHash } = await newLinkToken(id)
    const invitation: InvitationRecord = {
      id,
      username: input.username,
      ...(input.displayName !== undefined ? { displayName: input.displayName } : {}),
      roles,
      userId: randomId(16),
      secretHash,
      createdAt: now,
      expiresAt: now + (input.ttl ?? INVITATION_TTL.default) * 1000,
      ...(from.actor?.userId ? { createdBy: from.actor.userId } : {}),
    }
    try {
      await core.store.createInvitation(invitation)
    } catch (e) {
      if (e instanceof ConcurrencyError && draw < ID_DRAWS) continue
      throw e
    }
    await core.audit.record({
      ...from,
      type: 'invitation.created',
      // The account id the invitation will make, not the username: the invited person has no
      // personal-data key yet, so a username here could never be shredded (docs/audit.md).
      target: { userId: invitation.userId },
      detail: { invitationId: id, roles, expiresAt: iso(invitation.expiresAt) },
    })
    const { createdAt: _, ...view } = invitationView(invitation)
    return { ...view, token, url: pageLink(core, 'invitation', token) }
  }
}

/** The pending invitations, oldest first, without tokens or hashes (one partition query). */
export async function listInvitations(core: Core): Promise<InvitationBody[]> {
  const now = core.clock.now()
  return (await core.store.listInvitations())
    .filter((i) => isPending(i, now))
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
    .map(invitationView)
}

const noSuchInvitation = () => new ServiceError('not_found', 'No such pending invitation')

/**
 * Revokes a pending invitation (`invitation.revoked`); its token then answers invitation_invalid.
 * Unknown, used, revoked or expired: 404. An enrolment that read it as pending just before may
 * still finish (the account is then made and the invitation counted as used).
 */
export async function revokeInvitation(core: Core, { id, from }: { id: string; from: RequestOrigin }): Promise<void> {
  if (!isKeyId(id)) throw noSuchInvitation()
  const revoked = await updateWithRetry({
    read: async () => {
      const i = await core.store.getInvitation(id)
      if (!i || !isPending(i, core.clock.now())) throw noSuchInvitation()
      return i
    },
    change: (i) => ({ ...i, revokedAt: core.clock.now() }),
    write: (i) => core.store.updateInvitation(i),
  })
  await core.audit.record({ ...from, type: 'invitation.revoked', target: { userId: revoked.userId }, detail: { invitationId: id } })
}

const invalid = (why: string) => new ServiceError('invitation_invalid', why)

/**
 * The pending invitation a token names, or 400 `invitation_invalid` (unknown, wrong secret, used,
 * revoked or expired alike: the detail says which only for a token whose secret matched).
 */
export async function invitationOfToken(core: Core, token: string): Promise<InvitationRecord> {
  const parts = parseLinkToken(token)
  const invitation = parts ? await core.store.getInvitation(parts.id) : undefined
  if (!parts || !invitation || !(await secretMatches(parts.secret, invitation.secretHash)))
    throw invalid('This invitation is not one this service gave out')
  return mustBePending(core, invitation)
}

/** The invitation if it is still pending, else `invitation_invalid` saying why. */
export function mustBePending(core: Core, invitation: InvitationRecord | undefined): InvitationRecord {
  if (!invitation) throw invalid('This invitation is not one this service gave out')
  if (invitation.usedAt !== undefined) throw invalid('This invitation was used already')
  if (invitation.revokedAt !== undefined) throw invalid('This invitation was revoked')
  if (core.clock.now() >= invitation.expiresAt) throw invalid('This invitation expired; ask for a new one')
  return invitation
}

/**
 * After the account was made: marks the invitation used (etag-guarded, read again when it lost).
 * Best effort: the account exists, and the invitation cannot make another (its account id's
 * username claim is taken), so a failure here only leaves it listed until it expires.
 */
export async function markInvitationUsed(core: Core, invitation: InvitationRecord): Promise<void> {
  await updateWithRetry<InvitationRecord | undefined>({
    read: inHandFirst<InvitationRecord | undefined>(invitation, () => core.store.getInvitation(invitation.id)),
    change: (i) => i && { ...i, usedAt: i.usedAt ?? core.clock.now() },
    // Gone (swept) or used already: nothing to write.
    write: async (i, current) => {
      if (i && current?.usedAt === undefined) await core.store.updateInvitation(i)
    },
  }).catch(() => undefined)
}

/**
 * Account deletion's eraser (shared/account/deletion.ts ACCOUNT_ERASERS): every invitation row
 * naming the account's username or id, pending, used or revoked, is deleted (one partition query
 * and a delete each; idempotent).
 */
export async function eraseInvitationsFor(core: Core, account: { userId: string; username: string }): Promise<void> {
  const rows = (await core.store.listInvitations()).filter((i) => i.username === account.username || i.userId === account.userId)
  for (const i of rows) await core.store.deleteInvitation(i.id)
}
