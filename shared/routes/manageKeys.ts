/**
 * /api/manage/keys — CONTRACT "Administration": token signing keys (role admin).
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
import { auditContext, setAuditActor } from '../audit/context.js'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { requireRole } from '../middleware/requireRole.js'
import { ConcurrencyError, type SigningKeyRecord } from '../store/types.js'

const NO_STORE = { 'cache-control': 'no-store' }
const ADMIN = 'admin'
/** RFC 7638 thumbprints are 43 base64url characters; leave room for kids of other origins. */
const KID = /^[A-Za-z0-9_-]{1,128}$/

/** CONTRACT "Administration": `{ kid, alg, state, createdAt, activatesAt, retiredAt?, expiresAt? }`. */
export interface SigningKeyView {
  kid: string
  alg: string
  state: SigningKeyRecord['state']
  createdAt: string
  activatesAt: string
  retiredAt?: string
  expiresAt?: string
}

const iso = (ms: number) => new Date(ms).toISOString()

export function signingKeyView(r: SigningKeyRecord): SigningKeyView {
  return {
    kid: r.kid,
    alg: r.alg,
    state: r.state,
    createdAt: iso(r.createdAt),
    activatesAt: iso(r.activatesAt),
    ...(r.retiredAt !== undefined ? { retiredAt: iso(r.retiredAt) } : {}),
    ...(r.expiresAt !== undefined ? { expiresAt: iso(r.expiresAt) } : {}),
  }
}

/**
 * Newest first (by creation, then kid). CONTRACT lists the states `next`, `active` and
 * `retired`: a revoked key is gone (from the JWKS and from this list; the audit log keeps it).
 */
function listView(records: SigningKeyRecord[]): SigningKeyView[] {
  return records
    .filter((r) => r.state !== 'revoked')
    .sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0))
    .map(signingKeyView)
}

/** Another instance kept changing the keys through every retry: the caller may repeat. */
function conflict(e: unknown): never {
  if (e instanceof ConcurrencyError)
    throw new ServiceError('conflict', 'The signing keys changed concurrently; repeat the request', { cause: e })
  throw e
}

/**
 * @example
 * app.route('/api/manage', manageKeysRoutes(core))
 */
export function manageKeysRoutes(core: Core) {
  const { keyRing, authz } = core
  const r = new Hono<AppEnv>()

  r.get('/keys', async (c) => {
    await requireRole(core, c, ADMIN)
    return c.json(listView(await keyRing.list()), 200, NO_STORE)
  })

  r.post('/keys/rotate', async (c) => {
    setAuditActor(c, await requireRole(core, c, ADMIN))
    const { records, signing } = await keyRing.rotateNow().catch(conflict)
    if (signing.after && signing.after !== signing.before)
      await core.audit.record({
        ...auditContext(c),
        type: 'key.rotated',
        target: { kid: signing.after },
        detail: { previousKid: signing.before ?? null, reason: 'forced' },
      })
    return c.json(listView(records), 200, NO_STORE)
  })

  r.delete('/keys/:kid', async (c) => {
    setAuditActor(c, await requireRole(core, c, ADMIN))
    const kid = c.req.param('kid')
    if (!KID.test(kid)) throw new ServiceError('not_found', 'No such signing key')
    const { found, signing } = await keyRing.revoke(kid).catch(conflict)
    if (!found) throw new ServiceError('not_found', 'No such signing key')
    authz.forgetKid(kid) // at once on this instance (the key ring already reloaded)
    await core.audit.record({
      ...auditContext(c),
      type: 'key.revoked',
      target: { kid },
      detail: signing.after !== signing.before ? { promotedKid: signing.after ?? null } : {},
    })
    return c.body(null, 204)
  })

  return r
}
