import { sweepShares, type Housekeeping } from '../types.js'
import type { MemoryState } from './state.js'

/** `hooks` gives the store itself: tests set `beforeSweepDeletes` on it after creation. */
export function housekeepingVerbs(
  { challenges, sessions }: MemoryState,
  hooks: () => { beforeSweepDeletes?: () => Promise<void> },
): Housekeeping {
  return {
    async init() {},

    async ping() {},

    // Like the Table store: read the expired rows, then delete each one only if it is unchanged.
    async sweepExpired({ before, max }) {
      const budget = Math.max(0, Math.trunc(max))
      const c = [...challenges].filter(([, expiresAt]) => expiresAt < before).slice(0, budget)
      const s = [...sessions.values()]
        .flatMap((m) => [...m.values()])
        .filter((x) => x.expiresAt < before)
        .slice(0, budget)
        .map(({ userId, id, etag }) => ({ userId, id, etag }))
      const share = sweepShares(budget, c.length, s.length)
      const store = hooks()
      if (store.beforeSweepDeletes) await store.beforeSweepDeletes()
      const deleted = { challenges: 0, sessions: 0 }
      for (const [id, expiresAt] of c.slice(0, share.challenges))
        if (challenges.get(id) === expiresAt && challenges.delete(id)) deleted.challenges++
      for (const { userId, id, etag } of s.slice(0, share.sessions)) {
        const m = sessions.get(userId)
        if (m && m.get(id)?.etag === etag && m.delete(id)) deleted.sessions++
      }
      return deleted
    },
  }
}
