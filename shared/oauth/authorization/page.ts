/**
 * The hosted passkey sign-in page of the authorization endpoint and its script.
 *
 * Usernameless first: the button asks for any passkey of this site (discoverable credentials);
 * the username field has `autocomplete="username webauthn"` so browsers that support conditional
 * mediation offer passkeys in its autofill as soon as the page loads. The script is plain DOM,
 * served from our own origin (`…/authorize/app.js`) under `script-src 'self'`; it uses the
 * contract's WebAuthn JSON forms (options in, `PublicKeyCredential.toJSON()` out).
 */
import { sha256 } from '../../util/hash.js'

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

/** Headers of both pages: no script but our own file, no framing, no referrer, never cached. */
export async function pageHeaders(): Promise<Record<string, string>> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; script-src 'self'; style-src ${await styleSource()}; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  }
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

function layout(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
${head}</head>
<body>
<main>
${body}
</main>
</body>
</html>
`
}

/** The sign-in page. `handle` is the sealed authorization request; `cancelUrl` the access_denied redirect. */
export function signInPage({ clientName, redirectUri, handle, cancelUrl, loginHint }: {
  clientName: string
  redirectUri: string
  handle: string
  cancelUrl: string
  loginHint?: string
}): string {
  const host = new URL(redirectUri).host
  return layout(
    `Sign in – ${clientName}`,
    `<h1>Sign in</h1>
<p>to continue to <strong>${esc(clientName)}</strong> <span class="host">(${esc(host)})</span></p>
<form id="signin-form" novalidate>
<label for="username">Username (optional)</label>
<input id="username" name="username" type="text" autocomplete="username webauthn" autocapitalize="none" spellcheck="false" value="${esc(loginHint ?? '')}">
<button id="signin" type="submit">Sign in with a passkey</button>
</form>
<p id="status" role="status" aria-live="polite"></p>
<p><a id="cancel" href="${esc(cancelUrl)}">Cancel and return to the application</a></p>
<noscript><p class="error">Signing in with a passkey needs JavaScript.</p></noscript>`,
    `<meta name="authorization-request" content="${esc(handle)}">
<script src="authorize/app.js" defer></script>
`,
  )
}

/** Shown instead of redirecting when the client or its redirect URI cannot be trusted. */
export function errorPage(error: string, description: string): string {
  return layout(
    'Sign-in request not valid',
    `<h1>This sign-in request is not valid</h1>
<p class="error">${esc(description)}</p>
<p>Error: <code>${esc(error)}</code>. Go back to the application and start again.</p>`,
  )
}

/** GET /api/oauth2/authorize/app.js */
export const APP_JS = `'use strict';
(() => {
  const handle = document.querySelector('meta[name="authorization-request"]').content
  const form = document.getElementById('signin-form')
  const input = document.getElementById('username')
  const button = document.getElementById('signin')
  const status = document.getElementById('status')
  const say = (text, error) => {
    status.textContent = text
    status.className = error ? 'error' : ''
  }
  const toBytes = (s) => {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/')
    return Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0))
  }
  const toB64u = (buf) => {
    let s = ''
    for (const b of new Uint8Array(buf)) s += String.fromCharCode(b)
    return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '')
  }
  // WebAuthn Level 3 JSON forms, with a fallback for browsers without them.
  const requestOptions = (json) =>
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function'
      ? PublicKeyCredential.parseRequestOptionsFromJSON(json)
      : Object.assign({}, json, {
          challenge: toBytes(json.challenge),
          allowCredentials: (json.allowCredentials || []).map((c) => Object.assign({}, c, { id: toBytes(c.id) })),
        })
  const credentialJson = (cred) => {
    if (typeof cred.toJSON === 'function') {
      try {
        return cred.toJSON()
      } catch (e) {}
    }
    const r = cred.response
    return {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      response: {
        clientDataJSON: toB64u(r.clientDataJSON),
        authenticatorData: toB64u(r.authenticatorData),
        signature: toB64u(r.signature),
        userHandle: r.userHandle ? toB64u(r.userHandle) : undefined,
      },
      clientExtensionResults: cred.getClientExtensionResults(),
    }
  }
  const post = async (path, body) => {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const data = await res.json().catch(() => ({}))
    if (!res.ok) throw new Error(data.detail || data.title || 'The request failed (' + res.status + ')')
    return data
  }

  let running = null
  const signIn = async (conditional) => {
    if (running) running.abort()
    const controller = new AbortController()
    running = controller
    const username = conditional ? '' : input.value.trim()
    const { options, request } = await post('authorize/options', username ? { request: handle, username } : { request: handle })
    const credential = await navigator.credentials.get({
      publicKey: requestOptions(options),
      mediation: conditional ? 'conditional' : 'optional',
      signal: controller.signal,
    })
    if (!credential) return
    button.disabled = true
    say('Signing in…')
    const { redirect_to } = await post('authorize/complete', { request, credential: credentialJson(credential) })
    location.assign(redirect_to)
  }
  const failed = (e) => {
    button.disabled = false
    if (e && e.name === 'AbortError') return
    if (e && e.name === 'NotAllowedError') return say('Sign-in was cancelled or timed out. Try again.', true)
    say(e && e.message ? e.message : String(e), true)
  }

  if (!window.PublicKeyCredential || !navigator.credentials) {
    button.disabled = true
    say('This browser does not support passkeys.', true)
    return
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    say('')
    signIn(false).catch(failed)
  })
  // Autofill: offer passkeys in the username field where conditional mediation is supported.
  if (typeof PublicKeyCredential.isConditionalMediationAvailable === 'function')
    PublicKeyCredential.isConditionalMediationAvailable().then((ok) => ok && signIn(true).catch(failed), () => {})
})()
`
