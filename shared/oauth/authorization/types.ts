/** The authorization request as the checks build it up (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1). */
import type { ClientRecord } from '../../store/types.js'

export interface AuthorizationRequest {
  clientId: string
  redirectUri: string
  scope: string
  codeChallenge: string
  state?: string
  nonce?: string
  loginHint?: string
  /** OIDC Core §3.1.2.1 `max_age` (seconds; 0: like prompt=login). */
  maxAge?: number
  /** `acr_values` we issue, in the client's order: the assertion must reach one of them. */
  acrValues?: string[]
  /** RFC 8707 `resource`: the token's audience (one of AUDIENCES; default the first). */
  resource?: string
  /** `prompt=login`: a fresh passkey assertion (every sign-in on this page is one). */
  promptLogin?: true
  /** RFC 9449 §10 `dpop_jkt`: the code is exchanged only with a DPoP proof by this key. */
  dpopJkt?: string
}

/** What the checks share: the raw query, the client once known, and the request so far. */
export interface CheckContext {
  query: URLSearchParams
  client?: ClientRecord
  request: Partial<AuthorizationRequest>
}

/**
 * A refused request. `redirect: false` (unknown client, unregistered redirect URI) is shown on our
 * own error page and never redirected (RFC 6749 §4.1.2.1 ¶1); every other error goes back to the
 * client's redirect URI with `error`, `error_description` and `state`.
 */
export class AuthorizationError extends Error {
  constructor(
    readonly error: string,
    description: string,
    readonly redirect: boolean,
  ) {
    super(description)
    this.name = 'AuthorizationError'
  }
}

/** One parameter, refusing repeats (RFC 6749 §3.1: parameters MUST NOT be included more than once). */
export function single(ctx: CheckContext, name: string, redirect: boolean): string | undefined {
  const values = ctx.query.getAll(name)
  if (values.length > 1) throw new AuthorizationError('invalid_request', `${name} is repeated`, redirect)
  return values[0] === '' ? undefined : values[0]
}
