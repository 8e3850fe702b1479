/**
 * The shared FIDO metadata BLOB: partition 'metadata' of `roles` (the administration's table).
 *
 * The BLOB is a JWS of 5–10 MB, and Table Storage takes at most 64 KiB per property and 1 MiB per
 * entity (../shared/AZURE-NOTES.md). So it is stored gzip-compressed, cut into binary properties
 * `c00`…`c10` of at most 60 000 bytes, 11 to a row (660 000 bytes, 880 000 characters of base64 on
 * the wire: under the 1 MiB entity limit, which Azurite applies to the request body),
 * rows `blob:<no, 12 digits>:<write id>:<row, 4 digits>` (a random id per writer, so two timers
 * storing the same `no` at once never share rows); the row `head` says which `no` and write id are
 * current, how many rows they have and which source (METADATA_BLOB and METADATA_ROOT, hashed)
 * it is from. A writer puts every chunk row first and moves `head` last, guarded by the etag it
 * read (or created, 409 when someone else did), so a reader never sees half a BLOB: it reads
 * `head`, then that BLOB's rows. After the head moved, every `blob:` row it does not name is
 * deleted (the previous BLOB's, and those a writer that failed part-way left behind): a reader
 * still on them finds one missing and tries again on its next period. A writer that fails while
 * putting its rows deletes what it put (best effort; else the next writer's sweep does). A sweep
 * can also take the rows of a writer that read the new head and is still putting its own (two
 * timers minutes apart): its head then names missing rows, which read as a copy that cannot be
 * read whole, and the next `sync` replaces it.
 *
 * What is read back is capped (MAX_METADATA_BLOB_BYTES decompressed, the rows that take): the
 * rows are anyone's who can write the table, and the text is verified only after.
 */
import { MAX_METADATA_BLOB_BYTES, type MetadataStore } from '../types.js'
import { joinBytes, readAtMost } from '../../util/bytes.js'
import { odata, type Calls } from './calls.js'
import { int } from './codec.js'

const PK = 'metadata'
const HEAD_RK = 'head'
const CHUNK_BYTES = 60_000
const CHUNKS_PER_ROW = 11
/** The most rows a head may name: a BLOB of MAX_METADATA_BLOB_BYTES, gzip's worst expansion on top. */
const MAX_ROWS = Math.ceil((MAX_METADATA_BLOB_BYTES * 1.01 + 1024) / (CHUNK_BYTES * CHUNKS_PER_ROW))
const prop = (i: number) => `c${String(i).padStart(2, '0')}`
const writeKey = (no: number, write: string) => `blob:${String(no).padStart(12, '0')}:${write}:`
const rowKey = (no: number, write: string, row: number) => `${writeKey(no, write)}${String(row).padStart(4, '0')}`
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

/** The text, or undefined when it is not gzip or decompresses to more than MAX_METADATA_BLOB_BYTES. */
async function gunzip(bytes: Uint8Array): Promise<string | undefined> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'))
  try {
    return new TextDecoder().decode(await readAtMost(stream, MAX_METADATA_BLOB_BYTES))
  } catch {
    return undefined
  }
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? NaN))

export function metadataVerbs(db: Calls): MetadataStore {
  const remove = (rk: string) => db.attempt(() => db.t('roles').deleteEntity(PK, rk), 404)

  /** The chunk rows of one head, joined and decompressed; undefined when one is missing or they are too many or too large. */
  async function readRows(no: number, write: string, rows: number): Promise<string | undefined> {
    if (!Number.isSafeInteger(rows) || rows < 0 || rows > MAX_ROWS) return undefined
    const parts: Uint8Array[] = []
    for (let r = 0; r < rows; r++) {
      const row = await db.getRow('roles', PK, rowKey(no, write, r))
      // Deleted by a writer that stored a newer BLOB meanwhile: the next read finds that one.
      if (!row) return undefined
      for (let i = 0; i < CHUNKS_PER_ROW; i++) {
        const c = row[prop(i)]
        if (c instanceof Uint8Array) parts.push(c)
      }
    }
    return gunzip(joinBytes(parts))
  }

  /** Deletes every `blob:` row but those of the write `keep` (best effort: the next writer sweeps again). */
  async function sweep(keep: string): Promise<void> {
    try {
      const rows = await db.query('roles', odata`PartitionKey eq ${PK} and RowKey ge ${'blob:'} and RowKey lt ${'blob;'}`, { select: ['RowKey'] })
      for (const r of rows) if (!r.rowKey.startsWith(keep)) await remove(r.rowKey)
    } catch {
      // Storage failing now leaves rows nobody reads; the BLOB itself is stored.
    }
  }

  return {
    async getMetadataBlob({ newerThan = -1 } = {}) {
      const head = await db.getRow('roles', PK, HEAD_RK)
      if (!head) return undefined
      const no = num(head.no)
      if (!Number.isSafeInteger(no) || no <= newerThan) return undefined
      return { no, source: typeof head.source === 'string' ? head.source : undefined, version: head.etag, text: await readRows(no, str(head.write), num(head.rows)) }
    },

    async putMetadataBlob({ no, text, source }, { replace } = {}) {
      const head = await db.getRow('roles', PK, HEAD_RK)
      if (replace !== undefined ? head?.etag !== replace : head && num(head.no) >= no) return false
      const bytes = await gzip(text)
      const chunks: Uint8Array[] = []
      for (let at = 0; at < bytes.length; at += CHUNK_BYTES) chunks.push(bytes.slice(at, at + CHUNK_BYTES)) // a copy: the SDK encodes a view's whole buffer
      const rows = Math.ceil(chunks.length / CHUNKS_PER_ROW)
      const write = crypto.randomUUID().slice(0, 8)
      const removeOurs = async () => {
        for (let r = 0; r < rows; r++) await remove(rowKey(no, write, r)).catch(() => {})
      }
      try {
        for (let r = 0; r < rows; r++) {
          const entity: Record<string, unknown> = { partitionKey: PK, rowKey: rowKey(no, write, r) }
          chunks.slice(r * CHUNKS_PER_ROW, (r + 1) * CHUNKS_PER_ROW).forEach((c, i) => (entity[prop(i)] = c))
          await db.attempt(() => db.t('roles').upsertEntity(entity as { partitionKey: string; rowKey: string }, 'Replace'))
        }
      } catch (e) {
        // Failed part-way: the rows put so far are nobody's.
        await removeOurs()
        throw e
      }
      const next = { partitionKey: PK, rowKey: HEAD_RK, no: int(no), rows: int(rows), write, bytes: int(text.length), ...(source !== undefined ? { source } : {}) }
      const moved = head
        ? await db.attempt(() => db.t('roles').updateEntity(next, 'Replace', { etag: head.etag }), 404, 412)
        : await db.attempt(() => db.t('roles').createEntity(next), 409)
      if (moved.status !== undefined) {
        // Another writer moved the head first: our rows are nobody's, remove them.
        await removeOurs()
        return false
      }
      await sweep(writeKey(no, write))
      return true
    },
  }
}
