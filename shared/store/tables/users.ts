/**
 * Accounts as an administrator handles them: disabling one (`disableUser`) and listing them a page
 * at a time (`listUsers`). Disabling is one transaction in the user's partition, like revoking a
 * passkey (credentialRemoval.ts); listing reads only account rows (RowKey 'acct'), one request a page.
 */
import { ConcurrencyError, InvalidCursorError, type AccountStore, type UserRecord } from '../types.js'
import { MAX_TX_OPS, odata, type Calls, type TransactionAction } from './calls.js'
import { int, type Row } from './codec.js'
import { liveSessions, revokeAction, revokeAll } from './credentialRemoval.js'
import { CRED_PREFIX, SESS_END, SESS_PREFIX, USER_RK } from './keys.js'
import { userRow } from './rows.js'
import { decode, encode, isBase64url } from '../../util/base64url.js'

/** Requests one page may take to fill up (the service may answer a filtered scan with short pages). */
const FILL_REQUESTS = 4
/** People only: the account row of each partition, with a username (client principals have none). */
const PEOPLE = odata`RowKey eq ${USER_RK} and username gt ${''}`

/**
 * disableUser, and shredUser's first step (`extra`: more actions of the same partition, from the
 * rows read, e.g. deleting the personal-data key).
 */
export async function disableInPartition(
  db: Calls,
  user: UserRecord,
  reason: string,
  extra: (rows: Row[]) => TransactionAction[] = () => [],
): Promise<void> {
  if (!user.etag) throw new TypeError(`disableUser ${user.id}: etag required (pass the record as read)`)
  const rows = await db.range(user.id, CRED_PREFIX, SESS_END)
  // Each passkey row is rewritten under the etag it was read with: a sign-in that commits
  // between this read and the transaction changed one, so the transaction loses (read again);
  // one that would commit after it finds its etag gone. Either way no live session is left.
  // `guardedAt` is written only to change the row's etag; no record reads it.
  const guards: TransactionAction[] = rows
    .filter((r) => r.rowKey.startsWith(CRED_PREFIX))
    .map((r) => ['update', { partitionKey: r.partitionKey, rowKey: r.rowKey, guardedAt: int(Date.now()) }, 'Merge', { etag: r.etag }])
  const sessions = liveSessions(rows)
  const actions: TransactionAction[] = [['update', userRow.entity(user), 'Replace', { etag: user.etag }], ...extra(rows), ...guards]
  actions.push(...sessions.splice(0, Math.max(0, MAX_TX_OPS - actions.length)).map((r) => revokeAction(r, reason)))
  const tx = await db.attempt(() => db.transact('users', actions.slice(0, MAX_TX_OPS)), 404, 412)
  if (tx.status !== undefined) throw new ConcurrencyError(`user ${user.id}`)
  user.etag = tx.value[0]
  await revokeAll(db, sessions, reason)
  // One more read, as revokeCredential does: a session written since the first read by a path
  // the passkey guards do not stop (none is known today) does not stay live either.
  await revokeAll(db, liveSessions(await db.range(user.id, SESS_PREFIX, SESS_END)), reason)
}

export function userVerbs(db: Calls): Pick<AccountStore, 'disableUser' | 'listUsers'> {
  return {
    disableUser: (user, reason) => disableInPartition(db, user, reason),

    async listUsers({ limit, cursor }) {
      let token = cursor === undefined ? undefined : continuationOf(cursor)
      const users: UserRecord[] = []
      for (let i = 0; i < FILL_REQUESTS && users.length < limit; i++) {
        // 400: the service refused the continuation token (a cursor we did not issue).
        const page = await db.attempt(async () => {
          const pages = db.t('users').listEntities<Record<string, unknown>>({ queryOptions: { filter: PEOPLE } })
          const first = await pages.byPage({ maxPageSize: limit - users.length, continuationToken: token }).next()
          return first.done ? undefined : first.value
        }, 400)
        if (page.status === 400) throw new InvalidCursorError()
        users.push(...((page.value ?? []) as Row[]).map(userRow.record))
        token = page.value?.continuationToken
        if (!token) break
      }
      return token ? { users, next: cursorOf(token) } : { users }
    },
  }
}

/** The cursor clients see: the SDK's continuation token, base64url (its own is base64 of JSON). */
const cursorOf = (token: string): string => encode(token)

/**
 * The continuation token in a cursor, checked to be one the SDK made: base64 of
 * `{ nextPartitionKey, nextRowKey? }` (@azure/data-tables utils/continuationToken), so that a
 * made-up cursor is the caller's mistake, not a failed storage request.
 */
function continuationOf(cursor: string): string {
  if (!isBase64url(cursor) || cursor.length > 2048) throw new InvalidCursorError()
  try {
    const token = new TextDecoder('utf-8', { fatal: true }).decode(decode(cursor))
    const position = JSON.parse(atob(token)) as { nextPartitionKey?: unknown; nextRowKey?: unknown }
    if (typeof position.nextPartitionKey === 'string' && (position.nextRowKey === undefined || typeof position.nextRowKey === 'string'))
      return token
  } catch {
    // not base64 of JSON: refused below
  }
  throw new InvalidCursorError()
}
