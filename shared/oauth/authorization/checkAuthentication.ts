/**
 * What the client asks of the sign-in itself (OIDC Core §3.1.2.1, RFC 9470 §4): `max_age`
 * (seconds, a non-negative integer; 0 acts like prompt=login) and `acr_values` (space-separated,
 * in order of preference). Unknown acr values are dropped; a request naming none we issue cannot
 * be met → invalid_request. Every sign-in on this page is a fresh passkey assertion, so `max_age`
 * and `prompt=login` are always met (auth_time is that assertion's time); `acr_values` is
 * enforced when the assertion comes in (complete.ts: a weaker passkey is refused).
 */
import { ACR_VALUES, acrRank } from '../../webauthn/assurance.js'
import { AuthorizationError, single, type CheckContext } from './types.js'

const MAX_AGE = /^\d{1,10}$/
const MAX_ACR_VALUES = 8

export function checkAuthentication(ctx: CheckContext): void {
  const maxAge = single(ctx, 'max_age', true)
  if (maxAge !== undefined) {
    if (!MAX_AGE.test(maxAge)) throw new AuthorizationError('invalid_request', 'max_age must be a non-negative integer (seconds)', true)
    ctx.request.maxAge = Number(maxAge)
  }
  const acr = single(ctx, 'acr_values', true)
  if (acr !== undefined) {
    const values = acr.split(' ').filter(Boolean)
    if (values.length > MAX_ACR_VALUES || values.some((x) => x.length > 64 || !/^[\x21-\x7e]+$/.test(x)))
      throw new AuthorizationError('invalid_request', `acr_values must be at most ${MAX_ACR_VALUES} space-separated values`, true)
    const known = [...new Set(values.filter((x) => acrRank(x) > 0))]
    if (known.length === 0)
      throw new AuthorizationError('invalid_request', `acr_values names no acr this server issues (${ACR_VALUES.join(', ')})`, true)
    ctx.request.acrValues = known
  }
}
