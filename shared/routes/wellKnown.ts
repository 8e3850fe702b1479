import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { discovery } from '../oauth/discovery.js'

/** /api/.well-known/* — OpenID Connect Discovery 1.0, RFC 8414, RFC 7517. */
export function wellKnownRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  const meta = (c: { json: Function }) => c.json(discovery(core.config, { clientIdMetadataDocuments: core.clientMetadata !== undefined }), 200, { 'cache-control': 'public, max-age=3600' })
  r.get('/openid-configuration', (c) => meta(c))
  r.get('/oauth-authorization-server', (c) => meta(c))
  r.get('/jwks.json', async (c) =>
    // Short cache: a new `next` key must reach gateways well within KEY_PUBLISH_AHEAD.
    c.json(await core.keyRing.jwks(), 200, { 'cache-control': 'public, max-age=300' }),
  )
  return r
}
