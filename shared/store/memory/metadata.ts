import type { MetadataStore } from '../types.js'
import type { MemoryState } from './state.js'

export function metadataVerbs({ metadata }: MemoryState): MetadataStore {
  return {
    async getMetadataBlob({ newerThan = -1 } = {}) {
      return metadata.blob && metadata.blob.no > newerThan ? { ...metadata.blob } : undefined
    },

    async putMetadataBlob(blob) {
      if (metadata.blob && metadata.blob.no >= blob.no) return false
      metadata.blob = { no: blob.no, text: blob.text }
      return true
    },
  }
}
