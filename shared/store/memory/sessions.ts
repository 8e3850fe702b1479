import { ConcurrencyError, type SessionStore } from '../types.js'
import { copy, inner, type MemoryState } from './state.js'

export function sessionVerbs({ sessions, put, guardedReplace }: MemoryState): SessionStore {
  return {
    async getSession(userId, sessionId) {
      const s = sessions.get(userId)?.get(sessionId)
      return s && copy(s)
    },

    async updateSession(session) {
      guardedReplace(inner(sessions, session.userId), session.id, session, `session ${session.id}`)
    },

    async listSessions(userId) {
      return [...inner(sessions, userId).values()].map(copy)
    },

    async createSession(session) {
      const userSessions = inner(sessions, session.userId)
      if (userSessions.has(session.id)) throw new ConcurrencyError(`session ${session.id} exists`)
      put(userSessions, session.id, session)
    },
  }
}
