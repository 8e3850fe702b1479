/**
 * Resource indicators (RFC 8707): the `resource` a client names is the audience of its token.
 *
 * - §2: an absolute URI without a fragment; here it must also be one of `AUDIENCES` (the
 *   resources this issuer mints tokens for), else `invalid_target`.
 * - One audience per token: a repeated `resource` is refused with `invalid_target` (the
 *   authorization endpoint and the token endpoint alike, see docs/oauth.md).
 * - §2.2 at the token endpoint: a grant tied to an earlier request (authorization code, refresh
 *   token) may name only the resource that request was granted for; another one is
 *   `invalid_target` (a token has one audience, so "a subset" is that one resource).
 */
import type { Config } from '../config.js'
import { OAuthError } from '../errors.js'

/** The parameter's name (RFC 8707 §2). */
export const RESOURCE = 'resource'

/**
 * Why `value` is no target of ours, or undefined when it is one of the configured audiences.
 *
 * @example
 * resourceRefusal(config, 'https://evil.example') // 'resource must be one of the configured audiences'
 */
export function resourceRefusal(config: Pick<Config, 'audiences'>, value: string): string | undefined {
  if (value.includes('#')) return 'resource must be an absolute URI without a fragment (RFC 8707 §2)'
  if (!URL.canParse(value)) return 'resource must be an absolute URI (RFC 8707 §2)'
  if (!config.audiences.includes(value)) return 'resource must be one of the configured audiences'
  return undefined
}

/**
 * The token endpoint's `resource`: undefined when absent, else one of `AUDIENCES`
 * (`invalid_target` otherwise). `expected`: the resource the grant is bound to (§2.2).
 *
 * @example
 * const audience = requestedResource(config, params) ?? config.audiences[0]!
 */
export function requestedResource(
  config: Pick<Config, 'audiences'>,
  params: { get(name: string): string | undefined },
  { expected }: { expected?: string } = {},
): string | undefined {
  const value = params.get(RESOURCE)
  if (value === undefined) return undefined
  const refused = resourceRefusal(config, value)
  if (refused) throw new OAuthError('invalid_target', refused)
  if (expected !== undefined && value !== expected)
    throw new OAuthError('invalid_target', 'resource is not the one this grant was issued for (RFC 8707 §2.2)')
  return value
}
