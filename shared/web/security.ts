/**
 * Security headers of the HTML pages, through hono/secure-headers: each page names what it sends
 * (CSP, framing, referrer, opener, permissions) and nothing else is added. The app sets
 * `X-Content-Type-Options` for every response itself (shared/app.ts); HSTS belongs to the front
 * end that terminates TLS (App Service, APIM), not to a page that also runs on plain localhost.
 */
import type { MiddlewareHandler } from 'hono'
import { secureHeaders, type SecureHeadersVariables } from 'hono/secure-headers'

type Options = NonNullable<Parameters<typeof secureHeaders>[0]>
/** What a page asks for: its CSP and the few other headers it sends. */
export type PageSecurity = Pick<Options, 'contentSecurityPolicy' | 'xFrameOptions' | 'crossOriginOpenerPolicy' | 'permissionsPolicy'>

/** Every header secureHeaders would add by default, switched off: a page opts in to each. */
const NONE: Options = {
  crossOriginEmbedderPolicy: false,
  crossOriginResourcePolicy: false,
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  strictTransportSecurity: false,
  xContentTypeOptions: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
  removePoweredBy: false,
}

/** The page's headers, always with `Referrer-Policy: no-referrer` (URLs may carry codes or state). */
export function pageSecurity(page: PageSecurity): MiddlewareHandler<{ Variables: SecureHeadersVariables }> {
  return secureHeaders({ ...NONE, referrerPolicy: 'no-referrer', ...page })
}
