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
 *
 * An https METADATA_BLOB is shared through storage (MetadataStore): the daily timer (`sync`)
 * downloads it, verifies it and stores it; each instance reads the stored copy (on first use,
 * then hourly: one point read when nothing changed), not the internet. Only when storage has no
 * copy yet, or one that does not verify while nothing is in use, does an instance run `sync`
 * itself. A stored copy that does not verify never blocks a good download: `sync` replaces it
 * whatever its `no`.
 */
import type { Config, MetadataSource } from '../config.js'
import { MAX_METADATA_BLOB_BYTES, type MetadataStore, type StoredMetadataRead } from '../store/types.js'
import { readAtMost, TooLongError } from '../util/bytes.js'
import { sha256b64u } from '../util/hash.js'
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

/** How often an instance looks for a newer BLOB in storage (https sources). */
const SHARED_REFRESH_MS = 3600_000
/** The most a METADATA_BLOB download may be (the FIDO BLOB is 5–10 MB). */
export const MAX_BLOB_BYTES = MAX_METADATA_BLOB_BYTES
/** The longest a METADATA_BLOB download may take, body included. */
const DOWNLOAD_TIMEOUT_MS = 60_000

/**
 * GET `url` as text, at most `maxBytes` (refused at once when Content-Length says more, else cut
 * off while reading) within `timeoutMs`. Throws MetadataBlobError naming what went wrong.
 *
 * @example
 * const text = await fetchCapped('https://mds.fidoalliance.org/', { maxBytes: MAX_BLOB_BYTES })
 */
export async function fetchCapped(url: string, { maxBytes = MAX_BLOB_BYTES, timeoutMs = DOWNLOAD_TIMEOUT_MS } = {}): Promise<string> {
  const signal = AbortSignal.timeout(timeoutMs)
  let res: Response
  try {
    res = await fetch(url, { redirect: 'follow', signal })
  } catch (e) {
    throw new MetadataBlobError(`the download failed (${e instanceof Error ? e.name : 'error'})`)
  }
  if (!res.ok) {
    await res.body?.cancel()
    throw new MetadataBlobError(`GET answered ${res.status}`)
  }
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (declared > maxBytes) {
    await res.body?.cancel()
    throw new MetadataBlobError(`the download is larger than ${maxBytes} bytes`)
  }
  try {
    return new TextDecoder().decode(res.body ? await readAtMost(res.body, maxBytes) : new Uint8Array())
  } catch (e) {
    if (e instanceof TooLongError) throw new MetadataBlobError(`the download is larger than ${maxBytes} bytes`)
    throw new MetadataBlobError(`the download failed (${e instanceof Error ? e.name : 'error'})`)
  }
}

/** https sources with fetch (a Web API), capped in size and time; a file is the runtime's to read. */
export const fetchMetadataBlob: ReadMetadataBlob = async (source) => {
  if (source.kind !== 'url') throw new MetadataBlobError('reading a METADATA_BLOB file needs the Node runtime')
  return fetchCapped(source.url)
}

export class AuthenticatorMetadata {
  readonly #config: Pick<Config, 'metadataBlob' | 'metadataRoot'>
  readonly #clock: Clock
  readonly #read: ReadMetadataBlob
  readonly #log: MetadataLog
  readonly #store: MetadataStore | undefined
  #current: MetadataBlob | undefined
  #loading: Promise<boolean> | undefined
  #first: Promise<boolean> | undefined
  #lastAttempt = 0

  constructor({
    config,
    clock,
    read = fetchMetadataBlob,
    log,
    store,
  }: {
    config: Pick<Config, 'metadataBlob' | 'metadataRoot'>
    clock: Clock
    read?: ReadMetadataBlob
    log: MetadataLog
    /** Where an https BLOB is shared between instances (the service's store). */
    store?: MetadataStore
  }) {
    this.#config = config
    this.#clock = clock
    this.#read = read
    this.#log = log
    this.#store = store
  }

  /** Whether METADATA_BLOB is set. */
  get configured(): boolean {
    return this.#config.metadataBlob !== undefined
  }

  /** The BLOB in use (undefined until one verified). */
  get current(): MetadataBlob | undefined {
    return this.#current
  }

  /** An https source with a store: the BLOB is shared through storage. */
  get #shared(): MetadataStore | undefined {
    return this.#config.metadataBlob?.kind === 'url' ? this.#store : undefined
  }

  /**
   * The model of `aaguid` in the BLOB in use. Loads the BLOB on first use; once its nextUpdate
   * is past (a shared https BLOB: every hour), reads it again in the background (the one in use
   * answers meanwhile).
   *
   * @example
   * const model = await core.metadata.lookup(credential.aaguid)
   */
  async lookup(aaguid: string): Promise<MetadataEntry | undefined> {
    return (await this.#ready())?.entries.get(aaguid.toLowerCase())
  }

  /**
   * The U2F model whose attestationCertificateKeyIdentifiers lists `keyId` (hex SHA-1 of the
   * attestation certificate's subject public key, FIDO MDS 3.0 #dom-metadatastatement-attestationcertificatekeyidentifiers).
   */
  async lookupKeyId(keyId: string): Promise<MetadataEntry | undefined> {
    return (await this.#ready())?.keyIds.get(keyId.toLowerCase())
  }

  /** The model of a passkey (or a registration): by AAGUID, else (U2F) by attestation key identifier. */
  async lookupCredential({ aaguid, attestationKeyId }: { aaguid: string; attestationKeyId?: string | undefined }): Promise<MetadataEntry | undefined> {
    const blob = await this.#ready()
    return blob?.entries.get(aaguid.toLowerCase()) ?? (attestationKeyId ? blob?.keyIds.get(attestationKeyId.toLowerCase()) : undefined)
  }

  /** The BLOB in use, loaded first if need be (the administration's view of it). */
  inUse(): Promise<MetadataBlob | undefined> {
    return this.#ready()
  }

  async #ready(): Promise<MetadataBlob | undefined> {
    if (!this.configured) return undefined
    // Every use waits for the first read (settled: at once). After a failed one, the source is
    // tried again in the background at most once a minute: no ceremony waits on an unreachable
    // MDS but the first ones.
    this.#first ??= this.refresh()
    await this.#first
    const now = this.#clock.now()
    const since = now - this.#lastAttempt
    if (!this.#current) {
      if (since >= FIRST_RETRY_MS) void this.refresh()
    } else if (this.#shared ? since >= SHARED_REFRESH_MS : this.#current.nextUpdateAt <= now && since >= RETRY_MS) void this.refresh()
    return this.#current
  }

  /**
   * Reads and verifies the BLOB from METADATA_BLOB (a shared https BLOB: the stored copy, or when
   * storage has none, `sync`); one read at a time. Never throws: what fails is logged and the
   * BLOB in use stays. Resolves to whether a new BLOB was taken.
   */
  refresh(): Promise<boolean> {
    if (!this.configured) return Promise.resolve(false)
    this.#loading ??= (async () => {
      this.#lastAttempt = this.#clock.now()
      try {
        const shared = this.#shared
        if (!shared) return await this.accept(await this.#read(this.#config.metadataBlob!))
        const stored = await shared.getMetadataBlob({ newerThan: this.#current?.no ?? -1 })
        if (stored) {
          const checked = await this.#checkStored(stored)
          if ('blob' in checked) {
            this.#take(checked.blob)
            return true
          }
          this.#log(this.#ignoredLine(checked.why))
        }
        if (this.#current) return false
        // Nothing stored yet (a new deployment before the timer's first run), or a stored copy
        // that does not verify (written by someone else, or under another METADATA_ROOT) or is
        // from another source, while nothing is in use: this instance downloads the BLOB and
        // stores it for the others (replacing such a copy whatever its `no`).
        const lines = await this.#sync()
        lines.forEach(this.#log)
        return this.#current !== undefined
      } catch (e) {
        this.#log(this.#ignoredLine(e instanceof MetadataBlobError ? e.message : `it could not be read (${e instanceof Error ? e.name : 'error'})`))
        return false
      } finally {
        this.#loading = undefined
      }
    })()
    return this.#loading
  }

  /**
   * The timer job (functions/index.ts `metadata`, local/metadata.ts): an https METADATA_BLOB is
   * downloaded, verified and, when newer than the stored one (or the stored one does not verify),
   * stored for every instance and taken here; a BLOB that does not verify is not stored (the
   * stored one stays). A file is read again.
   * Resolves to its log lines; throws only when storage fails (the timer's failure line).
   */
  async sync(): Promise<string[]> {
    if (!this.configured) return []
    if (!this.#shared) {
      await this.refresh()
      return [`metadata: ${this.#current ? `BLOB no ${this.#current.no} in use` : 'no metadata in use'}`]
    }
    return this.#sync()
  }

  async #sync(): Promise<string[]> {
    let text: string
    let blob: MetadataBlob
    try {
      text = await this.#read(this.#config.metadataBlob!)
      blob = await this.#verify(text)
    } catch (e) {
      return [this.#ignoredLine(`${e instanceof MetadataBlobError ? e.message : `it could not be read (${e instanceof Error ? e.name : 'error'})`}; not stored`)]
    }
    const shared = this.#shared!
    // The stored copy is looked at only when its `no` is at least the download's (else one point
    // read): if it is from this source and verifies it stays, else it is replaced whatever its
    // `no` (a copy that does not verify, or another MDS's, must not block every newer one). A lost
    // race is tried once more on what won.
    const source = await this.#source()
    let line = `metadata: BLOB no ${blob.no} not stored: another writer stored one meanwhile`
    let best = blob
    for (let attempt = 0; attempt < 2; attempt++) {
      const stored = await shared.getMetadataBlob({ newerThan: blob.no - 1 })
      const checked = stored && (stored.source === source && stored.text === text ? { blob } : await this.#checkStored(stored))
      if (checked && 'blob' in checked) {
        line = `metadata: BLOB no ${blob.no} not stored: storage has one at least as new`
        if (checked.blob.no > blob.no) best = checked.blob
        break
      }
      if (await shared.putMetadataBlob({ no: blob.no, text, source }, stored ? { replace: stored.version } : {})) {
        line = `metadata: BLOB no ${blob.no} stored for every instance${stored && checked ? `, replacing the stored no ${stored.no}: ${checked.why}` : ''}`
        break
      }
    }
    if (!this.#current || best.no > this.#current.no) this.#take(best)
    return [line]
  }

  /** Which METADATA_BLOB and METADATA_ROOT a stored copy comes from: a hash (the URL may carry a token). */
  async #source(): Promise<string> {
    const { metadataBlob, metadataRoot } = this.#config
    return (await sha256b64u(`${metadataBlob?.kind === 'url' ? metadataBlob.url : ''}\n${metadataRoot.join('\n')}`)).slice(0, 22)
  }

  /** The stored copy verified, or why not: it cannot be read whole, does not verify, or is from another source. */
  async #checkStored(stored: StoredMetadataRead): Promise<{ blob: MetadataBlob } | { why: string }> {
    if (stored.text === undefined) return { why: 'the stored copy could not be read whole' }
    let blob: MetadataBlob
    try {
      blob = await this.#verify(stored.text)
    } catch (e) {
      return { why: e instanceof MetadataBlobError ? e.message : `it did not verify (${e instanceof Error ? e.name : 'error'})` }
    }
    // Verified, but maybe another MDS's under the same root (METADATA_BLOB changed): its numbers
    // are not this one's, so it is replaced, not compared.
    if (stored.source !== (await this.#source())) return { why: 'the stored copy is from another METADATA_BLOB or METADATA_ROOT' }
    return { blob }
  }

  /**
   * Verifies a BLOB's text and takes it if it is newer than the one in use (tests hand BLOBs in
   * this way). Never throws; resolves to whether it was taken.
   */
  async accept(text: string): Promise<boolean> {
    let blob: MetadataBlob
    try {
      blob = await this.#verify(text)
    } catch (e) {
      this.#log(this.#ignoredLine(e instanceof MetadataBlobError ? e.message : `it did not verify (${e instanceof Error ? e.name : 'error'})`))
      return false
    }
    if (this.#current && blob.no <= this.#current.no) {
      this.#log(this.#ignoredLine(`its no ${blob.no} is not greater than ${this.#current.no}, the one in use`))
      return false
    }
    this.#take(blob)
    return true
  }

  #verify(text: string): Promise<MetadataBlob> {
    return verifyMetadataBlob(text, { roots: this.#config.metadataRoot })
  }

  #take(blob: MetadataBlob): void {
    this.#current = blob
    this.#log(`metadata: BLOB no ${blob.no} in use (${blob.models.length} authenticator models, next update ${blob.nextUpdate})`)
    if (blob.nextUpdateAt <= this.#clock.now())
      this.#log(`metadata: BLOB no ${blob.no} is past its nextUpdate ${blob.nextUpdate}; still used until a newer one verifies`)
  }

  #ignoredLine(why: string): string {
    const kept = this.#current ? `BLOB no ${this.#current.no} stays in use` : 'no metadata in use'
    return `metadata: METADATA_BLOB ignored: ${why}; ${kept}`
  }
}
