import { Hono } from 'hono'
import type { AppEnv } from '../app.js'
import type { Core } from '../core.js'
import { PAGE_HTML } from '../web/page.js'

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-cache',
  // The page's script is inline and ours; nothing else may run or frame it.
  'content-security-policy':
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
}

/** The sign-up / sign-in page: `/` locally, `/api/ui` through the Functions host. */
export function pageRoutes(_core: Core) {
  const r = new Hono<AppEnv>()
  r.get('/', (c) => c.body(PAGE_HTML, 200, HEADERS))
  r.get('/api/ui', (c) => c.body(PAGE_HTML, 200, HEADERS))
  return r
}
