/**
 * The local server's housekeeping interval (local/housekeeping.ts): runs the sweep, logs the
 * counts, survives a failed run, and stops (waiting for a run in progress) when asked.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { HOUSEKEEPING_EVERY_MS, startHousekeeping } from '../../local/housekeeping.js'
import { SWEEP_GRACE_MS } from '../../shared/housekeeping.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import { ManualClock } from '../../shared/util/clock.js'
import type { Core } from '../../shared/core.js'

async function until(check: () => boolean, ms = 2_000) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await sleep(5)
  }
}

describe('local housekeeping interval', () => {
  it('runs every 10 minutes by default', () => {
    assert.equal(HOUSEKEEPING_EVERY_MS, 600_000)
  })

  it('sweeps on each tick and logs the counts; a failed run is logged and the next one works', async () => {
    const store = createMemoryStore()
    const clock = new ManualClock(1_767_225_600_000)
    await store.putChallenge('old', clock.now() - SWEEP_GRACE_MS - 1)
    await store.putChallenge('grace', clock.now() - 1)
    const lines: string[] = []
    store.down = true
    const stop = startHousekeeping({ core: { store, clock } as unknown as Core, everyMs: 10, log: (l) => lines.push(l) })
    try {
      await until(() => lines.length >= 1)
      assert.match(lines[0]!, /^housekeeping: failed: /)
      store.down = false
      await until(() => lines.some((l) => l.includes('deleted 1 ')))
      assert.ok(lines.includes('housekeeping: deleted 1 expired challenge/jti markers and 0 expired sessions'))
    } finally {
      await stop()
    }
    const after = lines.length
    await sleep(50)
    assert.equal(lines.length, after, 'no run after stop')
    assert.equal(await store.consumeChallenge('old'), false)
    assert.equal(await store.consumeChallenge('grace'), true, 'within the grace period: kept')
  })
})
