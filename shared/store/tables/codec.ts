/**
 * The column codec: how a record's fields become an entity's properties and back. Each record
 * declares its keys and columns once (rows.ts); writing, reading and merging all follow that
 * declaration, so a new field is one line there (and the type checker asks for it).
 * Encodings: docs/storage.md "Encodings".
 */

/** An entity as written: its keys and properties. */
export type Entity = { partitionKey: string; rowKey: string } & Record<string, unknown>
/** A row as read: keys and etag are always present. */
export type Row = Record<string, unknown> & { partitionKey: string; rowKey: string; etag: string }
export type RowKeys = Pick<Row, 'partitionKey' | 'rowKey'>

/** One property: what is written for a value (undefined: nothing), and what a stored value reads as. */
export interface Column<V> {
  write(value: V): unknown
  read(stored: unknown): V
}

/** Times (ms), counters and other integers exceed Int32: stored as Edm.Int64. */
export const int = (n: number) => ({ value: String(Math.trunc(n)), type: 'Int64' as const })
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? NaN))
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''))

function parseJson<T>(v: unknown, fallback: () => T): T {
  if (typeof v !== 'string') return fallback()
  try {
    return JSON.parse(v) as T
  } catch {
    return fallback()
  }
}

export const int64: Column<number> = { write: int, read: num }
export const optInt64: Column<number | undefined> = {
  write: (n) => (n === undefined ? undefined : int(n)),
  read: (v) => (v === undefined || v === null ? undefined : num(v)),
}
export const text: Column<string> = { write: (s) => s, read: str }
export const optText: Column<string | undefined> = { write: (s) => s, read: (v) => (typeof v === 'string' ? v : undefined) }
/** A string union: written as text, read back as stored (whoever reads it judges the value). */
export const textAs = <T extends string>(): Column<T> => text as Column<T>
export const bool: Column<boolean> = { write: (b) => b, read: (v) => v === true || v === 'true' }
/** Arrays and objects: a JSON string. `fallback` (a fresh value each time) when absent or not JSON. */
export const json = <T>(fallback: () => T): Column<T> => ({
  write: (v) => JSON.stringify(v),
  read: (v) => parseJson(v, fallback),
})
export const optJson = <T>(): Column<T | undefined> => json<T | undefined>(() => undefined)

/** What a record declares: its keys, and a column for every other field (the field's name). */
export interface RowSpec<R, K extends keyof R> {
  keys(record: R): RowKeys
  /** The fields the keys hold. */
  fromKeys(row: RowKeys): Pick<R, K>
  columns: { [F in Exclude<keyof R, K | 'etag'>]-?: Column<R[F]> }
  /** False for rows that are never replaced (audit events): their records carry no etag. */
  etag?: boolean
}

export type ColumnField<R, K extends keyof R> = Exclude<keyof R, K | 'etag'>

export interface RowCodec<R, K extends keyof R> {
  /** The declared column names, in order. */
  readonly columns: readonly string[]
  /** The whole row, for a create or a Replace: an undefined field is not written, so Replace removes it. */
  entity(record: R): Entity
  /** The record a row holds, with the row's etag; optional fields that are absent stay absent. */
  record(row: Row): R
  /** The row at `keys` with only `fields` (a Merge). */
  patch(keys: RowKeys, fields: Partial<Pick<R, ColumnField<R, K>>>): Entity
  /** One column of a row, read as `record` would. */
  get<F extends ColumnField<R, K>>(row: Row, field: F): R[F]
}

/**
 * @example
 * const roleRow = rowCodec<RoleRecord, 'name'>({
 *   keys: (r) => ({ partitionKey: 'roles', rowKey: k(r.name) }),
 *   fromKeys: (row) => ({ name: unk(row.rowKey) }),
 *   columns: { permissions: json(() => []), updatedAt: int64 },
 * })
 */
export function rowCodec<R, K extends keyof R>(spec: RowSpec<R, K>): RowCodec<R, K> {
  const columns = Object.entries(spec.columns) as [string, Column<unknown>][]
  const byName = new Map(columns)
  const write = (e: Entity, fields: Record<string, unknown>, only?: 'present') => {
    for (const [name, column] of columns) {
      if (only && !(name in fields)) continue
      const v = column.write(fields[name])
      if (v !== undefined) e[name] = v
    }
    return e
  }
  return {
    columns: columns.map(([name]) => name),
    entity: (record) => write({ ...spec.keys(record) }, record as Record<string, unknown>),
    record(row) {
      const r: Record<string, unknown> = { ...spec.fromKeys(row) }
      for (const [name, column] of columns) {
        const v = column.read(row[name])
        if (v !== undefined) r[name] = v
      }
      if (spec.etag !== false) r.etag = row.etag
      return r as R
    },
    patch: (keys, fields) =>
      write({ partitionKey: keys.partitionKey, rowKey: keys.rowKey }, fields as Record<string, unknown>, 'present'),
    get: (row, field) => byName.get(field as string)!.read(row[field as string]) as R[typeof field],
  }
}
