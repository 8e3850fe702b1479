/**
 * The signed-in session: tokens, refreshing them, and signing out.
 *
 * Where tokens live, and why:
 * - The access token stays in memory only (this module's variables). It is the credential every
 *   API accepts, so it is kept out of any storage that outlives the page or that other pages of
 *   the origin could read later.
 * - The refresh token is kept in memory and, at most, in sessionStorage, so that reloading this
 *   tab does not sign you out. sessionStorage belongs to this one tab: it is not shared with other
 *   tabs and is cleared when the tab closes, unlike localStorage (kept on disk for every later
 *   visit) or a cookie (sent on requests we did not make). Script on this origin could still read
 *   it, which the page's CSP (`script-src 'self'`, no inline script, Trusted Types) guards
 *   against. The refresh token is single use and rotated on every refresh; a copy that is used
 *   twice (e.g. a duplicated tab) makes the service revoke the whole session, which fails safe.
 */
import { ApiError, request } from './http.js'
import type { TokenResponseBody } from '../shared/schemas/oauth.js'

export type TokenResponse = TokenResponseBody

export type Claims = Record<string, unknown> & {
  sub?: string
  exp?: number
  roles?: string[]
  sid?: string
}

const REFRESH_KEY = 'passkey-edge.refresh'
const PASSKEY_KEY = 'passkey-edge.passkey'

let accessToken: string | undefined
/** RFC 9449: the tokens are bound to the page's key (`token_type` DPoP); calls then carry proofs. */
let bound = false
let refreshToken: string | undefined
let claims: Claims | undefined
/** The passkey this session signed in with, when known (deleting it ends the session). */
let signedInWith: string | undefined
let refreshing: Promise<void> | undefined
let onEnded: (reason: string) => void = () => {}
let onTokens: () => void = () => {}
let onStepUp: (() => Promise<void>) | undefined

/** Decodes a JWT's payload (display only: the service verifies tokens, the page never trusts them). */
export function decodeClaims(jwt: string): Claims {
  const part = jwt.split('.')[1] ?? ''
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (part.length % 4)) % 4)
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
  return JSON.parse(new TextDecoder().decode(bytes)) as Claims
}

function remember(key: string, value: string | undefined): void {
  try {
    if (value === undefined) sessionStorage.removeItem(key)
    else sessionStorage.setItem(key, value)
  } catch {
    // Storage disabled (private mode, policy): the session then lasts as long as the page.
  }
}

function recall(key: string): string | undefined {
  try {
    return sessionStorage.getItem(key) ?? undefined
  } catch {
    return undefined
  }
}

/** Called once with what to do when the session ends by itself (revoked, expired). */
export function onSessionEnded(handler: (reason: string) => void): void {
  onEnded = handler
}

/**
 * Called when the service wants a more recent sign-in for an account change (401
 * `insufficient_user_authentication`, CONTRACT v2 "Re-authentication for account changes"): the
 * handler signs in again with a passkey (and calls `replaceSession`), after which the call that
 * was refused is retried once. If the handler throws (the prompt was cancelled), so does the call.
 */
export function onStepUpNeeded(handler: () => Promise<void>): void {
  onStepUp = handler
}

/**
 * Switches to the tokens of a fresh sign-in (a step-up) and revokes the session they replace, so
 * the page holds one session, not two. The old session's revocation is best effort.
 */
export async function replaceSession(t: TokenResponse, passkeyId: string): Promise<void> {
  const old = refreshToken
  setTokens(t, passkeyId)
  if (old && old !== t.refresh_token)
    await request('/oauth2/revoke', { form: { token: old, token_type_hint: 'refresh_token' } }).catch(() => {})
}

/** Called with no arguments whenever new tokens arrive (sign-in, refresh). */
export function onTokensChanged(handler: () => void): void {
  onTokens = handler
}

export function setTokens(t: TokenResponse, passkeyId?: string): void {
  accessToken = t.access_token
  bound = t.token_type === 'DPoP'
  claims = decodeClaims(t.access_token)
  if (t.refresh_token) {
    refreshToken = t.refresh_token
    remember(REFRESH_KEY, refreshToken)
  }
  if (passkeyId !== undefined) {
    signedInWith = passkeyId
    remember(PASSKEY_KEY, passkeyId)
  }
  onTokens()
}

export function forget(): void {
  accessToken = refreshToken = claims = signedInWith = undefined
  bound = false
  remember(REFRESH_KEY, undefined)
  remember(PASSKEY_KEY, undefined)
}

export const isSignedIn = () => accessToken !== undefined
export const currentClaims = () => claims
export const currentPasskey = () => signedInWith
export const currentAccessToken = () => accessToken
/** Whether the access token is DPoP-bound (send it as `DPoP` with a proof: web/dpop.ts). */
export const tokenIsBound = () => bound

/**
 * Before switching to a session made by an invitation or recovery link: revokes the session this
 * tab held (in memory, or saved by an earlier load), best effort, and forgets it.
 */
export async function endEarlierSession(): Promise<void> {
  const token = refreshToken ?? recall(REFRESH_KEY)
  forget()
  if (token)
    await request('/oauth2/revoke', { form: { token, token_type_hint: 'refresh_token' } }).catch(() => {})
}

/** Signs in again from the refresh token of an earlier load of this tab, if there is one. */
export async function restore(): Promise<boolean> {
  const saved = recall(REFRESH_KEY)
  if (!saved) return false
  refreshToken = saved
  signedInWith = recall(PASSKEY_KEY)
  try {
    await refresh()
    return true
  } catch {
    forget()
    return false
  }
}

/**
 * Trades the refresh token for new tokens (RFC 6749 §6). One refresh at a time: a second caller
 * waits for the first, since the refresh token is single use.
 */
export function refresh(): Promise<void> {
  refreshing ??= (async () => {
    try {
      if (!refreshToken) throw new ApiError(401, 'Not signed in')
      const t = await request<TokenResponse>('/oauth2/token', {
        form: { grant_type: 'refresh_token', refresh_token: refreshToken },
        // A bound refresh token is usable only with a proof by the page's key (RFC 9449 §5).
        dpop: true,
      })
      setTokens(t)
    } finally {
      refreshing = undefined
    }
  })()
  return refreshing
}

/**
 * An API call with the access token. A 401 (expired or revoked token) gets one refresh and one
 * retry; when that fails too, the session has ended.
 */
export async function authed<T = unknown>(
  path: string,
  opts: { method?: string; json?: unknown } = {},
): Promise<T> {
  if (refreshing) await refreshing.catch(() => {})
  if (!accessToken) throw new ApiError(401, 'Not signed in', 'Sign in again.')
  try {
    return await stepUpOnce<T>(path, opts)
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e
  }
  try {
    await refresh()
  } catch (e) {
    if (e instanceof ApiError && e.status < 500) {
      forget()
      onEnded('Your session has ended (it expired or was revoked). Sign in again.')
    }
    throw e
  }
  return await stepUpOnce<T>(path, opts)
}

/**
 * One call with the access token; when the service answers that the sign-in is too old for this
 * change (401 insufficient_user_authentication, the token itself being fine), a passkey step-up
 * and one retry. Used before and after a refresh: an expired token that is refreshed still
 * carries its old sign-in time.
 */
async function stepUpOnce<T>(path: string, opts: { method?: string; json?: unknown }): Promise<T> {
  try {
    return await request<T>(path, { ...opts, token: accessToken, dpop: bound })
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'insufficient_user_authentication' || !onStepUp) throw e
    await onStepUp()
    return await request<T>(path, { ...opts, token: accessToken, dpop: bound })
  }
}

/** RFC 7009: revokes the refresh token (its whole session), then forgets every token. */
export async function signOut(): Promise<void> {
  const token = refreshToken
  try {
    if (token)
      await request('/oauth2/revoke', { form: { token, token_type_hint: 'refresh_token' } })
  } finally {
    forget()
  }
}
