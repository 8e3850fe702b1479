/**
 * Recovery links (CONTRACT v2 "Recovery"): for a person who lost every passkey. An administrator
 * issues one for an account; its token `<userId>.<secret>` is shown once (SHA-256 of the secret
 * stored in the account's `recovery` row) and a new issue replaces the last. With it the person
 * adds a passkey without signing in (shared/webauthn/enrolment.ts): single use, and every earlier
 * session of the account is revoked. The old passkeys stay (an administrator revokes a lost one).
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { RECOVERY_TTL, type RecoveryIssuedBody } from '../schemas/admin.js'
import type { Account, RecoveryRecord } from '../store/types.js'
import { isKeyId } from '../util/base64url.js'
import { newLinkToken, parseLinkToken, secretMatches } from '../util/linkToken.js'
import { randomId } from '../util/random.js'
import { refuseDisabled } from './disable.js'
import { pageLink } from './invitations.js'

const noSuchUser = () => new ServiceError('not_found', 'No such user')

/**
 * Issues a recovery link for a person's account (`recovery.issued`, actor the administrator); the
 * account's earlier link stops working. A disabled account gets one too (it is refused with
 * `user_disabled` until enabled); a machine client's principal is no person: 404.
 *
 * @example
 * const { token, url, expiresAt } = await issueRecovery(core, { userId, from: auditContext(c) })
 */
export async function issueRecovery(
  core: Core,
  { userId, ttl = RECOVERY_TTL.default, from }: { userId: string; ttl?: number; from: RequestOrigin },
): Promise<RecoveryIssuedBody> {
  if (!/^[A-Za-z0-9_-]{22}$/.test(userId)) throw noSuchUser()
  const user = await core.store.getUser(userId)
  if (!user?.username || user.deletedAt !== undefined) throw noSuchUser()
  const now = core.clock.now()
  const { token, secretHash } = await newLinkToken(userId)
  const recovery: RecoveryRecord = { userId, id: randomId(16), secretHash, createdAt: now, expiresAt: now + ttl * 1000 }
  await core.store.putRecovery(recovery)
  const expiresAt = new Date(recovery.expiresAt).toISOString()
  await core.audit.record({ ...from, type: 'recovery.issued', target: { userId, username: user.username }, detail: { expiresAt } })
  return { token, url: pageLink(core, 'recovery', token), expiresAt }
}

const invalid = (why: string) => new ServiceError('recovery_invalid', why)

/** The recovery if it can still be used, else `recovery_invalid` saying why. */
export function mustBeUsable(core: Core, recovery: RecoveryRecord | undefined, issueId?: string): RecoveryRecord {
  if (!recovery || (issueId !== undefined && recovery.id !== issueId))
    throw invalid(issueId === undefined ? 'This recovery link is not one this service gave out' : 'A newer recovery link replaced this one')
  if (recovery.usedAt !== undefined) throw invalid('This recovery link was used already')
  if (core.clock.now() >= recovery.expiresAt) throw invalid('This recovery link expired; ask for a new one')
  return recovery
}

/**
 * The account and usable recovery a token names (two point reads in parallel), or 400
 * `recovery_invalid`; a disabled account: 403 `user_disabled`.
 */
export async function recoveryOfToken(core: Core, token: string): Promise<{ account: Account; recovery: RecoveryRecord }> {
  const parts = parseLinkToken(token)
  const [account, recovery] = parts && isKeyId(parts.id) ? await Promise.all([core.store.getAccount(parts.id), core.store.getRecovery(parts.id)]) : []
  if (!parts || !recovery || !account?.user.username || !(await secretMatches(parts.secret, recovery.secretHash)))
    throw invalid('This recovery link is not one this service gave out')
  mustBeUsable(core, recovery)
  refuseDisabled(account.user)
  return { account, recovery }
}
