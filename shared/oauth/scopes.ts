/**
 * Scopes are granted, not echoed (CONTRACT v2 "Security refinements", RFC 6749 §3.3).
 *
 * Grantable: `openid`, `profile` and the API scopes in the `SCOPES` setting. Each client may be
 * granted `openid`, `profile` and the subset of `SCOPES` it was registered with (`scopes`); our
 * own page (the first-party client) any grantable scope. A request naming anything else is
 * refused as a whole (`invalid_scope`), never silently narrowed, so a client learns at once that
 * it asked for more than it may have. Discovery's `scopes_supported` is `grantableScopes`.
 */
import type { Config } from '../config.js'
import { OAuthError, ServiceError } from '../errors.js'
import { parseScope } from '../webauthn/input.js'

/** Always grantable (OIDC Core §5.4): sign-in and the profile claims of the ID token. */
export const BASE_SCOPES = ['openid', 'profile'] as const

/** Every scope this service may grant, in the order discovery lists them. */
export function grantableScopes(config: Pick<Config, 'scopes'>): string[] {
  return [...BASE_SCOPES, ...config.scopes]
}

/**
 * The scopes one caller may be granted: with `client` (a registered client), the base scopes and
 * its registered ones that are still grantable; without, every grantable scope (first party).
 */
export function allowedScopes(config: Pick<Config, 'scopes'>, client?: { scopes?: readonly string[] }): Set<string> {
  if (!client) return new Set(grantableScopes(config))
  const api = new Set(config.scopes)
  return new Set([...BASE_SCOPES, ...(client.scopes ?? []).filter((s) => api.has(s))])
}

/** The requested scopes (space-separated, already parsed) that may not be granted; [] when all may. */
export function ungrantable(scope: string | undefined, allowed: Set<string>): string[] {
  if (!scope) return []
  return scope.split(' ').filter((s) => !allowed.has(s))
}

/** A readable refusal for `invalid_scope`. */
export function scopeRefusal(refused: string[]): string {
  return `scope ${refused.map((s) => `"${s}"`).join(', ')} may not be granted: ask for openid, profile or a scope this client was registered with`
}

/**
 * The `scope` parameter of an OAuth request (RFC 6749 §3.3), de-duplicated; undefined when absent.
 * A malformed one is the OAuth error `invalid_scope` (§5.2), with the parser's message.
 */
export function requestedScope(params: { get(name: string): string | undefined }): string | undefined {
  try {
    return parseScope(params.get('scope'))
  } catch (e) {
    if (e instanceof ServiceError) throw new OAuthError('invalid_scope', e.message)
    throw e
  }
}
