/**
 * Remembered consents: rows 'consent:<base64url(SHA-256(clientId))>' in the person's `users`
 * partition (keys.ts); they go with the partition when the account is deleted. Written as new
 * (insert) or over the row as read (Replace with If-Match): a concurrent approval loses with
 * ConcurrencyError and merges again (shared/account/consents.ts).
 */
import { ConcurrencyError, type ConsentStore } from '../types.js'
import type { Calls } from './calls.js'
import { CONSENT_END, CONSENT_PREFIX, consentRowKey, k } from './keys.js'
import { consentRow } from './rows.js'

export function consentVerbs(db: Calls): ConsentStore {
  return {
    async putConsent(consent) {
      const entity = consentRow.entity(consent)
      const { etag } = consent
      const r = etag
        ? await db.attempt(() => db.t('users').updateEntity(entity, 'Replace', { etag }), 404, 412)
        : await db.attempt(() => db.t('users').createEntity(entity), 409)
      if (r.status !== undefined) throw new ConcurrencyError(`consent of ${consent.userId} to ${consent.clientId}`)
      consent.etag = r.value.etag
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
