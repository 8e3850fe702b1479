/**
 * GET /oauth2/authorize (RFC 6749 §4.1, RFC 7636): the hosted passkey page for a valid request,
 * an error page when the client or redirect URI cannot be trusted (§4.1.2.1: never redirect
 * there), else a redirect back with `error`, `state` and `iss`.
 */
import type { Core } from '../../core.js'
import { REQUEST_TTL_MS, sealRequest } from './handle.js'
import { checkAuthorizationRequest, AuthorizationError, type CheckContext } from './index.js'
import { errorPage, signInPage } from './page.js'
import { authorizationResponseUrl } from './redirect.js'

export type AuthorizationAnswer = { page: string; status: 200 | 400 } | { redirect: string }

/** `state` to echo on a redirected error: the first value, when it is one we would accept. */
function stateOf(query: URLSearchParams): string | undefined {
  const s = query.get('state')
  return s && s.length <= 512 && /^[\x20-\x7e]*$/.test(s) ? s : undefined
}

export async function authorizationEndpoint(core: Core, query: URLSearchParams): Promise<AuthorizationAnswer> {
  const { config, clock } = core
  const ctx: CheckContext = { query, request: {} }
  try {
    const { client, request } = await checkAuthorizationRequest(core, ctx)
    const handle = await sealRequest(core, { ...request, expiresAt: clock.now() + REQUEST_TTL_MS })
    const cancelUrl = authorizationResponseUrl(request.redirectUri, config.issuer, {
      error: 'access_denied',
      error_description: 'The user cancelled the sign-in',
      state: request.state,
    })
    return { page: signInPage({ clientName: client.name, clientId: client.id, redirectUri: request.redirectUri, handle, cancelUrl, loginHint: request.loginHint, resource: request.resource, scope: request.scope }), status: 200 }
  } catch (e) {
    if (!(e instanceof AuthorizationError)) throw e
    if (!e.redirect || !ctx.request.redirectUri) return { page: errorPage(e.error, e.message), status: 400 }
    return {
      redirect: authorizationResponseUrl(ctx.request.redirectUri, config.issuer, { error: e.error, error_description: e.message, state: stateOf(query) }),
    }
  }
}
