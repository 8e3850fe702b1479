/** Backchannel authentication requests: the Table store's tables/backchannel.ts, each verb atomic. */
import { ConcurrencyError, type BackchannelStore, type BackchannelRequestRecord } from '../types.js'
import { copy, inner, type MemoryState } from './state.js'

export function backchannelVerbs(state: MemoryState): BackchannelStore {
  const { backchannel, credentials, sessions, put, guardedReplace } = state
  const current = (r: BackchannelRequestRecord) => inner(backchannel, r.userId).get(r.id)
  return {
    async createBackchannelRequest(request) {
      const rows = inner(backchannel, request.userId)
      if (rows.has(request.id)) throw new ConcurrencyError(`request ${request.id} exists`)
      put(rows, request.id, request)
    },

    async getBackchannelRequest(userId, requestId) {
      const r = backchannel.get(userId)?.get(requestId)
      return r && copy(r)
    },

    async listBackchannelRequests(userId) {
      return [...inner(backchannel, userId).values()].map(copy)
    },

    async updateBackchannelRequest(request) {
      guardedReplace(inner(backchannel, request.userId), request.id, request, `request ${request.id}`)
    },

    async deleteBackchannelRequest(request) {
      const rows = inner(backchannel, request.userId)
      if (!request.etag || rows.get(request.id)?.etag !== request.etag) return false
      return rows.delete(request.id)
    },

    async recordApproval(credential, request) {
      const what = `approval of request ${request.id}`
      const creds = inner(credentials, credential.userId)
      // Both guards before either write: all or nothing, like the Table store's transaction.
      if (!credential.etag || creds.get(credential.id)?.etag !== credential.etag) throw new ConcurrencyError(what)
      if (!request.etag || current(request)?.etag !== request.etag) throw new ConcurrencyError(what)
      put(creds, credential.id, credential)
      put(inner(backchannel, request.userId), request.id, request)
    },

    async issueBackchannel(request, session) {
      const what = `request ${request.id}`
      if (!request.etag || current(request)?.etag !== request.etag) throw new ConcurrencyError(what)
      const userSessions = inner(sessions, session.userId)
      if (userSessions.has(session.id)) throw new ConcurrencyError(what)
      put(inner(backchannel, request.userId), request.id, request)
      put(userSessions, session.id, session)
    },
  }
}
