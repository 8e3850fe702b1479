import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { ADMIN_ROLE } from '../admin/roles.js'
import { requireRole } from '../middleware/requireRole.js'
import { manageRoutes } from './manage.js'
import { manageAuditRoutes } from './manageAudit.js'
import { manageAuthenticatorsRoutes } from './manageAuthenticators.js'
import { manageClientsRoutes } from './manageClients.js'
import { manageInvitationsRoutes } from './manageInvitations.js'
import { manageKeysRoutes } from './manageKeys.js'
import { manageUsersRoutes } from './manageUsers.js'
import { adminSessionsRoutes } from './sessions.js'

/**
 * /api/manage/* — CONTRACT "Administration": every sub-router behind one guard, role admin read
 * live. The guard runs for any path under the prefix, so a caller without the role learns nothing
 * of which routes exist (401/403 before a 404).
 *
 * @example
 * app.route('/api/manage', adminRoutes(core))
 */
export function adminRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  r.use('*', requireRole(core, ADMIN_ROLE))
  r.route('/', manageKeysRoutes(core))
  r.route('/', manageAuthenticatorsRoutes(core))
  r.route('/', manageAuditRoutes(core))
  r.route('/', manageClientsRoutes(core))
  r.route('/', manageUsersRoutes(core))
  r.route('/', manageInvitationsRoutes(core))
  r.route('/', adminSessionsRoutes(core))
  r.route('/', manageRoutes(core))
  return r
}
