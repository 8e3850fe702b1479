import { ConcurrencyError, type ClientStore } from '../types.js'
import { copy, type MemoryState } from './state.js'

export function clientVerbs({ users, clients, put }: MemoryState): ClientStore {
  return {
    async createClient(client, principal) {
      if (principal.id !== client.id) throw new TypeError('createClient: the principal must have the client id')
      if (users.has(client.id) || clients.has(client.id)) throw new ConcurrencyError(`client ${client.id} exists`)
      put(users, principal.id, principal)
      put(clients, client.id, client)
    },

    async getClient(clientId) {
      const c = clients.get(clientId)
      return c && copy(c)
    },
  }
}
