/**
 * The hosted passkey sign-in page of the authorization endpoint and its script.
 *
 * Usernameless first: the button asks for any passkey of this site (discoverable credentials);
 * the username field has `autocomplete="username webauthn"` so browsers that support conditional
 * mediation offer passkeys in its autofill as soon as the page loads. The script is
 * web/authorize.ts, built with the rest of web/ by web/build.mjs and served from our own origin
 * (`…/authorize/app.js`) under `script-src 'self'`.
 */
import { sha256 } from '../../util/hash.js'
import type { MiddlewareHandler } from 'hono'
import { html, markup, raw, type Fragment } from '../../web/html.js'
import { pageSecurity } from '../../web/security.js'
import { isMetadataDocumentClientId } from '../clientMetadata.js'

export const STYLE = `
:root{color-scheme:light dark;font-family:system-ui,sans-serif}
body{margin:0;display:grid;place-items:center;min-height:100vh}
main{max-width:24rem;padding:2rem}
h1{font-size:1.5rem;margin:0 0 .5rem}
label{display:block;margin:1rem 0 .25rem}
input,button{font:inherit;width:100%;box-sizing:border-box;padding:.6rem}
button{margin-top:1rem;cursor:pointer}
.host{opacity:.7;font-size:.9em}
.error{color:#c62828}
`

let styleHash: Promise<string> | undefined
/** CSP source for the inline style: its SHA-256 (CSP Level 3 hash-source). */
function styleSource(): Promise<string> {
  styleHash ??= sha256(STYLE).then((d) => `'sha256-${btoa(String.fromCharCode(...d))}'`)
  return styleHash
}

/** Content type and caching of both pages (their security headers: `authorizePageSecurity`). */
export const PAGE_HEADERS = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } as const

let security: Promise<MiddlewareHandler> | undefined
/**
 * Security headers of both pages: no script but our own file, the inline style by its hash, no
 * framing, no referrer. Built once, on first use (the style's hash is computed asynchronously).
 */
export function authorizePageSecurity(): MiddlewareHandler {
  security ??= styleSource().then((style) =>
    pageSecurity({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: [style],
        connectSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
      xFrameOptions: 'DENY',
    }),
  )
  return async (c, next) => (await security!)(c, next)
}

function layout(title: string, body: Fragment, head: Fragment | '' = ''): string {
  return markup(html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${raw(STYLE)}</style>
${head}</head>
<body>
<main>
${body}
</main>
</body>
</html>
`)
}

/** The sign-in page. `handle` is the sealed authorization request; `cancelUrl` the access_denied redirect. */
export function signInPage({ clientName, clientId, redirectUri, handle, cancelUrl, loginHint, resource, scope }: {
  clientName: string
  clientId: string
  redirectUri: string
  handle: string
  cancelUrl: string
  loginHint?: string
  /** RFC 8707: the API the token is for, when the client named one. */
  resource?: string
  /** The scopes asked for (shown as what the sign-in approves). */
  scope?: string
}): string {
  // A client ID metadata document's client: its host is its identity (the document's URL).
  const unregistered = isMetadataDocumentClientId(clientId)
  const host = new URL(unregistered ? clientId : redirectUri).host
  return layout(
    `Sign in – ${clientName}`,
    html`<h1>Sign in</h1>
<p>to continue to <strong id="client-name">${clientName}</strong> <span class="host" id="client-host">(${host})</span></p>
${unregistered ? html`<p class="error" id="unregistered">This app is not registered by your administrator: it describes itself at ${clientId}. Continue only if you trust ${host}.</p>` : ''}
${resource ? html`<p>It asks for access to <code id="resource">${resource}</code>.</p>` : ''}
${scope ? html`<p id="consent">Signing in with your passkey approves: <code id="scope">${scope}</code>. You can withdraw this on your account page.</p>` : ''}
<form id="signin-form" novalidate>
<label for="username">Username (optional)</label>
<input id="username" name="username" type="text" autocomplete="username webauthn" autocapitalize="none" spellcheck="false" value="${loginHint ?? ''}">
<button id="signin" type="submit">Sign in with a passkey</button>
</form>
<p id="status" role="status" aria-live="polite"></p>
<p><a id="cancel" href="${cancelUrl}">Cancel and return to the application</a></p>
<noscript><p class="error">Signing in with a passkey needs JavaScript.</p></noscript>`,
    html`<meta name="authorization-request" content="${handle}">
<script src="authorize/app.js" defer></script>
`,
  )
}

/** Shown instead of redirecting when the client or its redirect URI cannot be trusted. */
export function errorPage(error: string, description: string): string {
  return layout(
    'Sign-in request not valid',
    html`<h1>This sign-in request is not valid</h1>
<p class="error">${description}</p>
<p>Error: <code>${error}</code>. Go back to the application and start again.</p>`,
  )
}
