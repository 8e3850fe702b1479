import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { discovery } from '../oauth/discovery.js'

const metadata = (core: Core) => (c: { json: Function }) =>
  c.json(discovery(core.config, { clientIdMetadataDocuments: core.clientMetadata !== undefined }), 200, { 'cache-control': 'public, max-age=3600' })

/** /api/.well-known/* — OpenID Connect Discovery 1.0, RFC 8414, RFC 7517. */
export function wellKnownRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  const meta = metadata(core)
  r.get('/openid-configuration', (c) => meta(c))
  r.get('/oauth-authorization-server', (c) => meta(c))
  r.get('/jwks.json', async (c) =>
    // Short cache: a new `next` key must reach gateways well within KEY_PUBLISH_AHEAD.
    c.json(await core.keyRing.jwks(), 200, { 'cache-control': 'public, max-age=300' }),
  )
  return r
}

/**
 * RFC 8414 §3: for an issuer with a path (`https://host/api`) the metadata's well-known URL
 * inserts `/.well-known/oauth-authorization-server` between host and path:
 * `https://host/.well-known/oauth-authorization-server/api`; the same for OpenID Connect
 * metadata as RFC 8414 §5 describes (`/.well-known/openid-configuration/api`), which MCP clients
 * also try. Mounted at the root; the path-appended forms under /api are wellKnownRoutes. Azure
 * Functions serves only under its route prefix (`/api`), so there only the path-appended forms
 * answer (docs/oauth.md "Discovery"); the local server serves both.
 */
export function issuerWellKnownRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  const path = new URL(core.config.issuer).pathname.replace(/\/+$/, '')
  if (!path) return r
  const meta = metadata(core)
  r.get(`/.well-known/oauth-authorization-server${path}`, (c) => meta(c))
  r.get(`/.well-known/openid-configuration${path}`, (c) => meta(c))
  return r
}
