/**
 * A client written from CONTRACT.md only: JSON over HTTP, WebAuthn JSON forms, token endpoint.
 */
import assert from 'node:assert/strict'
import type { SoftAuthenticator } from './authenticator.js'
import { ORIGIN } from './service.js'

export interface Res<T = any> {
  status: number
  headers: Headers
  body: T
}

export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Res<T>> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    if (typeof body === 'string') init.body = body
    else {
      init.body = JSON.stringify(body)
      ;(init.headers as Record<string, string>)['content-type'] ??= 'application/json'
    }
  }
  const res = await fetch(base + path, init)
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {}
  return { status: res.status, headers: res.headers, body: parsed as T }
}

export const post = <T = any>(base: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  call<T>(base, 'POST', path, body, headers)

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

export async function form(base: string, path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return call(base, 'POST', path, new URLSearchParams(params).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
    ...headers,
  })
}

/** Sign-up: options → authenticator → verify. Returns the 201 body. */
export async function signUp(base: string, auth: SoftAuthenticator, username: string, opts: { origin?: string } = {}) {
  const o = await post(base, '/api/webauthn/registration/options', { username })
  assert.equal(o.status, 200, JSON.stringify(o.body))
  const credential = await auth.createCredential(o.body, { origin: opts.origin ?? ORIGIN })
  const v = await post(base, '/api/webauthn/registration/verify', { credential })
  assert.equal(v.status, 201, JSON.stringify(v.body))
  return v.body as { user: { id: string; username: string }; credential: any; tokens: any }
}

/** Sign-in (usernameless when username is undefined). Returns the raw verify response. */
export async function signIn(
  base: string,
  auth: SoftAuthenticator,
  username?: string,
  assertionOpts: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  const o = await post(base, '/api/webauthn/authentication/options', username === undefined ? {} : { username })
  assert.equal(o.status, 200, JSON.stringify(o.body))
  const credential = await auth.getAssertion(o.body, { origin: ORIGIN, ...assertionOpts } as never)
  return post(base, '/api/webauthn/authentication/verify', { credential, ...extra })
}

/** Decodes a JWT's header and payload without verifying (tests verify separately). */
export function decodeJwt(token: string): { header: any; payload: any } {
  const [h, p] = token.split('.')
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString()),
  }
}
