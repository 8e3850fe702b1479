/**
 * Housekeeping, because Table Storage has no TTL: deletes expired challenge and client assertion
 * `jti` markers, expired sessions and expired invitations, and finishes interrupted account
 * deletions (docs/storage.md "Housekeeping"). Run by the Functions
 * timer `housekeeping` (hourly) and by the local server every 10 minutes.
 */
import type { Core } from './core.js'
import { finishInterruptedDeletions } from './account/deletion.js'

/**
 * Rows are deleted only once they have been expired for this long. Until then an expired
 * challenge still answers `challenge_expired` (not `challenge_unknown`), an expired session
 * still answers "the session expired", and clocks of different instances may disagree a little.
 */
export const SWEEP_GRACE_MS = 60 * 60 * 1000

/** Deletions per batch: one bounded storage pass. */
export const SWEEP_MAX = 1000

/**
 * Batches per run: a run keeps sweeping while batches come back full, up to this many (100 000
 * rows an hour), so abandoned ceremonies cannot outgrow the sweep; a larger backlog drains over
 * later runs.
 */
export const SWEEP_BATCHES = 100

export interface SweepResult {
  /** Challenge and `jti` markers deleted. */
  challenges: number
  /** Session rows deleted. */
  sessions: number
  /** Invitation rows (pending, used or revoked) deleted once expired. */
  invitations: number
  /** Account deletions interrupted after their first step, finished (shared/account/deletion.ts). */
  deletions: number
}

/** Interrupted account deletions finished per run (each a few round trips; the rest next run). */
export const DELETIONS_PER_RUN = 100

/**
 * One housekeeping run at time `now`: deletes what expired before `now - SWEEP_GRACE_MS`, in
 * batches of SWEEP_MAX rows while batches come back full (at most SWEEP_BATCHES). Nothing that
 * has not expired is touched.
 *
 * @example
 * const { challenges, sessions, invitations } = await sweep(core, core.clock.now())
 */
export async function sweep(core: Core, now: number): Promise<SweepResult> {
  const total = { challenges: 0, sessions: 0, invitations: 0, deletions: 0 }
  // Invitations: one partition query (a few rows a day at most), once a run.
  total.invitations = await core.store.sweepInvitations({ before: now - SWEEP_GRACE_MS, max: SWEEP_MAX })
  for (let batch = 0; batch < SWEEP_BATCHES; batch++) {
    const { challenges, sessions } = await core.store.sweepExpired({ before: now - SWEEP_GRACE_MS, max: SWEEP_MAX })
    total.challenges += challenges
    total.sessions += sessions
    if (challenges + sessions < SWEEP_MAX) break
  }
  // Last: the expired rows above are swept even while an account's deletion keeps failing.
  total.deletions = await finishInterruptedDeletions(core, now, DELETIONS_PER_RUN)
  return total
}

/** The log line of a run. */
export function sweepLine({ challenges, sessions, invitations, deletions }: SweepResult): string {
  let line = `housekeeping: deleted ${challenges} expired challenge/jti markers and ${sessions} expired sessions`
  if (invitations) line += ` and ${invitations} expired invitations`
  return deletions ? `${line}; finished ${deletions} interrupted account deletions` : line
}
