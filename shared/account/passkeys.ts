/**
 * Account self-service (CONTRACT "Account self-service"): the signed-in person's own account and
 * passkeys. The routes (shared/routes/me.ts) check the token and the recent sign-in first.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { updateWithRetry } from '../store/retry.js'
import { ConcurrencyError, LastCredentialError, type Account, type CredentialRecord } from '../store/types.js'
import { isKeyId } from '../util/base64url.js'

/** The account of a verified token; 401 when it was deleted since the token was issued. */
export async function accountOf(core: Core, userId: string): Promise<Account> {
  const a = await core.store.getAccount(userId)
  if (!a) throw new ServiceError('unauthorized', 'The account of this token no longer exists')
  return a
}

/** The account's passkeys, oldest first. */
export async function listPasskeys(core: Core, userId: string): Promise<CredentialRecord[]> {
  const { credentials } = await accountOf(core, userId)
  return credentials.sort((a, b) => a.createdAt - b.createdAt)
}

const noSuchPasskey = () => new ServiceError('not_found', 'No such passkey on this account')

/** Sets a passkey's label (etag-guarded, three tries) and records `passkey.renamed`. */
export async function renamePasskey(
  core: Core,
  { userId, credentialId, label, from }: { userId: string; credentialId: string; label: string; from: RequestOrigin },
): Promise<CredentialRecord> {
  const { before, after } = await updateWithRetry({
    read: async () => {
      const cred = isKeyId(credentialId) ? await core.store.getCredential(userId, credentialId) : undefined
      if (!cred) throw noSuchPasskey()
      return cred
    },
    change: (cred) => ({ before: cred, after: { ...cred, label } }),
    write: ({ after }) => core.store.updateCredential(after),
    attempts: 3,
  })
  await core.audit.record({ ...from, type: 'passkey.renamed', actor: { userId }, target: { userId, credentialId: before.id }, detail: { from: before.label, to: label } })
  return after
}

/**
 * Deletes one of the account's passkeys, never its last usable one, and records `passkey.deleted`.
 * The last-passkey guard and the delete are one atomic step in the store (concurrent deletions can
 * never leave the account without a usable passkey).
 */
export async function deletePasskey(core: Core, { userId, credentialId, from }: { userId: string; credentialId: string; from: RequestOrigin }): Promise<void> {
  if (!isKeyId(credentialId)) throw noSuchPasskey()
  let deleted: boolean
  try {
    deleted = await core.store.deleteCredential(userId, credentialId, 'passkey deleted', { keepUsable: true })
  } catch (e) {
    if (e instanceof LastCredentialError)
      throw new ServiceError('last_credential', 'This is the last passkey of the account; add another before deleting it')
    if (e instanceof ConcurrencyError) throw new ServiceError('conflict', 'The passkeys of this account changed meanwhile; retry')
    throw e
  }
  if (!deleted) throw noSuchPasskey()
  core.authz.forgetUser(userId)
  await core.audit.record({ ...from, type: 'passkey.deleted', actor: { userId }, target: { userId, credentialId } })
}
