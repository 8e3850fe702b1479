/**
 * The hosted OAuth sign-in page (GET /api/oauth2/authorize, markup in
 * shared/oauth/authorization/page.ts), served as `…/authorize/app.js` under `script-src 'self'`.
 *
 * Usernameless first: the button asks for any passkey of this site; where conditional mediation
 * is supported, the username field's autofill offers passkeys as soon as the page loads. It uses
 * the contract's WebAuthn JSON forms (options in, `PublicKeyCredential.toJSON()` out), with a
 * fallback for browsers that lack them.
 *
 * Its own small `post` rather than web/http.ts: the page may be served under any path prefix, so
 * it calls `authorize/options` and `authorize/complete` relative to itself, and it shows the
 * problem's `detail` (or `title`) as is.
 */
import {
  base64URLStringToBuffer,
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  bufferToBase64URLString,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser'
import { byId } from './dom.js'

/** POST …/authorize/options answers this: the ceremony's options and the request bound to them. */
interface AuthorizeOptions {
  options: PublicKeyCredentialRequestOptionsJSON
  request: string
}

/** WebAuthn Level 3 statics that older DOM typings and browsers may lack. */
type PublicKeyCredentialStatics = typeof PublicKeyCredential & {
  parseRequestOptionsFromJSON?: (json: PublicKeyCredentialRequestOptionsJSON) => PublicKeyCredentialRequestOptions
}

const handle = document.querySelector<HTMLMetaElement>('meta[name="authorization-request"]')!.content
const form = byId<HTMLFormElement>('signin-form')
const input = byId<HTMLInputElement>('username')
const button = byId<HTMLButtonElement>('signin')
const status = byId('status')

function say(text: string, error = false): void {
  status.textContent = text
  status.className = error ? 'error' : ''
}

/** The options JSON as the browser takes them: Level 3 parser where there is one. */
function requestOptions(json: PublicKeyCredentialRequestOptionsJSON): PublicKeyCredentialRequestOptions {
  const statics = PublicKeyCredential as PublicKeyCredentialStatics
  if (typeof statics.parseRequestOptionsFromJSON === 'function') return statics.parseRequestOptionsFromJSON(json)
  return {
    ...json,
    challenge: base64URLStringToBuffer(json.challenge),
    allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: base64URLStringToBuffer(c.id) })),
  } as PublicKeyCredentialRequestOptions
}

/** The assertion in the contract's JSON form: `toJSON()` where it works, else by hand. */
function credentialJson(cred: PublicKeyCredential): AuthenticationResponseJSON {
  if (typeof cred.toJSON === 'function') {
    try {
      return cred.toJSON() as AuthenticationResponseJSON
    } catch {}
  }
  const r = cred.response as AuthenticatorAssertionResponse
  return {
    id: cred.id,
    rawId: bufferToBase64URLString(cred.rawId),
    type: cred.type as 'public-key',
    authenticatorAttachment: (cred.authenticatorAttachment || undefined) as AuthenticatorAttachment | undefined,
    response: {
      clientDataJSON: bufferToBase64URLString(r.clientDataJSON),
      authenticatorData: bufferToBase64URLString(r.authenticatorData),
      signature: bufferToBase64URLString(r.signature),
      userHandle: r.userHandle ? bufferToBase64URLString(r.userHandle) : undefined,
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  }
}

/** POSTs JSON relative to the page; a failure throws with the problem's detail or title. */
async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const data = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(data.detail || data.title || 'The request failed (' + res.status + ')')
  return data as T
}

/** The ceremony in flight: a button press aborts the waiting autofill one. */
let running: AbortController | null = null

async function signIn(conditional: boolean): Promise<void> {
  if (running) running.abort()
  const controller = new AbortController()
  running = controller
  const username = conditional ? '' : input.value.trim()
  const { options, request } = await post<AuthorizeOptions>(
    'authorize/options',
    username ? { request: handle, username } : { request: handle },
  )
  const credential = (await navigator.credentials.get({
    publicKey: requestOptions(options),
    mediation: conditional ? 'conditional' : 'optional',
    signal: controller.signal,
  })) as PublicKeyCredential | null
  if (!credential) return
  button.disabled = true
  say('Signing in…')
  const { redirect_to } = await post<{ redirect_to: string }>('authorize/complete', {
    request,
    credential: credentialJson(credential),
  })
  location.assign(redirect_to)
}

function failed(e: unknown): void {
  button.disabled = false
  const err = e as { name?: string; message?: string } | null | undefined
  if (err && err.name === 'AbortError') return
  if (err && err.name === 'NotAllowedError') return say('Sign-in was cancelled or timed out. Try again.', true)
  say(err && err.message ? err.message : String(e), true)
}

if (!browserSupportsWebAuthn() || !navigator.credentials) {
  button.disabled = true
  say('This browser does not support passkeys.', true)
} else {
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    say('')
    signIn(false).catch(failed)
  })
  // Autofill: offer passkeys in the username field where conditional mediation is supported.
  browserSupportsWebAuthnAutofill().then(
    (ok) => {
      if (ok) signIn(true).catch(failed)
    },
    () => {},
  )
}
