/**
 * POST /api/oauth2/token (RFC 6749 §3.2), dispatched on the literal grant_type to
 * grants/<grant_type>.ts (grants/ciba.ts for urn:openid:params:grant-type:ciba, grants/token-exchange.ts for
 * urn:ietf:params:oauth:grant-type:token-exchange). The client is authenticated (private_key_jwt) or identified (client_id)
 * first, see clientAuth.ts. Errors are RFC 6749 §5.2 JSON, rendered by the app's error handler
 * from OAuthError.
 */
import type { Core } from '../core.js'
import { OAuthError } from '../errors.js'
import { authenticateClient } from './clientAuth.js'
import * as grants from './grants/index.js'
import type { GrantHandler, TokenEndpointResponse } from './grants/types.js'
import { optionalProof } from './dpop.js'

export const GRANTS: Readonly<Record<string, GrantHandler>> = Object.freeze(
  Object.fromEntries(Object.values(grants).map((g) => [g.grantType, g.handler])),
)

/** The grant types token() serves, for discovery (`grant_types_supported`). */
export const GRANT_TYPES: readonly string[] = Object.freeze(Object.values(grants).map((g) => g.grantType))

/**
 * @example
 * const res = await token(core, params, { authorization: c.req.header('authorization') })
 */
export async function token(
  core: Core,
  params: Map<string, string>,
  { authorization, dpop }: { authorization?: string; dpop?: string } = {},
): Promise<TokenEndpointResponse> {
  const grantType = params.get('grant_type')
  if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required')
  const handler = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined
  if (!handler) throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`)
  // RFC 9449 §5: a proof binds what is issued to its key. htu is compared with the issuer-derived
  // public URL of this endpoint (the service may sit behind a proxy or APIM), as client assertions' aud.
  // After client authentication: a caller that is no client (or a confidential client's impostor)
  // does not get to fill the replay cache.
  const client = await authenticateClient(core, { params, authorization, endpoint: 'token' })
  const jkt = await optionalProof(core.dpop, { proof: dpop, method: 'POST', url: `${core.config.issuer}/oauth2/token` }, 'oauth')
  return handler({ core, params, client, ...(jkt !== undefined ? { jkt } : {}) })
}
