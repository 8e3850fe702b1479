/**
 * Re-authentication for account changes (CONTRACT v2 "Security refinements"): adding, renaming
 * or deleting a passkey (and deleting the account) needs a token whose `auth_time` is within
 * REAUTH_MAX_AGE seconds. A refreshed token keeps the `auth_time` of its sign-in, so a stolen
 * refresh token alone can keep an account's API access alive until the session ends, but can no
 * longer turn into permanent control of the account by planting a passkey (docs/security.md).
 *
 * Older → 401 problem `insufficient_user_authentication` with the RFC 9470 §3 challenge
 * `WWW-Authenticate: Bearer error="insufficient_user_authentication", …, max_age=<n>`, and an
 * audit event `account.change_refused`. A fresh passkey sign-in is the step-up.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { Core } from '../core.js'
import type { AppEnv } from '../env.js'
import { auditContext } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { seconds } from '../util/clock.js'
import type { Principal } from './bearer.js'

/** What the account change is, for the audit event and the message. */
export type AccountChange = 'passkey.add' | 'passkey.rename' | 'passkey.delete' | 'account.delete'

/** RFC 9470 §3 challenge for a sign-in that is too old. */
export function reauthChallenge(maxAge: number): string {
  // Exactly as CONTRACT v2 "Re-authentication for account changes" writes it.
  return `Bearer error="insufficient_user_authentication", max_age=${maxAge}`
}

/**
 * Refuses with 401 `insufficient_user_authentication` (after recording the refusal) unless the
 * caller's sign-in (`c.var.principal`, so after requireBearer) is at most REAUTH_MAX_AGE seconds
 * old. A token without `auth_time` never meets it. A request with neither a principal nor a token
 * (signing up, behind an optional bearer) has no sign-in to renew and goes on.
 *
 * @example
 * r.patch('/credentials/:id', requireBearer(core, { firstParty: true }), requireRecentSignIn(core, 'passkey.rename'), handler)
 */
export function requireRecentSignIn(core: Core, change: AccountChange): MiddlewareHandler<AppEnv> {
  return async function requireRecentSignIn(c, next) {
    const principal = c.var.principal
    if (!principal) {
      // Fail closed when mounted without the bearer middleware: a token that nobody checked.
      if (c.req.header('authorization')) throw new TypeError('requireRecentSignIn runs after requireBearer')
      return next()
    }
    await checkRecentSignIn(core, c, principal, change)
    await next()
  }
}

async function checkRecentSignIn(core: Core, c: Context, principal: Principal, change: AccountChange): Promise<void> {
  const maxAge = core.config.reauthMaxAge
  const authTime = principal.claims.auth_time
  const age = typeof authTime === 'number' ? seconds(core.clock.now()) - authTime : undefined
  if (age !== undefined && age <= maxAge) return
  await core.audit.record({
    ...auditContext(c),
    type: 'account.change_refused',
    outcome: 'failure',
    actor: { userId: principal.userId },
    target: { userId: principal.userId, sessionId: principal.sessionId },
    detail: { change, code: 'insufficient_user_authentication', signInAge: age ?? null, maxAge },
  })
  throw new ServiceError(
    'insufficient_user_authentication',
    `This change needs a sign-in within the last ${maxAge} seconds; sign in again with a passkey and retry`,
    { headers: { 'www-authenticate': reauthChallenge(maxAge) } },
  )
}
