/**
 * scope (RFC 6749 §3.3; default `openid`), state and nonce (opaque, returned / copied unchanged,
 * bounded), prompt (OIDC Core §3.1.2.1: `none` cannot be met since every sign-in here asks for a
 * passkey → login_required), login_hint (pre-fills the username field).
 */
import { ServiceError } from '../../errors.js'
import type { Core } from '../../core.js'
import { parseScope } from '../../webauthn/input.js'
import { allowedScopes, scopeRefusal, ungrantable } from '../scopes.js'
import { AuthorizationError, single, type CheckContext } from './types.js'

const MAX_OPAQUE = 512
const PRINTABLE = /^[\x20-\x7e]*$/
export const PROMPT_VALUES = ['none', 'login', 'consent', 'select_account'] as const

export function checkScope(core: Core, ctx: CheckContext): void {
  for (const name of ['state', 'nonce'] as const) {
    const v = single(ctx, name, true)
    if (v === undefined) continue
    if (v.length > MAX_OPAQUE || !PRINTABLE.test(v))
      throw new AuthorizationError('invalid_request', `${name} must be at most ${MAX_OPAQUE} printable ASCII characters`, true)
    ctx.request[name] = v
  }
  try {
    ctx.request.scope = parseScope(single(ctx, 'scope', true)) ?? 'openid'
  } catch (e) {
    if (e instanceof ServiceError) throw new AuthorizationError('invalid_scope', e.message, true)
    throw e
  }
  // Granted, not echoed: openid, profile and the client's registered scopes (RFC 6749 §4.1.2.1).
  const refused = ungrantable(ctx.request.scope, allowedScopes(core.config, ctx.client))
  if (refused.length) throw new AuthorizationError('invalid_scope', scopeRefusal(refused), true)
  const prompt = single(ctx, 'prompt', true)?.split(' ') ?? []
  if (!prompt.every((p) => (PROMPT_VALUES as readonly string[]).includes(p)))
    throw new AuthorizationError('invalid_request', `prompt must be among ${PROMPT_VALUES.join(', ')}`, true)
  if (prompt.includes('none'))
    throw new AuthorizationError('login_required', 'Signing in needs a passkey: prompt=none cannot be met', true)
  // Met by every sign-in here (a fresh passkey assertion, never an existing session); remembered.
  if (prompt.includes('login')) ctx.request.promptLogin = true
  const hint = single(ctx, 'login_hint', true)
  if (hint !== undefined && hint.length <= 64 && PRINTABLE.test(hint)) ctx.request.loginHint = hint
}
