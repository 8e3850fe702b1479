/** Remembered consents: the Table store's consents.ts. */
import type { ConsentStore } from '../types.js'
import { copy, inner, type MemoryState } from './state.js'

export function consentVerbs(state: MemoryState): ConsentStore {
  const { consents, put } = state
  return {
    async putConsent(consent) {
      put(inner(consents, consent.userId), consent.clientId, consent)
    },
    async getConsent(userId, clientId) {
      const c = inner(consents, userId).get(clientId)
      return c && copy(c)
    },
    async listConsents(userId) {
      return [...inner(consents, userId).values()].map(copy)
    },
    async deleteConsent(userId, clientId) {
      return inner(consents, userId).delete(clientId)
    },
  }
}
