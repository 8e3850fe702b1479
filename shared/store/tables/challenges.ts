/** Single-use markers in `challenges`: `createEntity` answers 409 when one exists, `deleteEntity` 404 when it is gone. */
import { ConcurrencyError, type ChallengeStore } from '../types.js'
import type { Calls } from './calls.js'
import { k } from './keys.js'
import { challengeRow } from './rows.js'

export function challengeVerbs(db: Calls): ChallengeStore {
  return {
    async putChallenge(id, expiresAt) {
      const r = await db.attempt(() => db.t('challenges').createEntity(challengeRow.entity({ id, expiresAt })), 409)
      if (r.status !== undefined) throw new ConcurrencyError(`challenge ${id} exists`)
    },

    async consumeChallenge(id) {
      const r = await db.attempt(() => db.t('challenges').deleteEntity(k(id), ''), 404)
      return r.status === undefined
    },
  }
}
