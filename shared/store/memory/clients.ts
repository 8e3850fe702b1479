import { clientCursor, ConcurrencyError, type ClientStore } from '../types.js'
import { copy, type MemoryState } from './state.js'

export function clientVerbs({ users, clients, sessions, put }: MemoryState): ClientStore {
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

    async listClients({ after = '', limit }) {
      const all = [...clients.values()].map((c) => ({ key: clientCursor(c), c })).sort((a, b) => (a.key < b.key ? -1 : 1))
      const page = all.filter((x) => x.key > after).slice(0, limit)
      const list = page.map(({ c }) => {
        const principal = users.get(c.id)
        return { client: copy(c), ...(principal ? { principal: copy(principal) } : {}) }
      })
      return { clients: list, ...(page.length === limit ? { next: page.at(-1)!.key } : {}) }
    },

    async updateClient(client, principal) {
      if (principal && principal.id !== client.id) throw new TypeError('updateClient: the principal must have the client id')
      const what = `client ${client.id}`
      // Both guards before either write: all or nothing, like the Table store's transaction.
      if (!client.etag || clients.get(client.id)?.etag !== client.etag) throw new ConcurrencyError(what)
      if (principal && (!principal.etag || users.get(principal.id)?.etag !== principal.etag)) throw new ConcurrencyError(what)
      put(clients, client.id, client)
      if (principal) put(users, principal.id, principal)
    },

    async deleteClient(clientId) {
      const client = clients.get(clientId)
      if (!client) return undefined
      clients.delete(clientId)
      users.delete(clientId)
      sessions.delete(clientId)
      return copy(client)
    },
  }
}
