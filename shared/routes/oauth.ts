import { Hono, type Context } from 'hono'
import type { AppEnv } from '../app.js'
import type { Core } from '../core.js'
import { OAuthError, ServiceError } from '../errors.js'
import { authenticate } from '../middleware/bearer.js'
import { formBody } from '../middleware/body.js'
import { token } from '../oauth/token.js'
import { InvalidToken } from '../tokens/accessToken.js'

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' }

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

/** /api/oauth2/* — CONTRACT "Tokens". */
export function oauthRoutes(core: Core) {
  const r = new Hono<AppEnv>()

  r.post('/token', async (c) => c.json(await token(core, await oauthForm(c)), 200, NO_STORE))

  // RFC 7009: revoke a refresh token (its session) or an access token (its session). Public
  // first-party clients do not authenticate; an invalid token is not an error (§2.2).
  r.post('/revoke', async (c) => {
    const params = await oauthForm(c)
    const t = params.get('token')
    if (!t) throw new OAuthError('invalid_request', 'token is required')
    const hint = params.get('token_type_hint')
    if (hint && hint !== 'refresh_token' && hint !== 'access_token')
      throw new OAuthError('unsupported_token_type', `token_type_hint ${hint} is not supported`)
    const parts = t.split('.')
    if (parts.length === 3 && !t.startsWith('ey')) {
      const [userId, sessionId] = parts as [string, string, string]
      if (/^[A-Za-z0-9_-]{1,64}$/.test(userId) && /^[A-Za-z0-9_-]{1,64}$/.test(sessionId)) {
        const session = await core.store.getSession(userId, sessionId)
        if (session && (await core.sessions.owns(session, t))) await core.sessions.revoke(session, 'revoked by client')
      }
    } else {
      try {
        const claims = await core.tokens.verify(t, { audiences: core.config.audiences })
        const session = await core.store.getSession(claims.sub, claims.sid)
        if (session) await core.sessions.revoke(session, 'revoked by client')
      } catch (e) {
        if (!(e instanceof InvalidToken)) throw e
      }
    }
    return c.body(null, 200, NO_STORE)
  })

  // RFC 7662: the caller authenticates with a bearer token; it may introspect its own tokens,
  // an admin any token. Anything else is reported inactive.
  r.post('/introspect', async (c) => {
    const caller = await authenticate(core, c)
    const params = await oauthForm(c)
    const t = params.get('token')
    if (!t) throw new OAuthError('invalid_request', 'token is required')
    const inactive = () => c.json({ active: false }, 200, NO_STORE)
    try {
      const claims = await core.tokens.verify(t, { audiences: core.config.audiences })
      const admin = (await core.store.getUser(caller.userId))?.roles.includes('admin') ?? false
      if (!admin && claims.sub !== caller.userId) return inactive()
      const session = await core.store.getSession(claims.sub, claims.sid)
      if (!session || session.revokedAt) return inactive()
      return c.json({ active: true, token_type: 'access_token', ...claims }, 200, NO_STORE)
    } catch (e) {
      if (e instanceof InvalidToken) return inactive()
      throw e
    }
  })

  return r
}
