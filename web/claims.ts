/**
 * "Your access token": the claims of the current access token (RFC 9068), each with a short note
 * on what it means. Decoded for display only; the APIs verify the token, not this page.
 */
import { h, relativeTime } from './dom.js'
import type { Claims } from './session.js'

/** What each claim means (RFC 9068 §2.2, RFC 8176 for amr, OpenID EAP for acr). */
const MEANING: Record<string, string> = {
  iss: 'Issuer: the service that signed the token.',
  sub: 'Subject: your account’s stable id (not your username).',
  aud: 'Audience: the APIs this token is for.',
  exp: 'Expires: APIs refuse the token after this.',
  iat: 'Issued at.',
  auth_time: 'When you signed in with your passkey.',
  jti: 'Token id, unique to this token.',
  client_id: 'The application the token was issued to.',
  scope: 'Scopes granted.',
  amr: 'How you signed in: hwk = device-bound key, swk = synced key, user = presence, mfa = verified (PIN, fingerprint or face).',
  acr: 'Assurance level: phr = passkey, phrh = device-bound passkey with a verified maker.',
  roles: 'Your roles when the token was issued (the gateway checks live roles on every call).',
  sid: 'Sign-in session; signing out revokes it.',
}

const TIME_CLAIMS = new Set(['exp', 'iat', 'auth_time', 'nbf'])

function value(name: string, v: unknown): (Node | string)[] {
  if (TIME_CLAIMS.has(name) && typeof v === 'number') {
    const ms = v * 1000
    const iso = new Date(ms).toISOString()
    return [
      h('time', { datetime: iso }, new Date(ms).toLocaleString()),
      h('span', { class: 'muted' }, ` (${relativeTime(ms)})`),
    ]
  }
  if (Array.isArray(v)) return [v.length ? v.join(', ') : h('span', { class: 'muted' }, 'none')]
  if (typeof v === 'object' && v !== null) return [JSON.stringify(v)]
  return [String(v)]
}

/** Renders the claims into `table` (a `<table>` with a caption already in the page) and `raw`. */
export function renderClaims(table: HTMLTableElement, raw: HTMLElement, claims: Claims): void {
  const known = Object.keys(MEANING)
  const names = [
    ...known.filter((k) => k in claims),
    ...Object.keys(claims).filter((k) => !known.includes(k)),
  ]
  const body = h(
    'tbody',
    {},
    ...names.map((name) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, h('code', {}, name)),
        h('td', { class: 'claim-value' }, ...value(name, claims[name])),
        h('td', { class: 'claim-meaning' }, MEANING[name] ?? ''),
      ),
    ),
  )
  table.querySelector('tbody')?.remove()
  table.append(body)
  raw.textContent = JSON.stringify(claims, null, 2)
}
