/** Housekeeping keeps up with a backlog larger than one batch (shared/housekeeping.ts). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SWEEP_GRACE_MS, SWEEP_MAX, sweep } from '../shared/housekeeping.js'
import { createMemoryStore } from '../shared/store/memory.js'
import type { Core } from '../shared/core.js'

describe('sweep', () => {
  it('keeps sweeping while batches come back full: a backlog of 2.5 batches is gone in one run', async () => {
    const store = createMemoryStore()
    const now = Date.now()
    const n = Math.floor(SWEEP_MAX * 2.5)
    for (let i = 0; i < n; i++) await store.putChallenge(`c${i}`, now - SWEEP_GRACE_MS - 1000)
    await store.putChallenge('fresh', now + 60_000)
    // Only the store is reached: no account is marked deleted, so nothing else of the core is used.
    const r = await sweep({ store } as unknown as Core, now)
    assert.equal(r.challenges, n)
    assert.equal(await store.consumeChallenge('c0'), false)
    assert.equal(await store.consumeChallenge('fresh'), true, 'unexpired markers stay')
  })
})
