/**
 * Token signing keys on an administrator's request (CONTRACT "Administration"): the rules are
 * shared/tokens/rotation.ts; here each change is made, taken into account at once on this
 * instance, and audited (`key.rotated`, `key.revoked`).
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { ConcurrencyError, type SigningKeyRecord } from '../store/types.js'

/** Another instance kept changing the keys through every retry: the caller may repeat. */
function conflict(e: unknown): never {
  if (e instanceof ConcurrencyError)
    throw new ServiceError('conflict', 'The signing keys changed concurrently; repeat the request', { cause: e })
  throw e
}

/** The next key signs from now on; the old one retires but stays published. Returns every key. */
export async function rotateKeys(core: Core, { from }: { from: RequestOrigin }): Promise<SigningKeyRecord[]> {
  const { records, signing } = await core.keyRing.rotateNow().catch(conflict)
  if (signing.after && signing.after !== signing.before)
    await core.audit.record({
      ...from,
      type: 'key.rotated',
      target: { kid: signing.after },
      detail: { previousKid: signing.before ?? null, reason: 'forced' },
    })
  return records
}

/** Revokes a key at once (a revoked signing key is replaced at once); not_found when unknown. */
export async function revokeKey(core: Core, { kid, from }: { kid: string; from: RequestOrigin }): Promise<void> {
  const { found, signing } = await core.keyRing.revoke(kid).catch(conflict)
  if (!found) throw new ServiceError('not_found', 'No such signing key')
  core.authz.forgetKid(kid) // at once on this instance (the key ring already reloaded)
  await core.audit.record({
    ...from,
    type: 'key.revoked',
    target: { kid },
    detail: signing.after !== signing.before ? { promotedKid: signing.after ?? null } : {},
  })
}
