/** Invitations: the Table store's invitations.ts (each verb atomic here). */
import { ConcurrencyError, type InvitationStore } from '../types.js'
import { copy, type MemoryState } from './state.js'

export function invitationVerbs({ invitations, put, guardedReplace }: MemoryState): InvitationStore {
  return {
    async createInvitation(invitation) {
      if (invitations.has(invitation.id)) throw new ConcurrencyError(`invitation ${invitation.id} exists`)
      put(invitations, invitation.id, invitation)
    },

    async getInvitation(id) {
      const i = invitations.get(id)
      return i && copy(i)
    },

    async listInvitations() {
      return [...invitations.values()].map(copy)
    },

    async updateInvitation(invitation) {
      guardedReplace(invitations, invitation.id, invitation, `invitation ${invitation.id}`)
    },

    async deleteInvitation(id) {
      return invitations.delete(id)
    },

    async sweepInvitations({ before, max }) {
      const expired = [...invitations.values()].filter((i) => i.expiresAt < before).slice(0, Math.max(0, Math.trunc(max)))
      for (const i of expired) invitations.delete(i.id)
      return expired.length
    },
  }
}
