import type { MetadataStore } from '../types.js'
import type { MemoryState } from './state.js'

export function metadataVerbs(state: MemoryState): MetadataStore {
  const { metadata } = state
  return {
    async getMetadataBlob({ newerThan = -1 } = {}) {
      return metadata.blob && metadata.blob.no > newerThan ? { source: undefined, ...metadata.blob } : undefined
    },

    async putMetadataBlob(blob, { replace } = {}) {
      if (replace !== undefined ? metadata.blob?.version !== replace : metadata.blob && metadata.blob.no >= blob.no) return false
      metadata.blob = { no: blob.no, text: blob.text, source: blob.source, version: state.etag() }
      return true
    },
  }
}
