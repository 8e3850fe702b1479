/** OAuth clients: row 'client' beside the client's principal row ('acct') in its `users` partition. */
import type { ClientStore } from '../types.js'
import { transactionError, type Calls } from './calls.js'
import { CLIENT_RK, k } from './keys.js'
import { clientRow, userRow } from './rows.js'

export function clientVerbs(db: Calls): ClientStore {
  return {
    async createClient(client, principal) {
      if (principal.id !== client.id) throw new TypeError('createClient: the principal must have the client id')
      try {
        const etags = await db.transact('users', [
          ['create', userRow.entity(principal)],
          ['create', clientRow.entity(client)],
        ])
        principal.etag = etags[0]
        client.etag = etags[1]
      } catch (err) {
        throw transactionError(err, { 409: `client ${client.id} exists` })
      }
    },

    async getClient(clientId) {
      const row = await db.getRow('users', k(clientId), CLIENT_RK)
      return row && clientRow.record(row)
    },
  }
}
