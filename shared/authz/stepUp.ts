/**
 * Step-up (CONTRACT v2 "Step-up authentication", RFC 9470): how a permission's `acr` and `maxAge`
 * stand against a token, and the 401 `insufficient_user_authentication` answer when no permission
 * allows a request but one would with a stronger or more recent sign-in. One rule for ordinary
 * tokens (decide.ts) and delegated ones (delegation.ts).
 */
import type { AccessTokenClaims } from '../tokens/accessToken.js'
import { acrRank, acrSatisfies } from '../webauthn/assurance.js'

export const INSUFFICIENT = 'insufficient_user_authentication' as const
/** RFC 6750 §3.1: a request without a token gets a challenge without an error code. */
export const NO_TOKEN_CHALLENGE = 'Bearer'
/** RFC 6750 §3.1: a bad, expired or revoked token. */
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'

/**
 * The RFC 9470 §3 challenge for a step-up: only the members that apply. acr values are ours
 * (ACR_VALUES) and maxAge an integer, so nothing here needs quoting beyond what is written.
 *
 * @example
 * stepUpChallenge('phrh', 300) // 'Bearer error="insufficient_user_authentication", error_description="…", acr_values="phrh", max_age=300'
 */
export function stepUpChallenge(acr: string | undefined, maxAge: number | undefined): string {
  const description =
    acr !== undefined && maxAge !== undefined
      ? 'A stronger and more recent authentication is required'
      : acr !== undefined
        ? 'A different authentication level is required'
        : 'More recent authentication is required'
  return (
    `Bearer error="${INSUFFICIENT}", error_description="${description}"` +
    (acr !== undefined ? `, acr_values="${acr}"` : '') +
    (maxAge !== undefined ? `, max_age=${maxAge}` : '')
  )
}

/** What a permission that matches method, path and apiId still asks of the token's sign-in. */
export interface Shortfall {
  role: string
  /** The permission's acr, when the token's is weaker (or absent). */
  acr?: string
  /** The permission's maxAge, when auth_time is older than that (or absent). */
  maxAge?: number
}

/**
 * Whether a (matching) permission's acr and maxAge are met by the token at `now`: if so, until
 * when (auth_time + maxAge; Infinity without maxAge), else what it misses. auth_time in seconds;
 * machine clients' tokens have none, so they never meet a maxAge.
 */
export function assess(
  p: { acr?: string; maxAge?: number },
  claims: Pick<AccessTokenClaims, 'acr' | 'auth_time'>,
  now: number,
): { met: true; until: number } | { met: false; miss: Omit<Shortfall, 'role'> } {
  const authTime = typeof claims.auth_time === 'number' ? claims.auth_time * 1000 : undefined
  const acrShort = p.acr !== undefined && !acrSatisfies(claims.acr, p.acr)
  const freshUntil = p.maxAge === undefined ? Infinity : authTime === undefined ? -Infinity : authTime + p.maxAge * 1000
  const stale = freshUntil <= now
  if (!acrShort && !stale) return { met: true, until: freshUntil }
  return { met: false, miss: { ...(acrShort ? { acr: p.acr } : {}), ...(stale ? { maxAge: p.maxAge } : {}) } }
}

/**
 * Of two shortfalls, whether `a` is the easier one to meet: no acr to reach beats the weakest
 * acr, which beats a stronger one; then not needing a fresh sign-in beats needing one (any fresh
 * sign-in meets every maxAge).
 */
export function lighter(a: Shortfall, b: Shortfall): boolean {
  const ra = a.acr === undefined ? 0 : acrRank(a.acr)
  const rb = b.acr === undefined ? 0 : acrRank(b.acr)
  if (ra !== rb) return ra < rb
  return a.maxAge === undefined && b.maxAge !== undefined
}

/**
 * The members of a 401 step-up answer that follow `allow`, in the order they are sent.
 * `reason` defaults to the one naming the shortfall's role.
 */
export function stepUpRefusal(shortfall: Omit<Shortfall, 'role'> & { role?: string }, reason?: string) {
  const { acr, maxAge } = shortfall
  const needs = [acr !== undefined ? `acr ${acr}` : '', maxAge !== undefined ? `a sign-in within ${maxAge} s` : ''].filter(Boolean).join(' and ')
  return {
    allow: false as const,
    status: 401 as const,
    reason: reason ?? `role ${shortfall.role} permits this with ${needs}`,
    error: INSUFFICIENT,
    ...(acr !== undefined ? { acr_values: acr } : {}),
    ...(maxAge !== undefined ? { max_age: maxAge } : {}),
    wwwAuthenticate: stepUpChallenge(acr, maxAge),
  }
}

/** What a sign-in must meet to satisfy both shortfalls: the stronger acr, the shorter maxAge. */
export function strictest(a: Shortfall, b: Shortfall): Omit<Shortfall, 'role'> {
  const acr = a.acr === undefined ? b.acr : b.acr === undefined ? a.acr : acrRank(a.acr) >= acrRank(b.acr) ? a.acr : b.acr
  const maxAge = a.maxAge === undefined ? b.maxAge : b.maxAge === undefined ? a.maxAge : Math.min(a.maxAge, b.maxAge)
  return { ...(acr !== undefined ? { acr } : {}), ...(maxAge !== undefined ? { maxAge } : {}) }
}
