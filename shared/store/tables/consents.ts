/** Remembered consents: rows 'consent:<clientId>' in the person's `users` partition (keys.ts); they go with the partition when the account is deleted. */
import type { ConsentStore } from '../types.js'
import type { Calls } from './calls.js'
import { CONSENT_END, CONSENT_PREFIX, consentRowKey, k } from './keys.js'
import { consentRow } from './rows.js'

export function consentVerbs(db: Calls): ConsentStore {
  return {
    async putConsent(consent) {
      const r = await db.attempt(() => db.t('users').upsertEntity(consentRow.entity(consent), 'Replace'))
      consent.etag = r.value!.etag
    },
    async getConsent(userId, clientId) {
      const row = await db.getRow('users', k(userId), consentRowKey(clientId))
      return row && consentRow.record(row)
    },
    async listConsents(userId) {
      return (await db.range(userId, CONSENT_PREFIX, CONSENT_END)).map((r) => consentRow.record(r))
    },
    async deleteConsent(userId, clientId) {
      const r = await db.attempt(() => db.t('users').deleteEntity(k(userId), consentRowKey(clientId)), 404)
      return r.status === undefined
    },
  }
}
