/**
 * The local server's stand-in for the Functions app's `housekeeping` timer (functions/index.ts):
 * deletes expired challenge/jti markers and sessions (shared/housekeeping.ts) every `everyMs`.
 */
import type { Core } from '../shared/core.js'
import { sweep, sweepLine } from '../shared/housekeeping.js'

/** How often the local server sweeps (Azure: hourly). */
export const HOUSEKEEPING_EVERY_MS = 10 * 60_000

/**
 * Starts the timer; the returned function stops it and waits for a run in progress. Runs never
 * overlap, a failed run (storage down) is logged and retried by the next one, and the timer does
 * not keep the process alive.
 *
 * @example
 * const stop = startHousekeeping({ core: service.core })
 * await stop()
 */
export function startHousekeeping({
  core,
  everyMs = HOUSEKEEPING_EVERY_MS,
  log = (line: string) => console.log(line),
}: {
  core: Pick<Core, 'store' | 'clock'>
  everyMs?: number
  log?: (line: string) => void
}): () => Promise<void> {
  let running: Promise<void> | undefined
  const run = () => {
    running ??= sweep(core, core.clock.now())
      .then(
        (result) => log(sweepLine(result)),
        (err: unknown) => log(`housekeeping: failed: ${err instanceof Error ? err.message : String(err)}`),
      )
      .finally(() => (running = undefined))
  }
  const timer = setInterval(run, everyMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
