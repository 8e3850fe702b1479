/**
 * Deleting an account (CONTRACT v2 "Disabling and deleting accounts"): by an administrator
 * (DELETE /api/manage/users/{userId}) or by its person with a recent sign-in (DELETE /api/me).
 * Passkeys, sessions, roles (on the user row), and whatever ACCOUNT_ERASERS erase go; the
 * username is free again; the person's personal audit fields become unreadable because their key
 * is destroyed (crypto-shredding, docs/audit.md "Personal data").
 *
 * The order makes a failure midway harmless and a retry enough (docs/storage.md "Deleting an
 * account"):
 *
 * 1. `shredUser`, one partition transaction: the user row is marked (`deletedAt`, `disabledAt`),
 *    the personal-data key deleted, the passkeys guarded and the live sessions revoked. From here
 *    the account cannot sign in, refresh or be introspected, and its audit fields are unreadable.
 * 2. ACCOUNT_ERASERS: what lives outside the account's partition.
 * 3. `eraseAccount`: credential-id index rows, every other row of the partition, the username
 *    claim, and the user row last. Until the user row is gone a DELETE finds the account (marked)
 *    and runs every step again.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { updateWithRetry } from '../store/retry.js'
import type { UserRecord } from '../store/types.js'
import { isKeyId } from '../util/base64url.js'
import { eraseInvitationsFor } from '../admin/invitations.js'
import { readPerson } from '../admin/users.js'

/** What an eraser is told of the account being deleted. */
export interface ErasedAccount {
  userId: string
  username: string
}

/**
 * Erases what an account leaves outside its own `users` partition. Runs after the account is
 * marked and its key destroyed, before its rows and username go; must be idempotent (an
 * interrupted deletion runs it again) and throw StorageUnavailableError when storage fails.
 */
export type AccountEraser = (core: Core, account: ErasedAccount) => Promise<void>

/**
 * Everything keyed by the account that lives elsewhere, erased with it: the invitation rows that
 * name it (its username is personal data). Delegations live in the account's own partition and go
 * with it in step 3.
 */
export const ACCOUNT_ERASERS: AccountEraser[] = [eraseInvitationsFor]

/** The sessions' revocation reason between step 1 and step 3. */
const REASON = 'account deleted'

export type DeletedBy = 'admin' | 'self'

/**
 * Deletes an account and records `user.deleted` (`detail.by`). Unknown id → 404; a machine
 * client's principal → 400 (DELETE /api/manage/clients/{id}); an administrator deleting their
 * own account through the administration route → 409 (DELETE /api/me is the way, as for
 * disabling: no one locks administration out by a slip).
 *
 * @example
 * await deleteAccount(core, { userId, by: 'admin', from: auditContext(c) })
 */
export async function deleteAccount(
  core: Core,
  { userId, by, from }: { userId: string; by: DeletedBy; from: RequestOrigin },
): Promise<void> {
  if (!isKeyId(userId)) throw new ServiceError('not_found', 'No such user')
  if (by === 'admin' && from.actor?.userId === userId)
    throw new ServiceError('conflict', 'You cannot delete your own account here; use DELETE /api/me, or ask another administrator')
  // Step 1, also when an earlier deletion marked it already: the key and live sessions go again.
  const user = await updateWithRetry<UserRecord>({
    read: () => readPerson(core, userId, { deleting: true }),
    change: (user) => {
      const now = core.clock.now()
      return { ...user, deletedAt: user.deletedAt ?? now, disabledAt: user.disabledAt ?? now }
    },
    write: (user) => core.store.shredUser(user, REASON),
    attempts: 5,
  })
  core.personal.forget(userId)
  core.authz.forgetUser(userId)
  await finishDeletion(core, { userId, username: user.username })
  // Its key is gone: the event names the account by its id only, and a person's own deletion
  // keeps no IP or user agent (docs/audit.md "Personal data").
  await core.audit.record({ ...from, type: 'user.deleted', ...(by === 'self' ? { actor: { userId } } : {}), target: { userId }, detail: { by } })
}

/** Steps 2 and 3 of a deletion whose first step is done (the account is marked, its key gone). */
async function finishDeletion(core: Core, account: ErasedAccount): Promise<void> {
  for (const erase of ACCOUNT_ERASERS) await erase(core, account)
  await core.store.eraseAccount(account.userId)
  core.authz.forgetUser(account.userId)
}

/**
 * A deletion begun this long ago and still not finished was interrupted (a DELETE runs for
 * seconds): the housekeeping timer finishes it. This matters for `DELETE /api/me`, whose person
 * cannot retry once step 1 has revoked their token.
 */
export const UNFINISHED_DELETION_MS = 10 * 60 * 1000

/**
 * Finishes deletions interrupted after their first step (at most `max`), each recorded as
 * `user.deleted` with `detail.by` `housekeeping`. Returns how many accounts were erased.
 *
 * @example
 * const erased = await finishInterruptedDeletions(core, core.clock.now(), 100)
 */
export async function finishInterruptedDeletions(
  core: Core,
  now: number,
  max: number,
  logError: (line: string) => void = (line) => console.error(line),
): Promise<number> {
  let erased = 0
  for (const userId of await core.store.listDeletedAccounts({ before: now - UNFINISHED_DELETION_MS, max })) {
    try {
      const user = await core.store.getUser(userId)
      if (!user || user.deletedAt === undefined) continue
      core.personal.forget(userId)
      await finishDeletion(core, { userId, username: user.username })
      await core.audit.record({ type: 'user.deleted', actor: { system: 'housekeeping' }, target: { userId }, detail: { by: 'housekeeping' } })
      erased++
    } catch (e) {
      // One account that keeps failing must not stop the others (nor the rest of the run); the
      // next run tries it again. The error's name only: no message that may quote a request.
      logError(`housekeeping: finishing the deletion of ${userId} failed (${(e as Error)?.name ?? 'error'}); retried next run`)
    }
  }
  return erased
}
