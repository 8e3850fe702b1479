/**
 * /api/manage/keys — CONTRACT "Administration": token signing keys (behind adminRoutes' guard).
 *
 * - GET    /keys          the keys with their state and dates
 * - POST   /keys/rotate   the next key signs from now on; the old one retires but stays published
 *                         until its tokens expired plus KEY_PUBLISH_AHEAD (the overlap)
 * - DELETE /keys/{kid}    revoke a compromised key at once: it leaves the JWKS, its tokens stop
 *                         verifying here now and on other instances within the key ring's
 *                         refresh (REFRESH_MS, 60 s); a revoked signing key is replaced at once
 *
 * The rules themselves are shared/tokens/rotation.ts. Both changes are audited (`key.rotated`,
 * `key.revoked`); the timer audits scheduled rotations too (shared/tokens/scheduledRotation.ts).
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import { revokeKey, rotateKeys } from '../admin/keys.js'
import { auditContext } from '../audit/context.js'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { noStore } from '../middleware/noStore.js'
import type { SigningKeyRecord } from '../store/types.js'

/** RFC 7638 thumbprints are 43 base64url characters; leave room for kids of other origins. */
const KID = /^[A-Za-z0-9_-]{1,128}$/

/**
 * CONTRACT "Administration": `{ kid, alg, state, createdAt, activatesAt, retiredAt?, expiresAt? }`,
 * plus, while KEY_ENCRYPTION_KEY is being changed (KEY_ENCRYPTION_KEY_PREVIOUS set), `wrappedBy`
 * (an extra field): the key id of the KEK that wraps the private key, which tells when every key
 * has been re-wrapped (docs/security.md "Changing KEY_ENCRYPTION_KEY"). Otherwise as before.
 */
export interface SigningKeyView {
  kid: string
  alg: string
  state: SigningKeyRecord['state']
  createdAt: string
  activatesAt: string
  retiredAt?: string
  expiresAt?: string
  wrappedBy?: string
}

const iso = (ms: number) => new Date(ms).toISOString()

export function signingKeyView(r: SigningKeyRecord, { rotatingKek = false } = {}): SigningKeyView {
  return {
    kid: r.kid,
    alg: r.alg,
    state: r.state,
    createdAt: iso(r.createdAt),
    activatesAt: iso(r.activatesAt),
    ...(r.retiredAt !== undefined ? { retiredAt: iso(r.retiredAt) } : {}),
    ...(r.expiresAt !== undefined ? { expiresAt: iso(r.expiresAt) } : {}),
    ...(rotatingKek && r.wrappedBy !== undefined ? { wrappedBy: r.wrappedBy } : {}),
  }
}

/**
 * Newest first (by creation, then kid). CONTRACT lists the states `next`, `active` and
 * `retired`: a revoked key is gone (from the JWKS and from this list; the audit log keeps it).
 */
function listView(records: SigningKeyRecord[], core: Core): SigningKeyView[] {
  const rotatingKek = core.config.keyEncryptionKeyPrevious !== undefined
  return records
    .filter((r) => r.state !== 'revoked')
    .sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0))
    .map((r) => signingKeyView(r, { rotatingKek }))
}

/**
 * @example
 * admin.route('/', manageKeysRoutes(core))
 */
export function manageKeysRoutes(core: Core) {
  const r = new Hono<AppEnv>()

  r.get('/keys', noStore(), async (c) => c.json(listView(await core.keyRing.list(), core)))

  r.post('/keys/rotate', noStore(), async (c) => c.json(listView(await rotateKeys(core, { from: auditContext(c) }), core)))

  r.delete('/keys/:kid', async (c) => {
    const kid = c.req.param('kid')
    if (!KID.test(kid)) throw new ServiceError('not_found', 'No such signing key')
    await revokeKey(core, { kid, from: auditContext(c) })
    return c.body(null, 204)
  })

  return r
}
