import { Hono, type Context } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { loadAssets, type Assets } from '../web/lazyAssets.js'
import { renderPage } from '../web/page.js'
import { pageSecurity, type PageSecurity } from '../web/security.js'

/**
 * Where the page lives. Locally at `/` with its assets under `/assets`; behind the Functions host
 * (which serves `/` itself and routes only `/api/ui/{*rest}` to the `page` function) at `/api/ui`
 * with its assets under `/api/ui/assets`. Both are served by both runtimes.
 */
const MOUNTS = [
  { paths: ['/'], assetBase: '/assets' },
  { paths: ['/api/ui', '/api/ui/'], assetBase: '/api/ui/assets' },
] as const

/**
 * The page's Content-Security-Policy: only its own script and stylesheet run (no inline code,
 * no eval), Trusted Types enforced for DOM sinks, fetches to the service and the gateway only,
 * never framed.
 */
export function pageCsp(gatewayUrl: string | undefined) {
  return {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'", ...(gatewayUrl ? [new URL(gatewayUrl).origin] : [])],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
    requireTrustedTypesFor: ["'script'"],
    trustedTypes: ["'none'"],
  }
}

/**
 * The gateway the page calls for the sample API: GATEWAY_URL (in Azure, the APIM base URL);
 * locally by default the dev gateway (APIM stand-in) on GATEWAY_PORT; otherwise none.
 */
export function gatewayUrlFor(config: Core['config']): string | undefined {
  return config.gatewayUrl
}

interface Asset {
  body: string
  sha256: string
  type: string
}

/** The two files the page links, from the lazily loaded assets. */
function pageAssets(a: Assets): Record<'app.js' | 'app.css', Asset> {
  return {
    'app.js': { body: a.APP_JS, sha256: a.APP_JS_SHA256, type: 'text/javascript; charset=utf-8' },
    'app.css': { body: a.APP_CSS, sha256: a.APP_CSS_SHA256, type: 'text/css; charset=utf-8' },
  }
}

/** The sign-up / sign-in / self-service page and its assets: `/` locally, `/api/ui` through the Functions host. */
export function pageRoutes(core: Core) {
  const { config } = core
  const gatewayUrl = gatewayUrlFor(config)
  const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }
  // Passkeys from this page only; no camera, microphone or location for anyone.
  const security = pageSecurity({
    contentSecurityPolicy: pageCsp(gatewayUrl),
    crossOriginOpenerPolicy: 'same-origin',
    // publickey-credentials-create (WebAuthn L3 §5.10) is not in hono's directive list yet; the
    // header is written from the names all the same.
    permissionsPolicy: { publickeyCredentialsGet: ['self'], publickeyCredentialsCreate: ['self'], camera: [], microphone: [], geolocation: [] } as PageSecurity['permissionsPolicy'],
  })
  const r = new Hono<AppEnv>()
  // Rendered once per mount, on the first request that needs the assets.
  let built: Promise<{ html: string[]; files: Record<'app.js' | 'app.css', Asset> }> | undefined
  const page = () =>
    (built ??= loadAssets().then((a) => {
      const files = pageAssets(a)
      const assets = { jsSha256: files['app.js'].sha256, cssSha256: files['app.css'].sha256 }
      const html = MOUNTS.map(({ assetBase }) => renderPage({ assetBase, gatewayUrl, rpId: config.rpId, decisionTtl: config.authzCacheTtl, assets }))
      return { html, files }
    }))
  MOUNTS.forEach(({ paths, assetBase }, i) => {
    for (const path of paths) r.get(path, security, async (c) => c.body((await page()).html[i]!, 200, headers))
    for (const name of ['app.js', 'app.css'] as const)
      r.get(`${assetBase}/${name}`, async (c) => serveAsset(c, (await page()).files[name]))
  })
  return r
}

function serveAsset(c: Context<AppEnv>, asset: Asset) {
  const etag = `"${asset.sha256}"`
  // A URL carrying the current version (`?v=`, as the page links it) never changes: cache it for
  // good. Anything else is revalidated.
  const versioned = c.req.query('v') === asset.sha256.slice(0, 12)
  const headers = {
    'content-type': asset.type,
    'cache-control': versioned ? 'public, max-age=31536000, immutable' : 'no-cache',
    etag,
    'cross-origin-resource-policy': 'same-origin',
  }
  if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers)
  return c.body(asset.body, 200, headers)
}
