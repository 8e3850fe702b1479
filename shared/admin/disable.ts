/**
 * Disabling and enabling an account (CONTRACT v2 "Disabling and deleting accounts"). Disabling
 * revokes the account's sessions in the same partition transaction that sets the flag
 * (store.disableUser), so at once: its refresh tokens answer invalid_grant, its access tokens 401
 * on our endpoints, and the authorizer answers 401 at once on this instance and within
 * AUTHZ_CACHE_TTL on the others (their cached session and subject entries expire by then). Its
 * sign-ins answer 403 user_disabled until an administrator enables it again.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { updateWithRetry } from '../store/retry.js'
import type { UserRecord } from '../store/types.js'
import { isKeyId } from '../util/base64url.js'
import { readPerson } from './users.js'

/** The sessions' revocation reason (GET …/sessions shows it). */
const REASON = 'account disabled by an administrator'

/**
 * Sets or clears an account's `disabledAt` (`user.disabled` / `user.enabled`, actor the
 * administrator). Idempotent: asking for what is already so changes nothing and records nothing.
 *
 * - A machine client's principal (no username) is refused (400): a client is stopped by deleting
 *   it (DELETE /api/manage/clients/{clientId}), which also stops its tokens; one switch per thing.
 * - An administrator may not disable their own account (409 conflict): the last administrator
 *   could otherwise lock everyone out of administration, and no one would be left to enable it.
 *
 * @example
 * const user = await setDisabled(core, { userId, disabled: true, from: auditContext(c) })
 */
export async function setDisabled(
  core: Core,
  { userId, disabled, from }: { userId: string; disabled: boolean; from: RequestOrigin },
): Promise<UserRecord> {
  if (!isKeyId(userId)) throw new ServiceError('not_found', 'No such user')
  if (disabled && from.actor?.userId === userId)
    throw new ServiceError('conflict', 'You cannot disable your own account; another administrator can')
  const { user, changed } = await updateWithRetry({
    read: () => readPerson(core, userId),
    change: (user) => {
      if (disabled === (user.disabledAt !== undefined)) return { user, changed: false }
      const { disabledAt: _, ...rest } = user
      return { user: disabled ? { ...rest, disabledAt: core.clock.now() } : rest, changed: true }
    },
    // Disabling an account that is disabled already still revokes what is live: an earlier call
    // may have committed the flag and then failed before its last revocation.
    write: async ({ user, changed }) => {
      if (disabled) await core.store.disableUser(user, REASON)
      else if (changed) await core.store.updateUser(user)
    },
    attempts: 5,
  })
  core.authz.forgetUser(userId) // at once on this instance
  if (!changed) return user
  await core.audit.record({ ...from, type: disabled ? 'user.disabled' : 'user.enabled', target: { userId, username: user.username } })
  return user
}

/** The refusal of a disabled account's sign-in (WebAuthn and the authorization endpoint). */
export function refuseDisabled(user: Pick<UserRecord, 'disabledAt' | 'deletedAt'>): void {
  // An account whose deletion began is refused too, whatever its disabledAt says.
  if (user.disabledAt !== undefined || user.deletedAt !== undefined)
    throw new ServiceError('user_disabled', 'This account is disabled; an administrator can enable it again')
}
