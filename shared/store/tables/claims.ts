/**
 * Global uniqueness for usernames and credential ids: a claim is a row in an index table
 * (`usernames` or `credentials`) created with `createEntity`, which answers 409 when the key is
 * taken (docs/storage.md "Sign-up").
 */
import { UniquenessError } from '../types.js'
import type { Calls } from './calls.js'
import { k } from './keys.js'
import { claimRow } from './rows.js'

/** A claim whose owner row has not appeared after this long was left by a crash (see `claim`). */
export const STALE_CLAIM_MS = 60_000
const RELEASE_TIMEOUT_MS = 1_000

export type IndexTable = 'usernames' | 'credentials'

export interface Claims {
  /**
   * Claims `pk` in an index table for `userId` and returns the claim's etag. A key that is taken
   * stays taken, except a claim older than STALE_CLAIM_MS whose owner row (`ownerRowKey`) does
   * not exist: a sign-up crashed after claiming, so the claim is taken over with an etag-guarded
   * replace (two takers: one wins, the other gets 412).
   */
  claim(table: IndexTable, pk: string, userId: string, ownerRowKey: string, field: UniquenessError['field']): Promise<string | undefined>
  /**
   * Best effort, bounded to RELEASE_TIMEOUT_MS: deletes a claim we hold (etag-guarded, so a later
   * taker's claim survives). A claim that could not be released goes stale (see `claim`).
   */
  release(table: IndexTable, pk: string, etag: string | undefined): Promise<void>
  /** The user an index key points at (claims are not accounts: the account may not exist). */
  ownerOf(table: IndexTable, pk: string): Promise<string | undefined>
}

export function createClaims(db: Calls): Claims {
  return {
    async claim(table, pk, userId, ownerRowKey, field) {
      for (let round = 0; round < 2; round++) {
        const now = Date.now()
        const row = claimRow.entity({ key: pk, userId, createdAt: now })
        const created = await db.attempt(() => db.t(table).createEntity(row), 409)
        if (created.status === undefined) return created.value.etag
        const existing = await db.getRow(table, pk, '')
        if (!existing) continue // released meanwhile: try to claim it again
        const { userId: owner, createdAt } = claimRow.record(existing)
        if (now - createdAt < STALE_CLAIM_MS) throw new UniquenessError(field)
        if (await db.getRow('users', k(owner), ownerRowKey)) throw new UniquenessError(field)
        const taken = await db.attempt(() => db.t(table).updateEntity(row, 'Replace', { etag: existing.etag }), 404, 412)
        if (taken.status === undefined) return taken.value.etag
        throw new UniquenessError(field)
      }
      throw new UniquenessError(field)
    },

    async release(table, pk, etag) {
      const abortSignal = AbortSignal.timeout(RELEASE_TIMEOUT_MS)
      await db
        .t(table)
        .deleteEntity(pk, '', { etag: etag ?? '*', abortSignal })
        .catch(() => undefined)
    },

    async ownerOf(table, pk) {
      const row = await db.getRow(table, pk, '')
      return row ? claimRow.get(row, 'userId') : undefined
    },
  }
}
