/**
 * The timer's job (Functions `keyrotation`, and the local server's interval): the key ring's
 * scheduled rotation and repairs, with an audit event when the signing key changed, and one per
 * key re-wrapped under a new KEY_ENCRYPTION_KEY (the sign that a change of the KEK got that far).
 */
import type { Core } from '../core.js'

/** Runs one scheduled rotation; returns the change lines for the log. */
export async function scheduledRotation(core: Pick<Core, 'keyRing' | 'audit'>): Promise<string[]> {
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
  return changes
}
