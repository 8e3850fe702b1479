/**
 * Optimistic concurrency in one place: read a record, change it, write it under the etag it was
 * read with; when another writer got there first (ConcurrencyError), read again and re-apply the
 * change to what the winner wrote. Every read-modify-write of a single record goes through this.
 */
import { ConcurrencyError } from './types.js'

export interface UpdateWithRetry<R, U = R> {
  /** Reads the current record (throw to stop, e.g. not_found). */
  read: () => Promise<R>
  /** The change, applied to each fresh read (pure: it may run more than once). */
  change: (current: R) => U
  /** Writes under the etag of the read; throws ConcurrencyError when it changed meanwhile. */
  write: (updated: U, current: R) => Promise<void>
  /** How many writes to try in all before the last ConcurrencyError is thrown (default 3). */
  attempts?: number
}

/**
 * @example
 * const user = await updateWithRetry({
 *   read: () => mustExist(store.getUser(id)),
 *   change: (u) => ({ ...u, roles: [...u.roles, 'reader'] }),
 *   write: (u) => store.updateUser(u),
 * })
 */
export async function updateWithRetry<R, U = R>({ read, change, write, attempts = 3 }: UpdateWithRetry<R, U>): Promise<U> {
  for (let attempt = 1; ; attempt++) {
    const current = await read()
    const updated = change(current)
    try {
      await write(updated, current)
      return updated
    } catch (e) {
      if (!(e instanceof ConcurrencyError) || attempt >= attempts) throw e
    }
  }
}

/**
 * A `read` for updateWithRetry when the caller already holds the record: the first try uses it,
 * only a lost race reads again.
 *
 * @example
 * read: inHandFirst(credential, () => store.getCredential(userId, credential.id))
 */
export function inHandFirst<R>(inHand: R, reread: () => Promise<R>): () => Promise<R> {
  let first = true
  return async () => {
    if (!first) return reread()
    first = false
    return inHand
  }
}
