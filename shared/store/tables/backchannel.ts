/**
 * Agents' backchannel authentication requests (OpenID CIBA): rows `bcreq:<id>` in the person's
 * `users` partition (docs/agents.md). The approval and the issue are transactions with the
 * passkey row and the new session row of the same partition.
 */
import { ConcurrencyError, type BackchannelStore } from '../types.js'
import { transactionError, type Calls } from './calls.js'
import { BCREQ_END, BCREQ_PREFIX, bcreqRowKey, k } from './keys.js'
import { backchannelRequestRow, credentialRow, sessionRow } from './rows.js'

export function backchannelVerbs(db: Calls): BackchannelStore {
  return {
    async createBackchannelRequest(request) {
      const r = await db.attempt(() => db.t('users').createEntity(backchannelRequestRow.entity(request)), 409)
      if (r.status !== undefined) throw new ConcurrencyError(`request ${request.id} exists`)
      request.etag = r.value.etag
    },

    async getBackchannelRequest(userId, requestId) {
      const row = await db.getRow('users', k(userId), bcreqRowKey(requestId))
      return row && backchannelRequestRow.record(row)
    },

    async listBackchannelRequests(userId) {
      return (await db.range(userId, BCREQ_PREFIX, BCREQ_END)).map(backchannelRequestRow.record)
    },

    async updateBackchannelRequest(request) {
      request.etag = await db.replace('users', backchannelRequestRow.entity(request), request.etag, `request ${request.id}`)
    },

    async deleteBackchannelRequest(request) {
      if (!request.etag) throw new TypeError('deleteBackchannelRequest: etag required (pass the record as read)')
      const { partitionKey, rowKey } = backchannelRequestRow.entity(request)
      return db.deleteUnchanged('users', { partitionKey, rowKey, etag: request.etag })
    },

    async recordApproval(credential, request) {
      if (!credential.etag || !request.etag) throw new TypeError('recordApproval: etags required (pass the records as read)')
      if (credential.userId !== request.userId) throw new TypeError('recordApproval: the passkey must be the person\'s')
      let etags: (string | undefined)[]
      try {
        etags = await db.transact('users', [
          ['update', credentialRow.entity(credential), 'Replace', { etag: credential.etag }],
          ['update', backchannelRequestRow.entity(request), 'Replace', { etag: request.etag }],
        ])
      } catch (err) {
        const lost = `approval of request ${request.id}`
        throw transactionError(err, { 404: lost, 412: lost })
      }
      credential.etag = etags[0]
      request.etag = etags[1]
    },

    async issueBackchannel(request, session) {
      if (!request.etag) throw new TypeError('issueBackchannel: etag required (pass the record as read)')
      if (session.userId !== request.userId) throw new TypeError('issueBackchannel: the session must be the person\'s')
      let etags: (string | undefined)[]
      try {
        etags = await db.transact('users', [
          ['update', backchannelRequestRow.entity(request), 'Replace', { etag: request.etag }],
          ['create', sessionRow.entity(session)],
        ])
      } catch (err) {
        const lost = `request ${request.id}`
        throw transactionError(err, { 404: lost, 409: lost, 412: lost })
      }
      request.etag = etags[0]
      session.etag = etags[1]
    },
  }
}
