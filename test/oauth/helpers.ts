/**
 * Helpers of the OAuth tests, written from CONTRACT.md and docs/oauth.md: registering clients,
 * making private_key_jwt assertions, and driving the hosted sign-in page's HTTP calls with a
 * software authenticator (what its script does in a browser).
 */
import assert from 'node:assert/strict'
import { randomBytes, type KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'
import type { SoftAuthenticator } from '../helpers/authenticator.js'
import { bearer, post, signUp } from '../helpers/client.js'
import { ORIGIN } from '../helpers/service.js'

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** POST /api/manage/clients; asserts 201 and returns the registration. */
export async function registerClient(base: string, adminToken: string, body: Record<string, unknown>) {
  const r = await post(base, '/api/manage/clients', body, bearer(adminToken))
  assert.equal(r.status, 201, JSON.stringify(r.body))
  return r.body as { client_id: string; [k: string]: unknown }
}

/** An admin's access token: BOOTSTRAP_ADMINS must name `username`. */
export async function adminToken(base: string, auth: SoftAuthenticator, username: string): Promise<string> {
  return (await signUp(base, auth, username)).tokens.access_token
}

/** A private_key_jwt client assertion (RFC 7523 §3); every claim can be overridden or dropped (undefined). */
export function clientAssertion(opts: {
  clientId: string
  key: KeyObject | CryptoKey
  alg?: string
  kid?: string
  aud?: string | string[]
  claims?: Record<string, unknown>
  /** Seconds from now. */
  expiresIn?: number
}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const claims: Record<string, unknown> = {
    iss: opts.clientId,
    sub: opts.clientId,
    aud: opts.aud,
    jti: randomBytes(16).toString('base64url'),
    iat: now,
    exp: now + (opts.expiresIn ?? 60),
    ...opts.claims,
  }
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k]
  return new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'ES256', ...(opts.kid ? { kid: opts.kid } : {}) }).sign(opts.key)
}

export interface HostedPage {
  status: number
  headers: Headers
  html: string
  handle?: string
}

/** GET the authorization URL as a browser would (no redirect following). */
export async function openAuthorize(url: string | URL): Promise<HostedPage> {
  const res = await fetch(url, { redirect: 'manual' })
  const html = await res.text()
  const handle = /<meta name="authorization-request" content="([^"]+)">/.exec(html)?.[1]
  return { status: res.status, headers: res.headers, html, ...(handle ? { handle } : {}) }
}

/**
 * What the page's script does: POST …/authorize/options with the handle, let the authenticator
 * answer the options (usernameless), POST …/authorize/complete. Returns the complete response.
 */
export async function passkeyStep(base: string, handle: string, auth: SoftAuthenticator, opts: { username?: string; origin?: string } = {}) {
  const o = await post(base, '/api/oauth2/authorize/options', { request: handle, ...(opts.username ? { username: opts.username } : {}) })
  assert.equal(o.status, 200, JSON.stringify(o.body))
  const credential = await auth.getAssertion(o.body.options, { origin: opts.origin ?? ORIGIN })
  return post(base, '/api/oauth2/authorize/complete', { request: o.body.request, credential })
}

/** The whole hosted sign-in: page → passkey → the redirect URL (with code, state, iss). */
export async function hostedSignIn(base: string, authorizeUrl: string | URL, auth: SoftAuthenticator): Promise<URL> {
  const page = await openAuthorize(authorizeUrl)
  assert.equal(page.status, 200, page.html.slice(0, 300))
  assert.ok(page.handle, 'the page carries the authorization request')
  const done = await passkeyStep(base, page.handle, auth)
  assert.equal(done.status, 200, JSON.stringify(done.body))
  return new URL(done.body.redirect_to)
}
