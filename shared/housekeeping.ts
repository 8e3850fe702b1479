/**
 * Housekeeping, because Table Storage has no TTL: deletes expired challenge and client assertion
 * `jti` markers and expired sessions (docs/storage.md "Housekeeping"). Run by the Functions
 * timer `housekeeping` (hourly) and by the local server every 10 minutes.
 */
import type { Core } from './core.js'

/**
 * Rows are deleted only once they have been expired for this long. Until then an expired
 * challenge still answers `challenge_expired` (not `challenge_unknown`), an expired session
 * still answers "the session expired", and clocks of different instances may disagree a little.
 */
export const SWEEP_GRACE_MS = 60 * 60 * 1000

/** Deletions per run: bounded work per timer invocation. A larger backlog drains over later runs. */
export const SWEEP_MAX = 1000

export interface SweepResult {
  /** Challenge and `jti` markers deleted. */
  challenges: number
  /** Session rows deleted. */
  sessions: number
}

/**
 * One housekeeping run at time `now`: deletes what expired before `now - SWEEP_GRACE_MS`, at
 * most SWEEP_MAX rows. Nothing that has not expired is touched.
 *
 * @example
 * const { challenges, sessions } = await sweep(core, core.clock.now())
 */
export async function sweep(core: Pick<Core, 'store'>, now: number): Promise<SweepResult> {
  const { challenges, sessions } = await core.store.sweepExpired({ before: now - SWEEP_GRACE_MS, max: SWEEP_MAX })
  return { challenges, sessions }
}

/** The log line of a run. */
export function sweepLine({ challenges, sessions }: SweepResult): string {
  return `housekeeping: deleted ${challenges} expired challenge/jti markers and ${sessions} expired sessions`
}
