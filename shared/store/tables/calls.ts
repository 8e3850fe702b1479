/**
 * SDK calls under the store's failure model: 404/409/412 are answers and come back as
 * `{ status }` where the verb expects them; anything else (refused connection, timeout, 5xx,
 * 429, auth failure) throws `StorageUnavailableError` with the original error as `cause`.
 * A missing table is never an answer: the call fails as 503 and the tables are created again.
 */
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables'
import { StorageUnavailableError } from '../../errors.js'
import { ConcurrencyError } from '../types.js'
import type { Entity, Row } from './codec.js'
import { TABLE_NAMES, type TableName } from './client.js'
import { k } from './keys.js'

/** The SDK's OData filter tag (it quotes and escapes values): verb files build filters with it. */
export { odata, type TransactionAction }

/** Entity group transactions: one partition, at most 100 operations. */
export const MAX_TX_OPS = 100
/** A missing table is created again at most this often (see `repairIfTableMissing`). */
const TABLE_REPAIR_MS = 5_000

export type Outcome<T> = { value: T; status?: undefined } | { value?: undefined; status: number }

export interface QueryOptions {
  /** Stop reading pages once this many rows are kept (default: all). */
  limit?: number
  select?: string[]
  /** Rows to keep (default: all). */
  keep?: (r: Row) => boolean
}

/** What every verb file works with: one per store, around its table clients. */
export interface Calls {
  t(name: TableName): TableClient
  /** Runs one SDK call: `expected` statuses come back as `{ status }`, other failures throw 503. */
  attempt<T>(op: () => Promise<T>, ...expected: number[]): Promise<Outcome<T>>
  /**
   * Submits one entity group transaction; returns the new etag of each operation. A failure is
   * thrown as the SDK reports it (the verb decides what its status means, see `transactionError`),
   * except a missing table (503).
   */
  transact(table: TableName, actions: TransactionAction[]): Promise<(string | undefined)[]>
  getRow(table: TableName, pk: string, rk: string): Promise<Row | undefined>
  /** Every row `filter` matches, 1000 to a page (see QueryOptions to read less). */
  query(table: TableName, filter: string, opts?: QueryOptions): Promise<Row[]>
  /**
   * Rows of one user partition with `from <= RowKey < to`. A prefix `p:` is the range
   * [`p:`, `p;`) since ';' follows ':' (ranges, not `startswith`: Azurite's filters are buggy).
   */
  range(userId: string, from: string, to: string): Promise<Row[]>
  /** Etag-guarded Replace; ConcurrencyError(what) when the row changed or went away. Returns the new etag. */
  replace(table: TableName, entity: Entity, etag: string | undefined, what: string): Promise<string | undefined>
  /** Deletes a row if it still has the etag it was read with: false when gone or changed. */
  deleteUnchanged(table: TableName, r: Row): Promise<boolean>
}

export function createCalls(clients: Record<TableName, TableClient>): Calls {
  const t = (name: TableName): TableClient => clients[name]

  /**
   * A table that does not exist (storage wiped, or a local emulator that lost its data in a
   * crash) is not an answer like "no such row": the request fails as 503, and the tables are
   * created again in the background (at most every TABLE_REPAIR_MS), so the service heals by itself.
   */
  let lastRepair = 0
  function repairIfTableMissing(err: unknown): void {
    if (!tableMissing(err)) return
    const now = Date.now()
    if (now - lastRepair < TABLE_REPAIR_MS) return
    lastRepair = now
    void Promise.all(TABLE_NAMES.map((name) => t(name).createTable())).catch(() => {
      lastRepair = 0 // try again on the next failure
    })
  }

  const attempt: Calls['attempt'] = async (op, ...expected) => {
    try {
      return { value: await op() }
    } catch (err) {
      if (err instanceof StorageUnavailableError) throw err
      repairIfTableMissing(err)
      const status = statusOf(err)
      if (status !== undefined && expected.includes(status) && !tableMissing(err)) return { status }
      throw new StorageUnavailableError(err)
    }
  }

  const query: Calls['query'] = async (table, filter, { limit = Infinity, select, keep = () => true } = {}) => {
    const rows: Row[] = []
    await attempt(async () => {
      const pages = t(table)
        .listEntities<Record<string, unknown>>({ queryOptions: select ? { filter, select } : { filter } })
        .byPage({ maxPageSize: Math.min(limit, 1000) })
      for await (const page of pages) {
        for (const r of page as Row[]) if (keep(r)) rows.push(r)
        if (rows.length >= limit) break
      }
    })
    return rows.slice(0, limit)
  }

  return {
    t,
    attempt,
    query,

    async transact(table, actions) {
      try {
        const res = await t(table).submitTransaction(actions)
        return res.subResponses.map((r) => r.etag?.trim())
      } catch (err) {
        if (tableMissing(err)) {
          repairIfTableMissing(err)
          throw new StorageUnavailableError(err)
        }
        throw err
      }
    },

    async getRow(table, pk, rk) {
      const r = await attempt(() => t(table).getEntity<Record<string, unknown>>(pk, rk), 404)
      return r.status === undefined ? (r.value as Row) : undefined
    },

    range(userId, from, to) {
      return query('users', odata`PartitionKey eq ${k(userId)} and RowKey ge ${from} and RowKey lt ${to}`)
    },

    async replace(table, entity, etag, what) {
      if (!etag) throw new TypeError(`${what}: etag required (pass the record as read)`)
      const r = await attempt(() => t(table).updateEntity(entity, 'Replace', { etag }), 404, 412)
      if (r.status !== undefined) throw new ConcurrencyError(what)
      return r.value.etag
    },

    async deleteUnchanged(table, r) {
      const d = await attempt(() => t(table).deleteEntity(r.partitionKey, r.rowKey, { etag: r.etag }), 404, 412)
      return d.status === undefined
    },
  }
}

/**
 * What a failed transaction means to its verb: a status listed in `lost` is a race lost
 * (ConcurrencyError with that text), anything else storage unavailable.
 *
 * @example
 * throw transactionError(err, { 409: `client ${client.id} exists` })
 */
export function transactionError(err: unknown, lost: Partial<Record<number, string>>): Error {
  if (err instanceof StorageUnavailableError) return err
  const status = statusOf(err)
  const what = status === undefined ? undefined : lost[status]
  return what === undefined ? new StorageUnavailableError(err) : new ConcurrencyError(what)
}

/** Table Storage's TableNotFound (404), as opposed to a missing row. */
function tableMissing(err: unknown): boolean {
  if (statusOf(err) !== 404) return false
  const e = err as { code?: unknown; message?: unknown }
  return e.code === 'TableNotFound' || /\bTableNotFound\b/.test(String(e.message ?? ''))
}

export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null | undefined)?.statusCode
  return typeof s === 'number' ? s : undefined
}

/** True when the service surely did not apply the request (so releasing claims is safe). */
export function notApplied(err: unknown): boolean {
  const status = statusOf(err)
  if (status !== undefined) return (status >= 400 && status < 500 && status !== 408) || status === 503
  return (err as { code?: unknown } | null | undefined)?.code === 'ECONNREFUSED'
}
