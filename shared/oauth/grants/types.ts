/** What every grant handler (shared/oauth/grants/<grant_type>.ts) is given and returns. */
import type { Core } from '../../core.js'
import type { TokenResponse } from '../../tokens/sessions.js'
import type { ClientAuthentication } from '../clientAuth.js'

export interface GrantContext {
  core: Core
  /** The form parameters (each at most once, empty ones dropped). */
  params: Map<string, string>
  /** The calling client, authenticated or identified before the grant runs. */
  client: ClientAuthentication
  /** RFC 9449: the thumbprint of the request's DPoP proof key, when a valid proof was sent. */
  jkt?: string
}

/** RFC 6749 §5.1; client_credentials has no refresh_token (§4.4.3) and no id_token. */
export type TokenEndpointResponse = TokenResponse | Omit<TokenResponse, 'refresh_token' | 'id_token'>

export type GrantHandler = (ctx: GrantContext) => Promise<TokenEndpointResponse>
