import type { RoleStore } from '../types.js'
import { copy, type MemoryState } from './state.js'

export function roleVerbs({ roles, put }: MemoryState): RoleStore {
  return {
    async listRoles() {
      return [...roles.values()].map(copy)
    },

    async putRole(role) {
      put(roles, role.name, role)
    },

    async deleteRole(name) {
      return roles.delete(name)
    },
  }
}
