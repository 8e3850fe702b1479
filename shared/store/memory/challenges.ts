import { ConcurrencyError, type ChallengeStore } from '../types.js'
import type { MemoryState } from './state.js'

export function challengeVerbs({ challenges }: MemoryState): ChallengeStore {
  return {
    async putChallenge(id, expiresAt) {
      if (challenges.has(id)) throw new ConcurrencyError(`challenge ${id} exists`)
      challenges.set(id, expiresAt)
    },

    async consumeChallenge(id) {
      return challenges.delete(id)
    },
  }
}
