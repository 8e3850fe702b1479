/**
 * The page and its assets as the app serves them, in both places (`/` locally, `/api/ui` behind
 * the Functions host), and the committed shared/web/assets.generated.json against a fresh build of
 * web/. No browser needed: these run everywhere.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { buildWebAssets, GENERATED } from '../../web/build.mjs'
import * as generated from '../../shared/web/assets.js'
import { createApp } from '../../shared/app.js'
import { AUTHORIZE_JS as authorizePageJs } from '../../shared/web/assets.js'
import { loadConfig } from '../../shared/config.js'
import { createMemoryStore } from '../../shared/store/memory.js'

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64')

function app(env: Record<string, string> = {}, local = true) {
  const config = loadConfig(
    {
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ...(local
        ? {}
        : {
            RP_ID: 'id.example.com',
            ALLOWED_ORIGINS: 'https://id.example.com',
            ISSUER: 'https://id.example.com/api',
            TABLES_ENDPOINT: 'https://acct.table.core.windows.net',
          }),
      ...env,
    },
    { local },
  )
  return createApp({ config, store: createMemoryStore() })
}

describe(`${GENERATED} (built from web/ by scripts/build.mjs)`, () => {
  it('should match a fresh build of web/ (run `npm run build` and commit the file when this fails)', async () => {
    const fresh = await buildWebAssets()
    const stale = 'is stale: run `npm run build` (or `node scripts/build.mjs`) and commit it'
    assert.ok(generated.APP_JS === fresh.js, `${GENERATED} APP_JS ${stale}`)
    assert.ok(generated.APP_CSS === fresh.css, `${GENERATED} APP_CSS ${stale}`)
    assert.equal(generated.APP_JS_SHA256, fresh.jsSha256, `${GENERATED} ${stale}`)
    assert.equal(generated.APP_CSS_SHA256, fresh.cssSha256, `${GENERATED} ${stale}`)
  })

  it('should hold a fresh build of web/authorize.ts (the hosted OAuth page), served as is', async () => {
    const fresh = await buildWebAssets()
    assert.ok(generated.AUTHORIZE_JS === fresh.authorizeJs, `${GENERATED} authorize.js is stale: run \`npm run build\``)
    assert.equal(authorizePageJs, generated.AUTHORIZE_JS)
  })

  it('should carry the SHA-256 of its own strings (SRI)', () => {
    assert.equal(generated.APP_JS_SHA256, sha256(generated.APP_JS))
    assert.equal(generated.APP_CSS_SHA256, sha256(generated.APP_CSS))
  })

  it('should be deterministic: two builds give the same module', async () => {
    const [a, b] = await Promise.all([buildWebAssets(), buildWebAssets()])
    assert.equal(a.source, b.source)
  })
})

describe('GET / and /api/ui: the page (CSP: own script and style only)', () => {
  for (const [path, assets] of [
    ['/', '/assets'],
    ['/api/ui', '/api/ui/assets'],
    ['/api/ui/', '/api/ui/assets'],
  ] as const) {
    it(`${path} → HTML whose assets live under ${assets}, with SRI`, async () => {
      const res = await app().request(path)
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8')
      const html = await res.text()
      const script = html.match(/<script defer src="([^"]+)" integrity="sha256-([^"]+)"><\/script>/)
      assert.ok(script, 'one external script')
      assert.ok(script[1]!.startsWith(`${assets}/app.js?v=`))
      assert.equal(script[2], generated.APP_JS_SHA256)
      const style = html.match(/<link rel="stylesheet" href="([^"]+)" integrity="sha256-([^"]+)">/)
      assert.ok(style)
      assert.ok(style[1]!.startsWith(`${assets}/app.css?v=`))
      assert.equal(style[2], generated.APP_CSS_SHA256)
      assert.equal((html.match(/<script/g) ?? []).length, 1, 'no inline script')
      assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or handlers')
      assert.match(html, /<input id="sign-in-username"[^>]*autocomplete="username webauthn"/)
    })
  }

  it('sends a strict CSP: script-src and style-src self, no unsafe-*, Trusted Types, the gateway for connect-src', async () => {
    const res = await app({ PORT: '7100' }).request('/')
    const csp = res.headers.get('content-security-policy') ?? ''
    const directives = new Map(
      csp.split(/;\s*/).map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]),
    )
    assert.equal(directives.get('default-src'), "'none'")
    assert.equal(directives.get('script-src'), "'self'")
    assert.equal(directives.get('style-src'), "'self'")
    assert.equal(
      directives.get('connect-src'),
      "'self' http://localhost:7101",
      'the dev gateway on PORT + 1',
    )
    assert.equal(directives.get('frame-ancestors'), "'none'")
    assert.equal(directives.get('require-trusted-types-for'), "'script'")
    assert.doesNotMatch(csp, /unsafe/)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    const html = await res.text()
    assert.match(html, /<meta name="passkey-edge:gateway" content="http:\/\/localhost:7101">/)
    assert.match(html, /<meta name="passkey-edge:rp-id" content="localhost">/)
  })

  it('names GATEWAY_PORT when set, and no gateway outside local runs', async () => {
    const local = await app({ GATEWAY_PORT: '9000' }).request('/api/ui')
    assert.match(
      local.headers.get('content-security-policy') ?? '',
      /connect-src 'self' http:\/\/localhost:9000;/,
    )
    const azure = await app({}, false).request('/api/ui')
    assert.equal(azure.status, 200)
    assert.match(azure.headers.get('content-security-policy') ?? '', /connect-src 'self';/)
    assert.doesNotMatch(await azure.text(), /passkey-edge:gateway/)
  })
})

describe('GET /assets/app.{js,css} and /api/ui/assets/app.{js,css}', () => {
  for (const base of ['/assets', '/api/ui/assets']) {
    it(`${base}: the generated assets with their types, ETag and caching`, async () => {
      const a = app()
      const js = await a.request(`${base}/app.js`)
      assert.equal(js.status, 200)
      assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8')
      assert.equal(js.headers.get('cache-control'), 'no-cache', 'unversioned: revalidate')
      const body = await js.text()
      assert.equal(body, generated.APP_JS)
      assert.equal(sha256(body), generated.APP_JS_SHA256, 'the bytes match the integrity attribute')

      const css = await a.request(
        `${base}/app.css?v=${encodeURIComponent(generated.APP_CSS_SHA256.slice(0, 12))}`,
      )
      assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8')
      assert.equal(
        css.headers.get('cache-control'),
        'public, max-age=31536000, immutable',
        'versioned: cached for good',
      )
      assert.equal(await css.text(), generated.APP_CSS)

      const again = await a.request(`${base}/app.js`, {
        headers: { 'if-none-match': js.headers.get('etag')! },
      })
      assert.equal(again.status, 304)
      assert.equal(await again.text(), '')
    })
  }

  it('other paths under /assets are 404 problems', async () => {
    const res = await app().request('/assets/nope.js')
    assert.equal(res.status, 404)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
  })
})
