/**
 * Registrations started by a link (CONTRACT v2 "Invitations" and "Recovery"): the options check
 * the link's token and seal the invitation's or recovery issue's id into the challenge; the
 * verify (after the challenge was consumed and the attestation verified, registration.ts) reads
 * the invitation or recovery again and uses it up.
 *
 * Invitation verify: invitation still pending (else `invitation_invalid`) → createAccount with
 * the invitation's account id, username, display name and roles (its username claim lets one of
 * two concurrent enrolments through; the other answers `invitation_invalid`) → mark it used. A
 * verify that fails before the account exists leaves the invitation usable.
 *
 * Recovery verify: account and recovery read again (this issue, unused, unexpired; the account
 * not disabled) → recoverAccount: one partition transaction marks the recovery used, adds the
 * passkey and the new session, and revokes the earlier sessions (the rest right after). A lost
 * race (the link used or replaced meanwhile) → `recovery_invalid`, nothing written.
 */
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { invitationOfToken, markInvitationUsed, mustBePending } from '../admin/invitations.js'
import { mustBeUsable, recoveryOfToken } from '../admin/recovery.js'
import { refuseDisabled } from '../admin/disable.js'
import { ConcurrencyError, UniquenessError, type CredentialRecord, type UserRecord } from '../store/types.js'
import { FIRST_PARTY_CLIENT } from '../tokens/sessions.js'
import { credentialView } from './credentialView.js'
import type { RegistrationResult } from './registration.js'
import { createAccountSignedIn } from './signUp.js'

/** What the audit records of an enrolment by link (never the token). */
export type Enrolment = { invitationId: string } | { recovery: { revokedSessions: number } }

/** The revocation reason of the sessions a recovery ends (GET …/sessions shows it). */
const RECOVERY_REASON = 'account recovered with a recovery link'
/** Recovery verifies that lose a race (a role change, a sign-in) before giving up with 409. */
const RECOVERY_ATTEMPTS = 3

interface Assurance {
  credential: CredentialRecord
  amr: string[]
  acr: string
  userAgent?: string
  /** RFC 9449: the request's DPoP key, binding the new session's tokens. */
  jkt?: string | undefined
}

/**
 * Options for an invitation: the invited account (its id fixed by the invitation), no passkeys to
 * exclude. `displayName`: the person's, used when the invitation names none.
 */
export async function invitationChallenge(core: Core, token: string, displayName?: string) {
  const invitation = await invitationOfToken(core, token)
  // Taken since it was invited (open registration), or this invitation's account exists already.
  const owner = await core.store.findUserIdByUsername(invitation.username)
  if (owner === invitation.userId) throw new ServiceError('invitation_invalid', 'This invitation was used already')
  if (owner) throw new ServiceError('username_taken', 'The invited username was taken meanwhile; ask for a new invitation')
  const user = { id: invitation.userId, name: invitation.username, displayName: invitation.displayName ?? displayName ?? invitation.username }
  const { challenge } = await core.challenges.issue({
    ceremony: 'registration',
    userId: user.id,
    username: user.name,
    displayName: user.displayName,
    invitationId: invitation.id,
  })
  return { user, challenge }
}

/** Options for a recovery: the link's account, its passkeys excluded as usual. */
export async function recoveryChallenge(core: Core, token: string) {
  const { account, recovery } = await recoveryOfToken(core, token)
  const user = { id: account.user.id, name: account.user.username, displayName: account.user.displayName }
  const exclude = account.credentials.map((c) => ({ id: c.id, transports: c.transports }))
  const { challenge } = await core.challenges.issue({ ceremony: 'registration', userId: user.id, recoveryId: recovery.id })
  return { user, exclude, challenge }
}

/** The verify of an invitation: the account, signed in, and the invitation used. */
export async function completeInvitation(
  core: Core,
  { userId, invitationId, displayName, credential, amr, acr, userAgent, jkt }: Assurance & { userId: string; invitationId: string; displayName?: string },
): Promise<RegistrationResult & { enrolment: Enrolment }> {
  const invitation = mustBePending(core, await core.store.getInvitation(invitationId))
  if (invitation.userId !== userId) throw new ServiceError('invitation_invalid', 'The challenge was not issued for this invitation')
  const { username } = invitation
  const user: UserRecord = {
    id: userId,
    username,
    displayName: invitation.displayName ?? displayName ?? username,
    // The invitation's roles, and BOOTSTRAP_ADMINS' rule as for any sign-up.
    roles: [...new Set([...invitation.roles, ...(core.config.bootstrapAdmins.includes(username) ? ['admin'] : [])])],
    createdAt: core.clock.now(),
  }
  let tokens
  try {
    tokens = await createAccountSignedIn(core, {
      user,
      credential,
      amr,
      acr,
      userAgent,
      jkt,
      // The claim's owner says whose the name is: this invitation's account (another enrolment
      // with it won) or someone else's (taken since it was invited).
      usernameTaken: async () =>
        (await core.store.findUserIdByUsername(username)) === userId
          ? new ServiceError('invitation_invalid', 'This invitation was used already')
          : new ServiceError('username_taken', 'The invited username was taken meanwhile; ask for a new invitation'),
    })
  } catch (e) {
    // The account id exists already: another enrolment with this invitation made it.
    if (e instanceof ConcurrencyError) throw new ServiceError('invitation_invalid', 'This invitation was used already')
    throw e
  }
  await markInvitationUsed(core, invitation)
  return { user: { id: userId, username }, credential: credentialView(credential), tokens, enrolment: { invitationId } }
}

/** The verify of a recovery: the new passkey, a new session, the earlier sessions revoked. */
export async function completeRecovery(
  core: Core,
  { userId, recoveryId, credential, amr, acr, userAgent, jkt }: Assurance & { userId: string; recoveryId: string },
): Promise<RegistrationResult & { enrolment: Enrolment }> {
  for (let attempt = 1; ; attempt++) {
    const [user, stored] = await Promise.all([core.store.getUser(userId), core.store.getRecovery(userId)])
    if (!user?.username) throw new ServiceError('recovery_invalid', 'The account of this recovery link no longer exists')
    const recovery = mustBeUsable(core, stored, recoveryId)
    refuseDisabled(user)
    const { session, refreshToken } = await core.sessions.create({
      user,
      credentialId: credential.id,
      clientId: FIRST_PARTY_CLIENT,
      audience: core.config.audiences[0]!,
      scope: 'openid',
      amr,
      acr,
      userAgent,
      jkt,
    })
    // Signed before the write, as at sign-up: a signing failure then changes nothing.
    const tokens = await core.sessions.respond(user, session, refreshToken)
    try {
      const { revoked } = await core.store.recoverAccount({ user, recovery, credential, session, reason: RECOVERY_REASON })
      core.authz.forgetUser(userId) // the revoked sessions, at once on this instance
      return {
        user: { id: userId, username: user.username },
        credential: credentialView(credential),
        tokens,
        enrolment: { recovery: { revokedSessions: revoked } },
      }
    } catch (e) {
      if (e instanceof UniquenessError) throw new ServiceError('credential_exists', 'This passkey is already registered')
      // A guard lost: read again (used or replaced meanwhile answers recovery_invalid above).
      if (!(e instanceof ConcurrencyError)) throw e
      if (attempt >= RECOVERY_ATTEMPTS) throw new ServiceError('conflict', 'The account changed while it was being recovered; retry')
    }
  }
}
