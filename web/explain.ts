/**
 * Turns what went wrong into words for people: a title and, where it helps, a detail. Server
 * problems show the problem's own `title` and `detail`; browser WebAuthn errors get plain
 * explanations (WebAuthn §5.1.3 / §5.1.4.1 list them: NotAllowedError covers both "cancelled"
 * and "timed out", so the elapsed time tells them apart).
 */
import { ApiError, NetworkError } from './http.js'

export interface Explained {
  title: string
  detail?: string
}

export interface CeremonyContext {
  /** `Date.now()` when the browser's prompt was opened. */
  startedAt?: number
  /** The options' `timeout`, milliseconds. */
  timeoutMs?: number
  what?: 'sign-up' | 'sign-in' | 'add' | 'approve'
}

/** The WebAuthn error underneath @simplewebauthn/browser's wrapper, if any. */
export function domErrorName(err: unknown): string | undefined {
  const e = err as { name?: string; code?: string; cause?: { name?: string } }
  if (e?.code === 'ERROR_PASSTHROUGH_SEE_CAUSE_PROPERTY' && e.cause?.name) return e.cause.name
  return e?.name
}

/** True when a ceremony was aborted on purpose (a newer ceremony replaced it). */
export function isAborted(err: unknown): boolean {
  const e = err as { code?: string; name?: string }
  return e?.code === 'ERROR_CEREMONY_ABORTED' || e?.name === 'AbortError'
}

export const UNSUPPORTED: Explained = {
  title: 'This browser cannot use passkeys.',
  detail:
    'Use a current version of Chrome, Edge, Safari or Firefox, or open this page on a phone or computer with a screen lock.',
}

export function explain(err: unknown, ctx: CeremonyContext = {}): Explained {
  if (err instanceof ApiError)
    return {
      title: err.title,
      ...(err.detail && err.detail !== err.title ? { detail: err.detail } : {}),
    }
  if (err instanceof NetworkError)
    return { title: 'The service did not answer.', detail: 'Check your connection and try again.' }
  const e = err as { code?: string; message?: string; name?: string }
  if (e?.message === 'WebAuthn is not supported in this browser') return UNSUPPORTED
  switch (e?.code) {
    case 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED':
      return {
        title: 'This device or security key already holds a passkey for this account.',
        detail: 'Choose another device or security key, or keep using the passkey you have.',
      }
    case 'ERROR_INVALID_DOMAIN':
    case 'ERROR_INVALID_RP_ID':
      return {
        title: "This page's address does not match the passkey service.",
        detail: `Open the page at the address the service is set up for (${e.message ?? 'RP ID mismatch'}).`,
      }
    case 'ERROR_AUTHENTICATOR_MISSING_USER_VERIFICATION_SUPPORT':
    case 'ERROR_AUTHENTICATOR_MISSING_DISCOVERABLE_CREDENTIAL_SUPPORT':
      return {
        title: 'This authenticator cannot hold a passkey for this service.',
        detail:
          'It must be able to store the passkey and check your PIN, fingerprint or face. Try another one.',
      }
  }
  const name = domErrorName(err)
  if (name === 'NotAllowedError') {
    const elapsed = ctx.startedAt !== undefined ? Date.now() - ctx.startedAt : 0
    if (ctx.timeoutMs && elapsed >= ctx.timeoutMs * 0.9)
      return {
        title: 'The passkey prompt timed out.',
        detail: `Nothing was chosen within ${duration(ctx.timeoutMs)}. Try again when you are ready.`,
      }
    return {
      title: 'The passkey prompt was cancelled.',
      detail:
        ctx.what === 'sign-in'
          ? 'Nothing was sent. Try again, or if this device has no passkey for this site, use another device or create an account.'
          : ctx.what === 'approve'
            ? 'Nothing was approved: the request is still waiting. Approve it when you are ready, or deny it.'
            : 'No passkey was created. Try again when you are ready.',
    }
  }
  if (name === 'InvalidStateError')
    return {
      title: 'This device or security key already holds a passkey for this account.',
      detail: 'Choose another one.',
    }
  if (name === 'SecurityError')
    return { title: 'The browser refused the request for security reasons.', detail: e?.message }
  return { title: 'Something went wrong.', ...(e?.message ? { detail: e.message } : {}) }
}

/** "5 minutes", "90 seconds". */
function duration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s >= 120 && s % 60 === 0) return `${s / 60} minutes`
  return `${s} second${s === 1 ? '' : 's'}`
}
