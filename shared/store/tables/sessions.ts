/** Sessions: rows `sess:<id>` in their user's (or client's) `users` partition. */
import { ConcurrencyError, type SessionStore } from '../types.js'
import type { Calls } from './calls.js'
import { k, SESS_END, SESS_PREFIX, sessRowKey } from './keys.js'
import { sessionRow } from './rows.js'

export function sessionVerbs(db: Calls): SessionStore {
  return {
    async getSession(userId, sessionId) {
      const row = await db.getRow('users', k(userId), sessRowKey(sessionId))
      return row && sessionRow.record(row)
    },

    async updateSession(session) {
      session.etag = await db.replace('users', sessionRow.entity(session), session.etag, `session ${session.id}`)
    },

    async listSessions(userId) {
      return (await db.range(userId, SESS_PREFIX, SESS_END)).map(sessionRow.record)
    },

    async createSession(session) {
      const r = await db.attempt(() => db.t('users').createEntity(sessionRow.entity(session)), 409)
      if (r.status !== undefined) throw new ConcurrencyError(`session ${session.id} exists`)
      session.etag = r.value.etag
    },
  }
}
