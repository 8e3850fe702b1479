/** Remembered consents: the Table store's consents.ts (insert when new, else etag-guarded Replace). */
import { ConcurrencyError, type ConsentStore } from '../types.js'
import { copy, inner, type MemoryState } from './state.js'

export function consentVerbs(state: MemoryState): ConsentStore {
  const { consents, put, guardedReplace } = state
  return {
    async putConsent(consent) {
      const mine = inner(consents, consent.userId)
      const what = `consent of ${consent.userId} to ${consent.clientId}`
      if (consent.etag) return guardedReplace(mine, consent.clientId, consent, what)
      if (mine.has(consent.clientId)) throw new ConcurrencyError(what)
      put(mine, consent.clientId, consent)
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
