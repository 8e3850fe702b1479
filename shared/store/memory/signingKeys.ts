import { ConcurrencyError, type SigningKeyStore } from '../types.js'
import { copy, type MemoryState } from './state.js'

export function signingKeyVerbs({ signingKeys, put, guardedReplace }: MemoryState): SigningKeyStore {
  return {
    async listSigningKeys() {
      return [...signingKeys.values()].map(copy)
    },

    async createSigningKey(key) {
      if (signingKeys.has(key.kid)) throw new ConcurrencyError(`signing key ${key.kid} exists`)
      put(signingKeys, key.kid, key)
    },

    async updateSigningKey(key) {
      guardedReplace(signingKeys, key.kid, key, `signing key ${key.kid}`)
    },

    async commitSigningKeys(keys) {
      if (new Set(keys.map((k) => k.kid)).size !== keys.length)
        throw new TypeError('commitSigningKeys: each kid at most once')
      // Check every guard first, then write: all or nothing.
      for (const key of keys) {
        const current = signingKeys.get(key.kid)
        if (key.etag ? current?.etag !== key.etag : current)
          throw new ConcurrencyError(`signing key ${key.kid}`)
      }
      for (const key of keys) put(signingKeys, key.kid, key)
    },
  }
}
