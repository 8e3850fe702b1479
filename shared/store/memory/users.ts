/** Disabling and listing accounts: the Table store's users.ts (each verb atomic here). */
import { InvalidCursorError, type AccountStore } from '../types.js'
import { copy, inner, type MemoryState } from './state.js'
import { isKeyId } from '../../util/base64url.js'

export function userVerbs(state: MemoryState): Pick<AccountStore, 'disableUser' | 'listUsers'> {
  const { users, sessions, put, guardedReplace } = state
  return {
    async disableUser(user, reason) {
      guardedReplace(users, user.id, user, `user ${user.id}`)
      const now = Date.now()
      const userSessions = inner(sessions, user.id)
      for (const [id, s] of userSessions) if (s.revokedAt === undefined) put(userSessions, id, { ...s, revokedAt: now, revokedReason: reason })
    },

    // In id order, as the Table store lists partitions; the cursor is the last id given out.
    async listUsers({ limit, cursor }) {
      if (cursor !== undefined && !isKeyId(cursor)) throw new InvalidCursorError()
      const people = [...users.values()].filter((u) => u.username !== '' && (cursor === undefined || u.id > cursor)).sort((a, b) => (a.id < b.id ? -1 : 1))
      const page = people.slice(0, limit).map(copy)
      return people.length > limit ? { users: page, next: page[page.length - 1]!.id } : { users: page }
    },
  }
}
