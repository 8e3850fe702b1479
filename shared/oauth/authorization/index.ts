/**
 * GET /api/oauth2/authorize: the authorization request (RFC 6749 §4.1.1 + RFC 7636 + OIDC Core
 * §3.1.2) as a chain of checks, in this order. The first two decide whether errors may be
 * redirected at all: until the client and its redirect URI are known good they are shown on our
 * page (RFC 6749 §4.1.2.1); after that they go back to the client.
 *
 * | check              | enforces                                                          |
 * | ------------------ | ----------------------------------------------------------------- |
 * | checkClient        | client_id registered, public                                      |
 * | checkRedirectUri   | redirect_uri registered (exact; loopback any port)                |
 * | checkResource      | resource: once, one of AUDIENCES (RFC 8707) → invalid_target        |
 * | checkParameters    | no request objects, no repeated parameters                        |
 * | checkResponseType  | response_type=code, response_mode=query                           |
 * | checkPkce          | code_challenge + S256                                             |
 * | checkScope         | scope, state, nonce, prompt, login_hint                           |
 * | checkAuthentication| max_age, acr_values (OIDC Core §3.1.2.1, RFC 9470 §4)             |
 */
import type { Core } from '../../core.js'
import { checkAuthentication } from './checkAuthentication.js'
import { checkClient } from './checkClient.js'
import { checkParameters } from './checkParameters.js'
import { checkPkce } from './checkPkce.js'
import { checkRedirectUri } from './checkRedirectUri.js'
import { checkResource } from './checkResource.js'
import { checkResponseType } from './checkResponseType.js'
import { checkScope } from './checkScope.js'
import type { AuthorizationRequest, CheckContext } from './types.js'
import type { ClientRecord } from '../../store/types.js'

const CHECKS: ((core: Core, ctx: CheckContext) => void | Promise<void>)[] = [
  checkClient,
  (_, ctx) => checkRedirectUri(ctx),
  checkResource,
  (_, ctx) => checkParameters(ctx),
  (_, ctx) => checkResponseType(ctx),
  (_, ctx) => checkPkce(ctx),
  checkScope,
  (_, ctx) => checkAuthentication(ctx),
]

/**
 * Runs the checks; throws AuthorizationError (with `redirect` telling where the error may go).
 * On a redirectable error, `ctx.request.redirectUri` and `state` are set for the redirect.
 *
 * @example
 * const ctx = { query: new URL(c.req.url).searchParams, request: {} }
 * const { client, request } = await checkAuthorizationRequest(core, ctx)
 */
export async function checkAuthorizationRequest(
  core: Core,
  ctx: CheckContext,
): Promise<{ client: ClientRecord; request: AuthorizationRequest }> {
  for (const check of CHECKS) await check(core, ctx)
  return { client: ctx.client!, request: ctx.request as AuthorizationRequest }
}

export { AuthorizationError, type AuthorizationRequest, type CheckContext } from './types.js'
