/**
 * The local server's stand-in for the Functions app's `housekeeping` timer (functions/index.ts):
 * deletes expired challenge/jti markers, sessions and invitations and finishes interrupted account
 * deletions (shared/housekeeping.ts) every `everyMs`.
 */
import type { Core } from '../shared/core.js'
import { sweep, sweepLine } from '../shared/housekeeping.js'
import { timer } from './every.js'

/** How often the local server sweeps (Azure: hourly). */
export const HOUSEKEEPING_EVERY_MS = 10 * 60_000

/**
 * Starts the timer (see local/every.ts); the returned function stops it.
 *
 * @example
 * const stop = startHousekeeping({ core: service.core })
 * await stop()
 */
export const startHousekeeping = timer<Core>(
  HOUSEKEEPING_EVERY_MS,
  'housekeeping: failed',
  async (core) => [sweepLine(await sweep(core, core.clock.now()))],
)
