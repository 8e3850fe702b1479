/**
 * Users and their passkeys as an administrator sees them (CONTRACT "Administration"): looked up
 * by username (with their passkeys) or listed a page at a time (without); a passkey can be revoked.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { InvalidCursorError, type Account, type UserRecord } from '../store/types.js'
import { isKeyId } from '../util/base64url.js'

/** The account with this username, if any (the username already parsed). */
export async function findAccount(core: Core, username: string): Promise<Account | undefined> {
  const userId = await core.store.findUserIdByUsername(username)
  return userId ? await core.store.getAccount(userId) : undefined
}

/** Users a page holds (CONTRACT v2 "Users and clients"). */
/**
 * A person's user row for an administrator's change (disable, delete): unknown id → 404; a
 * machine client's principal (no username) → 400 naming the route that deletes clients. An
 * account being deleted is 404, except to the deletion itself (`deleting`).
 */
export async function readPerson(core: Pick<Core, 'store'>, userId: string, { deleting = false } = {}): Promise<UserRecord> {
  const user = isKeyId(userId) ? await core.store.getUser(userId) : undefined
  // An account whose deletion began is gone for every change but finishing that deletion.
  if (!user || (user.deletedAt !== undefined && !deleting)) throw new ServiceError('not_found', 'No such user')
  if (user.username === '')
    throw new ServiceError('invalid_request', `${userId} is an OAuth client: delete it with DELETE /api/manage/clients/${userId} instead`)
  return user
}

export const USERS_PAGE = 100

/**
 * One page of people's accounts, in id order, without their passkeys (a partition read per user
 * would make a page cost 100 reads; look one up by username for them). Machine clients'
 * principals are left out: GET /api/manage/clients lists those. `next` is opaque: the cursor of
 * the following page, absent on the last one.
 */
export async function listUsers(core: Core, cursor?: string): Promise<{ users: UserRecord[]; next?: string }> {
  try {
    return await core.store.listUsers({ limit: USERS_PAGE, ...(cursor !== undefined ? { cursor } : {}) })
  } catch (e) {
    if (e instanceof InvalidCursorError) throw new ServiceError('invalid_request', 'cursor is not one a previous page gave (use its `next` as it is)')
    throw e
  }
}

/**
 * Revokes a passkey (it stays listed, flagged, and answers credential_revoked) and every session
 * signed in with it (`passkey.revoked`). An administrator may revoke an account's last usable
 * passkey (a compromised one must go); the person then needs recovery.
 */
export async function revokePasskey(core: Core, { credentialId, from }: { credentialId: string; from: RequestOrigin }): Promise<void> {
  if (!isKeyId(credentialId)) throw new ServiceError('not_found', 'No such passkey')
  const userId = await core.store.findCredentialOwner(credentialId)
  // Flag and session revocation in one partition transaction.
  const cred = userId ? await core.store.revokeCredential(userId, credentialId, 'revoked by an administrator', core.clock.now()) : undefined
  if (!userId || !cred) throw new ServiceError('not_found', 'No such passkey')
  core.authz.forgetUser(userId)
  await core.audit.record({ ...from, type: 'passkey.revoked', target: { userId, credentialId } })
}
