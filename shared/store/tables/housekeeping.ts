/**
 * Start-up, health and the sweep of expired rows (Table Storage has no TTL; docs/storage.md
 * "Housekeeping"). The sweep scans whole tables: for the hourly timer, never a request path.
 */
import { sweepShares, type Housekeeping } from '../types.js'
import { odata, type Calls } from './calls.js'
import { int64, type Row } from './codec.js'
import { TABLE_NAMES, type TableName } from './client.js'
import { SESS_END, SESS_PREFIX } from './keys.js'

/** `sweepExpired`: deletes in flight at once (each is one point delete). */
const SWEEP_CONCURRENCY = 8

export function housekeepingVerbs(db: Calls): Housekeeping {
  /**
   * Up to `limit` rows of a `sweepExpired` scan, read page by page and no further than needed.
   * Each row is checked again here (an `expiresAt` below `before`, an etag to guard the delete,
   * `keep`), so a filter that matches too much on some emulator can never widen what is deleted.
   */
  function expiredRows(table: TableName, filter: string, before: number, limit: number, keep: (r: Row) => boolean = () => true) {
    return db.query(table, filter, {
      limit,
      select: ['PartitionKey', 'RowKey', 'expiresAt'],
      keep: (r) => Boolean(r.etag) && keep(r) && int64.read(r.expiresAt) < before,
    })
  }

  return {
    async init() {
      await db.attempt(() => Promise.all(TABLE_NAMES.map((name) => db.t(name).createTable())))
    },

    async ping() {
      await db.getRow('challenges', 'ping', '')
    },

    async sweepExpired({ before, max }) {
      const budget = Math.max(0, Math.trunc(max))
      if (budget === 0) return { challenges: 0, sessions: 0 }
      const filters = sweepFilters(before)
      // Each kind is read up to the whole budget, then the budget is shared (`sweepShares`).
      const [c, s] = await Promise.all([
        expiredRows('challenges', filters.challenges, before, budget),
        expiredRows('users', filters.sessions, before, budget, (r) => r.rowKey.startsWith(SESS_PREFIX)),
      ])
      const share = sweepShares(budget, c.length, s.length)
      const work: [TableName, Row][] = [
        ...c.slice(0, share.challenges).map((r): [TableName, Row] => ['challenges', r]),
        ...s.slice(0, share.sessions).map((r): [TableName, Row] => ['users', r]),
      ]
      const deleted = { challenges: 0, sessions: 0 }
      await eachLimited(work, SWEEP_CONCURRENCY, async ([table, r]) => {
        if (await db.deleteUnchanged(table, r)) deleted[table === 'users' ? 'sessions' : 'challenges']++
      })
      return deleted
    },
  }
}

/**
 * The server-side filters of `sweepExpired` (exported for the Azurite test). Times are stored
 * as Edm.Int64, so the literal carries OData's `L` suffix: Azure reads a literal without it as
 * Int32 (a time in ms does not fit), and it compares only values of the same type. Azurite 3.35
 * compares `…L` literals with Int64 properties as numbers (older versions compared them as
 * strings: Azurite issue #2385). The users filter has no PartitionKey: a scan of the whole
 * table, for the hourly timer only (docs/storage.md "Housekeeping").
 */
export function sweepFilters(before: number): { challenges: string; sessions: string } {
  const t = Math.trunc(before)
  if (!Number.isSafeInteger(t)) throw new TypeError(`sweepExpired: before must be a time in ms, got ${before}`)
  return {
    challenges: odata`expiresAt lt ${t}L`,
    sessions: odata`RowKey ge ${SESS_PREFIX} and RowKey lt ${SESS_END} and expiresAt lt ${t}L`,
  }
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. After a failure no new call is
 * started; the first failure is thrown once the calls in flight have ended.
 */
export async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { err: unknown } | undefined
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++]!
      try {
        await fn(item)
      } catch (err) {
        failure ??= { err }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure) throw failure.err
}
