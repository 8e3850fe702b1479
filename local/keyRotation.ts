/**
 * The local server's stand-in for the Functions app's `keyrotation` timer (functions/index.ts):
 * runs the key ring's rotation and repairs (shared/tokens/rotation.ts) every `everyMs`.
 */
import type { Core } from '../shared/core.js'
import { scheduledRotation } from '../shared/tokens/scheduledRotation.js'
import { timer } from './every.js'

/** How often the local server runs the rotation (Azure: every 5 minutes). */
export const KEY_ROTATION_EVERY_MS = 60_000

/**
 * Starts the timer (see local/every.ts); the returned function stops it.
 *
 * @example
 * const stop = startKeyRotation({ core: service.core })
 * await stop()
 */
export const startKeyRotation = timer<Pick<Core, 'keyRing' | 'audit' | 'personal'>>(
  KEY_ROTATION_EVERY_MS,
  'signing keys: rotation failed',
  async (core) => (await scheduledRotation(core)).map((c) => `signing keys: ${c}`),
)
