/**
 * Reads METADATA_BLOB on Node (the Functions host, the local server, the tests): a file path with
 * node:fs, an https URL with fetch (shared/webauthn/metadata.ts). Relative paths are from the
 * working directory.
 */
import { readFile } from 'node:fs/promises'
import { fetchMetadataBlob, type ReadMetadataBlob } from '../../shared/webauthn/metadata.js'

/** At most this many bytes are read from a file (the FIDO BLOB is a few MB). */
const MAX_BYTES = 64 * 1024 * 1024

export const readMetadataBlob: ReadMetadataBlob = async (source) => {
  if (source.kind === 'url') return fetchMetadataBlob(source)
  const bytes = await readFile(source.path)
  if (bytes.length > MAX_BYTES) throw new RangeError('METADATA_BLOB file is larger than 64 MiB')
  return bytes.toString('utf8')
}
