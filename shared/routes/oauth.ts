import { Hono, type Context } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { authorize, introspection, revocation } from '../audit/audited.js'
import { auditTokenRequest } from '../audit/tokenEvents.js'
import { authorizeOptions } from '../oauth/authorization/complete.js'
import { authorizationEndpoint } from '../oauth/authorization/endpoint.js'
import { OAuthError, ServiceError } from '../errors.js'
import { formBody, header } from '../middleware/body.js'
import { validJson } from '../middleware/validate.js'
import { AuthorizeCompleteRequest, AuthorizeOptionsRequest } from '../schemas/oauth.js'
import { deferCredential } from '../schemas/webauthn.js'
import { noStore } from '../middleware/noStore.js'
import { renderOAuthErrors, type LogError } from '../middleware/onError.js'
import { authorizePageSecurity, PAGE_HEADERS } from '../oauth/authorization/page.js'
import { loadAssets } from '../web/lazyAssets.js'
import { token } from '../oauth/token.js'
import { RESOURCE } from '../oauth/resource.js'
import { authenticateClient } from '../oauth/clientAuth.js'
import { backchannelAuthentication } from '../agents/backchannel.js'
import { auditContext } from '../audit/context.js'

/** RFC 6749 §5.1: token responses, and every JSON answer of these endpoints, are not stored. */
const noStoreToken = () => noStore({ pragma: true })

/** Form body for OAuth endpoints: problems become RFC 6749 §5.2 errors. */
async function oauthForm(c: Context): Promise<Map<string, string>> {
  try {
    return await formBody(c)
  } catch (e) {
    // RFC 8707: one audience per token, so a second `resource` names a target we cannot serve.
    if (e instanceof ServiceError && e.message === `Parameter ${RESOURCE} is repeated`)
      throw new OAuthError('invalid_target', 'resource is repeated: a token has one audience (RFC 8707)')
    if (e instanceof ServiceError && e.code === 'payload_too_large') throw new OAuthError('invalid_request', e.message, 413)
    if (e instanceof ServiceError) throw new OAuthError('invalid_request', e.message)
    throw e
  }
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

  endpoints.post('/token', noStoreToken(), async (c) => {
    const params = await oauthForm(c)
    return c.json(await auditTokenRequest(core, c, params, token(core, params, { authorization: header(c, 'authorization'), dpop: header(c, 'dpop') })))
  })

  // OpenID CIBA (poll mode): an agent asks to act for a person (shared/agents/backchannel.ts).
  endpoints.post('/bc-authorize', noStoreToken(), async (c) => {
    const params = await oauthForm(c)
    const client = await authenticateClient(core, { params, authorization: header(c, 'authorization'), endpoint: 'bc-authorize' })
    return c.json(await backchannelAuthentication(core, { params, client, from: auditContext(c) }))
  })

  // Authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636): the hosted passkey page.
  r.get('/authorize', authorizePageSecurity(), async (c) => {
    const answer = await authorizationEndpoint(core, new URL(c.req.url).searchParams)
    if ('redirect' in answer) return c.body(null, 302, { location: answer.redirect, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' })
    return c.body(answer.page, answer.status, PAGE_HEADERS)
  })

  // web/authorize.ts, bundled (loaded with the other assets on first use).
  r.get('/authorize/app.js', async (c) =>
    c.body((await loadAssets()).AUTHORIZE_JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }),
  )

  r.post('/authorize/options', noStoreToken(), validJson(AuthorizeOptionsRequest), async (c) =>
    c.json(await authorizeOptions(core, c.req.valid('json'))),
  )

  r.post('/authorize/complete', noStoreToken(), validJson(deferCredential(AuthorizeCompleteRequest)), async (c) =>
    c.json(await authorize(core, c, c.req.valid('json'))),
  )

  endpoints.post('/revoke', noStoreToken(), async (c) => {
    await revocation(core, c, await oauthForm(c), header(c, 'authorization'))
    return c.body(null, 200)
  })

  endpoints.post('/introspect', noStoreToken(), async (c) => c.json(await introspection(core, await oauthForm(c), header(c, 'authorization'))))

  r.route('/', endpoints)
  return r
}
