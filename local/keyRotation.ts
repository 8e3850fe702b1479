/**
 * The local server's stand-in for the Functions app's `keyrotation` timer (functions/index.ts):
 * runs the key ring's rotation and repairs (shared/tokens/rotation.ts) every `everyMs`.
 */
import type { Core } from '../shared/core.js'
import { scheduledRotation } from '../shared/tokens/scheduledRotation.js'

/** How often the local server runs the rotation (Azure: every 5 minutes). */
export const KEY_ROTATION_EVERY_MS = 60_000

/**
 * Starts the timer; the returned function stops it and waits for a run in progress. Runs never
 * overlap, a failed run (storage down) is logged and retried by the next one, and the timer does
 * not keep the process alive.
 *
 * @example
 * const stop = startKeyRotation({ core: service.core })
 * await stop()
 */
export function startKeyRotation({
  core,
  everyMs = KEY_ROTATION_EVERY_MS,
  log = (line: string) => console.log(line),
}: {
  core: Pick<Core, 'keyRing' | 'audit'>
  everyMs?: number
  log?: (line: string) => void
}): () => Promise<void> {
  let running: Promise<void> | undefined
  const run = () => {
    running ??= scheduledRotation(core)
      .then(
        (changes) => changes.forEach((c) => log(`signing keys: ${c}`)),
        (err: unknown) => log(`signing keys: rotation failed: ${err instanceof Error ? err.message : String(err)}`),
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
