/**
 * The timer's job (Functions `keyrotation`, and the local server's interval): the key ring's
 * scheduled rotation and repairs, with an audit event when the signing key changed, and one per
 * key re-wrapped under a new KEY_ENCRYPTION_KEY (the sign that a change of the KEK got that far);
 * then, during such a change, a batch of the accounts' personal-data keys wrapped again too.
 */
import type { Core } from '../core.js'

/** Personal-data keys re-wrapped per run (every 5 minutes in Azure): 12 000 accounts an hour. */
export const PD_REWRAP_PER_RUN = 1000

/** Runs one scheduled rotation; returns the change lines for the log. */
export async function scheduledRotation(core: Pick<Core, 'keyRing' | 'audit' | 'personal'>): Promise<string[]> {
  const { changes, signing, rewrapped } = await core.keyRing.rotate()
  for (const { kid, from, to } of rewrapped)
    await core.audit.record({
      type: 'key.rewrapped',
      actor: { system: 'key-rotation' },
      target: { kid },
      detail: { from: from ?? null, to },
    })
  if (signing.after && signing.after !== signing.before)
    await core.audit.record({
      type: 'key.rotated',
      actor: { system: 'key-rotation' },
      target: { kid: signing.after },
      detail: { previousKid: signing.before ?? null, reason: 'scheduled' },
    })
  // After the signing keys: a failing sweep must not hide the lines (and events) of what was done.
  try {
    const pd = await core.personal.rewrapStale(PD_REWRAP_PER_RUN)
    if (pd.rewrapped) changes.push(`re-wrapped ${pd.rewrapped} personal-data keys under the current KEY_ENCRYPTION_KEY`)
    if (pd.left) changes.push(`${pd.left} personal-data keys changed while being re-wrapped; the next run looks again`)
  } catch (err) {
    changes.push(`personal-data key re-wrap failed (${err instanceof Error ? err.name : 'error'}); the next run tries again`)
  }
  return changes
}
