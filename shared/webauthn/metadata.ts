/**
 * The authenticator metadata in use (CONTRACT "Authenticator trust"): the last good FIDO MDS BLOB
 * read from METADATA_BLOB, one per service (Core), never process-global.
 *
 * FIDO MDS 3.0 #metadata-blob-object-processing-rules, as applied here:
 * - a BLOB that does not verify (chain, signature, payload) is ignored with a log line, and the
 *   last good one stays;
 * - a BLOB whose `no` is not greater than the one in use is ignored the same way;
 * - `nextUpdate`: once it is past, the BLOB is read again on the next use (at most once an hour);
 *   until a newer one verifies, the stale one is still used, with a log line. The spec gives no
 *   rule to drop a stale BLOB, and dropping it would forget the revocations it carries.
 */
import type { Config, MetadataSource } from '../config.js'
import type { Clock } from '../util/clock.js'
import { MetadataBlobError, verifyMetadataBlob, type MetadataBlob, type MetadataEntry } from './verifyMetadataBlob.js'

/** Reads the BLOB's text from its source (a file needs the runtime: runtime/node/metadataBlob.ts). */
export type ReadMetadataBlob = (source: MetadataSource) => Promise<string>

/** Where the service's log lines go (no BLOB content, no personal data). */
export type MetadataLog = (line: string) => void

/** How long after reading a stale BLOB the source is read again. */
const RETRY_MS = 3600_000
/** How long after a failed first read (nothing in use) the source is read again. */
const FIRST_RETRY_MS = 60_000

/** https sources with fetch (a Web API); a file is the runtime's to read. */
export const fetchMetadataBlob: ReadMetadataBlob = async (source) => {
  if (source.kind !== 'url') throw new MetadataBlobError('reading a METADATA_BLOB file needs the Node runtime')
  const res = await fetch(source.url, { redirect: 'follow', signal: AbortSignal.timeout(30_000) })
  if (!res.ok) throw new MetadataBlobError(`GET answered ${res.status}`)
  return res.text()
}

export class AuthenticatorMetadata {
  readonly #config: Pick<Config, 'metadataBlob' | 'metadataRoot'>
  readonly #clock: Clock
  readonly #read: ReadMetadataBlob
  readonly #log: MetadataLog
  #current: MetadataBlob | undefined
  #loading: Promise<boolean> | undefined
  #first: Promise<boolean> | undefined
  #lastAttempt = 0

  constructor({ config, clock, read = fetchMetadataBlob, log }: { config: Pick<Config, 'metadataBlob' | 'metadataRoot'>; clock: Clock; read?: ReadMetadataBlob; log: MetadataLog }) {
    this.#config = config
    this.#clock = clock
    this.#read = read
    this.#log = log
  }

  /** Whether METADATA_BLOB is set. */
  get configured(): boolean {
    return this.#config.metadataBlob !== undefined
  }

  /** The BLOB in use (undefined until one verified). */
  get current(): MetadataBlob | undefined {
    return this.#current
  }

  /**
   * The model of `aaguid` in the BLOB in use. Loads the BLOB on first use; once its nextUpdate
   * is past, reads it again in the background (the stale one answers meanwhile).
   *
   * @example
   * const model = await core.metadata.lookup(credential.aaguid)
   */
  async lookup(aaguid: string): Promise<MetadataEntry | undefined> {
    if (!this.configured) return undefined
    // Every use waits for the first read (settled: at once). After a failed one, the source is
    // tried again in the background at most once a minute: no ceremony waits on an unreachable
    // MDS but the first ones.
    this.#first ??= this.refresh()
    await this.#first
    const now = this.#clock.now()
    if (!this.#current) {
      if (now - this.#lastAttempt >= FIRST_RETRY_MS) void this.refresh()
    } else if (this.#current.nextUpdateAt <= now && now - this.#lastAttempt >= RETRY_MS) void this.refresh()
    return this.#current?.entries.get(aaguid.toLowerCase())
  }

  /**
   * Reads and verifies the BLOB from METADATA_BLOB; one read at a time. Never throws: what fails
   * is logged and the BLOB in use stays. Resolves to whether a new BLOB was taken.
   */
  refresh(): Promise<boolean> {
    if (!this.configured) return Promise.resolve(false)
    this.#loading ??= (async () => {
      this.#lastAttempt = this.#clock.now()
      try {
        return await this.accept(await this.#read(this.#config.metadataBlob!))
      } catch (e) {
        this.#ignored(e instanceof MetadataBlobError ? e.message : `it could not be read (${e instanceof Error ? e.name : 'error'})`)
        return false
      } finally {
        this.#loading = undefined
      }
    })()
    return this.#loading
  }

  /**
   * Verifies a BLOB's text and takes it if it is newer than the one in use (the timer job and
   * tests hand BLOBs in this way). Never throws; resolves to whether it was taken.
   */
  async accept(text: string): Promise<boolean> {
    let blob: MetadataBlob
    try {
      blob = await verifyMetadataBlob(text, { roots: this.#config.metadataRoot })
    } catch (e) {
      this.#ignored(e instanceof MetadataBlobError ? e.message : `it did not verify (${e instanceof Error ? e.name : 'error'})`)
      return false
    }
    if (this.#current && blob.no <= this.#current.no) {
      this.#ignored(`its no ${blob.no} is not greater than ${this.#current.no}, the one in use`)
      return false
    }
    this.#current = blob
    this.#log(`metadata: BLOB no ${blob.no} in use (${blob.entries.size} authenticator models, next update ${blob.nextUpdate})`)
    if (blob.nextUpdateAt <= this.#clock.now())
      this.#log(`metadata: BLOB no ${blob.no} is past its nextUpdate ${blob.nextUpdate}; still used until a newer one verifies`)
    return true
  }

  #ignored(why: string): void {
    const kept = this.#current ? `BLOB no ${this.#current.no} stays in use` : 'no metadata in use'
    this.#log(`metadata: METADATA_BLOB ignored: ${why}; ${kept}`)
  }
}
