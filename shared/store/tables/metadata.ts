/**
 * The shared FIDO metadata BLOB: partition 'metadata' of `roles` (the administration's table).
 *
 * The BLOB is a JWS of 5–10 MB, and Table Storage takes at most 64 KiB per property and 1 MiB per
 * entity (../shared/AZURE-NOTES.md). So it is stored gzip-compressed, cut into binary properties
 * `c00`…`c10` of at most 60 000 bytes, 11 to a row (660 000 bytes, 880 000 characters of base64 on
 * the wire: under the 1 MiB entity limit, which Azurite applies to the request body),
 * rows `blob:<no, 12 digits>:<write id>:<row, 4 digits>` (a random id per writer, so two timers
 * storing the same `no` at once never share rows); the row `head` says which `no` and write id are
 * current and how many rows they have. A writer puts every chunk row first and moves `head` last, guarded by the etag
 * it read (or created, 409 when someone else did), so a reader never sees half a BLOB: it reads
 * `head`, then that BLOB's rows. The previous BLOB's rows are deleted after the head moved; a
 * reader still on them finds one missing and tries again on its next period.
 */
import type { MetadataStore } from '../types.js'
import type { Calls } from './calls.js'
import { int } from './codec.js'

const PK = 'metadata'
const HEAD_RK = 'head'
const CHUNK_BYTES = 60_000
const CHUNKS_PER_ROW = 11
const prop = (i: number) => `c${String(i).padStart(2, '0')}`
const rowKey = (no: number, write: string, row: number) => `blob:${String(no).padStart(12, '0')}:${write}:${String(row).padStart(4, '0')}`
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

async function gunzip(bytes: Uint8Array): Promise<string> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'))
  return new Response(stream).text()
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? NaN))

export function metadataVerbs(db: Calls): MetadataStore {
  return {
    async getMetadataBlob({ newerThan = -1 } = {}) {
      const head = await db.getRow('roles', PK, HEAD_RK)
      if (!head) return undefined
      const no = num(head.no)
      const rows = num(head.rows)
      const write = str(head.write)
      if (!Number.isSafeInteger(no) || !Number.isSafeInteger(rows) || no <= newerThan) return undefined
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
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
      let at = 0
      for (const p of parts) {
        bytes.set(p, at)
        at += p.length
      }
      return { no, text: await gunzip(bytes) }
    },

    async putMetadataBlob({ no, text }) {
      const head = await db.getRow('roles', PK, HEAD_RK)
      const before = head ? num(head.no) : undefined
      if (before !== undefined && before >= no) return false
      const bytes = await gzip(text)
      const chunks: Uint8Array[] = []
      for (let at = 0; at < bytes.length; at += CHUNK_BYTES) chunks.push(bytes.slice(at, at + CHUNK_BYTES)) // a copy: the SDK encodes a view's whole buffer
      const rows = Math.ceil(chunks.length / CHUNKS_PER_ROW)
      const write = crypto.randomUUID().slice(0, 8)
      for (let r = 0; r < rows; r++) {
        const entity: Record<string, unknown> = { partitionKey: PK, rowKey: rowKey(no, write, r) }
        chunks.slice(r * CHUNKS_PER_ROW, (r + 1) * CHUNKS_PER_ROW).forEach((c, i) => (entity[prop(i)] = c))
        await db.attempt(() => db.t('roles').upsertEntity(entity as { partitionKey: string; rowKey: string }, 'Replace'))
      }
      const next = { partitionKey: PK, rowKey: HEAD_RK, no: int(no), rows: int(rows), write, bytes: int(text.length) }
      const moved = head
        ? await db.attempt(() => db.t('roles').updateEntity(next, 'Replace', { etag: head.etag }), 404, 412)
        : await db.attempt(() => db.t('roles').createEntity(next), 409)
      if (moved.status !== undefined) {
        // Another writer moved the head first: our rows are nobody's, remove them.
        for (let r = 0; r < rows; r++) await db.attempt(() => db.t('roles').deleteEntity(PK, rowKey(no, write, r)), 404)
        return false
      }
      if (head && before !== undefined)
        for (let r = 0; r < num(head.rows); r++) await db.attempt(() => db.t('roles').deleteEntity(PK, rowKey(before, str(head.write), r)), 404)
      return true
    },
  }
}
