import { Hono, type Context } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { auditTokenRequest, recordRevocation } from '../audit/tokenEvents.js'
import { OAuthError, ServiceError } from '../errors.js'
import { formBody, header } from '../middleware/body.js'
import { validJson } from '../middleware/validate.js'
import { AuthorizeCompleteRequest, AuthorizeOptionsRequest } from '../schemas/oauth.js'
import { deferCredential } from '../schemas/webauthn.js'
import { noStore } from '../middleware/noStore.js'
import { renderOAuthErrors, type LogError } from '../middleware/onError.js'
import { authenticateClient } from '../oauth/clientAuth.js'
import { checkAuthorizationRequest, AuthorizationError, type CheckContext } from '../oauth/authorization/index.js'
import { authorizeOptions, completeAuthorization } from '../oauth/authorization/complete.js'
import { ceremonyFailed } from '../audit/ceremonies.js'
import { auditContext } from '../audit/context.js'
import { REQUEST_TTL_MS, sealRequest } from '../oauth/authorization/handle.js'
import { APP_JS, errorPage, pageHeaders, signInPage } from '../oauth/authorization/page.js'
import { authorizationResponseUrl } from '../oauth/authorization/redirect.js'
import { introspect } from '../oauth/introspect.js'
import { revoke, TOKEN_TYPE_HINTS } from '../oauth/revoke.js'
import { token } from '../oauth/token.js'

/** RFC 6749 §5.1: token responses, and every JSON answer of these endpoints, are not stored. */
const noStoreToken = () => noStore({ pragma: true })

/** Form body for OAuth endpoints: problems become RFC 6749 §5.2 errors. */
async function oauthForm(c: Context): Promise<Map<string, string>> {
  try {
    return await formBody(c)
  } catch (e) {
    if (e instanceof ServiceError && e.code === 'payload_too_large') throw new OAuthError('invalid_request', e.message, 413)
    if (e instanceof ServiceError) throw new OAuthError('invalid_request', e.message)
    throw e
  }
}

/** `state` to echo on a redirected error: the first value, when it is one we would accept. */
function stateOf(query: URLSearchParams): string | undefined {
  const s = query.get('state')
  return s && s.length <= 512 && /^[\x20-\x7e]*$/.test(s) ? s : undefined
}

/**
 * /api/oauth2/* — CONTRACT "Tokens"; docs/oauth.md. The token, revocation and introspection
 * endpoints answer every error in RFC 6749 §5.2 JSON (their own onError); the authorization
 * endpoint's pages and JSON calls answer as the rest of the app does.
 */
export function oauthRoutes(core: Core, { logError }: { logError: LogError }) {
  const r = new Hono<AppEnv>()
  const endpoints = new Hono<AppEnv>()
  endpoints.onError(renderOAuthErrors(logError))
  const { config, clock } = core

  endpoints.post('/token', noStoreToken(), async (c) => {
    const params = await oauthForm(c)
    return c.json(await auditTokenRequest(core, c, params, token(core, params, { authorization: header(c, 'authorization') })))
  })

  // Authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636): the hosted passkey page.
  r.get('/authorize', async (c) => {
    const query = new URL(c.req.url).searchParams
    const ctx: CheckContext = { query, request: {} }
    try {
      const { client, request } = await checkAuthorizationRequest(core, ctx)
      const handle = await sealRequest(core, { ...request, expiresAt: clock.now() + REQUEST_TTL_MS })
      const cancelUrl = authorizationResponseUrl(request.redirectUri, config.issuer, {
        error: 'access_denied',
        error_description: 'The user cancelled the sign-in',
        state: request.state,
      })
      const html = signInPage({ clientName: client.name, redirectUri: request.redirectUri, handle, cancelUrl, loginHint: request.loginHint })
      return c.body(html, 200, await pageHeaders())
    } catch (e) {
      if (!(e instanceof AuthorizationError)) throw e
      // RFC 6749 §4.1.2.1: never redirect to an unverified client or redirect URI.
      if (!e.redirect || !ctx.request.redirectUri) return c.body(errorPage(e.error, e.message), 400, await pageHeaders())
      const to = authorizationResponseUrl(ctx.request.redirectUri, config.issuer, {
        error: e.error,
        error_description: e.message,
        state: stateOf(query),
      })
      return c.body(null, 302, { location: to, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' })
    }
  })

  r.get('/authorize/app.js', (c) =>
    c.body(APP_JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }),
  )

  r.post('/authorize/options', noStoreToken(), validJson(AuthorizeOptionsRequest), async (c) =>
    c.json(await authorizeOptions(core, c.req.valid('json'))),
  )

  r.post('/authorize/complete', noStoreToken(), validJson(deferCredential(AuthorizeCompleteRequest)), async (c) => {
    const body = c.req.valid('json')
    const { redirect_to, user, session } = await completeAuthorization(core, body).catch(ceremonyFailed(core, c, 'authentication', body))
    await core.audit.record({
      ...auditContext(c),
      type: 'user.signed_in',
      actor: { userId: user.id, username: user.username },
      target: { userId: user.id, username: user.username, sessionId: session.id, ...(session.credentialId ? { credentialId: session.credentialId } : {}) },
      detail: { audience: session.audience, scope: session.scope, amr: session.amr, acr: session.acr, clientId: session.clientId, via: 'authorization_code' },
    })
    return c.json({ redirect_to })
  })

  // RFC 7009. Confidential clients authenticate (private_key_jwt), public clients send client_id,
  // the first-party page sends neither.
  endpoints.post('/revoke', noStoreToken(), async (c) => {
    const params = await oauthForm(c)
    const caller = await authenticateClient(core, { params, authorization: header(c, 'authorization'), endpoint: 'revoke' })
    const t = params.get('token')
    if (!t) throw new OAuthError('invalid_request', 'token is required')
    const hint = params.get('token_type_hint')
    if (hint && !(TOKEN_TYPE_HINTS as readonly string[]).includes(hint))
      throw new OAuthError('unsupported_token_type', `token_type_hint ${hint} is not supported`)
    const since = clock.now()
    await revoke(core, { caller, token: t })
    await recordRevocation(core, c, t, { clientId: caller.clientId, since })
    return c.body(null, 200)
  })

  // RFC 7662, for confidential clients (private_key_jwt).
  endpoints.post('/introspect', noStoreToken(), async (c) => {
    const params = await oauthForm(c)
    const caller = await authenticateClient(core, { params, authorization: header(c, 'authorization'), endpoint: 'introspect' })
    const t = params.get('token')
    if (!t) throw new OAuthError('invalid_request', 'token is required')
    return c.json(await introspect(core, { caller, token: t }))
  })

  r.route('/', endpoints)
  return r
}
