/**
 * Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).
 *
 * - `private_key_jwt` (RFC 7523 §2.2): `client_assertion_type` + `client_assertion`, see
 *   clientAssertion.ts. The only way a confidential client authenticates: no client secrets, so
 *   HTTP Basic (client_secret_basic) is refused.
 * - `none` (public clients, RFC 6749 §2.1): `client_id` only identifies a registered public
 *   client; a confidential client's id without an assertion is refused. No `client_id` at all is
 *   the first-party page (FIRST_PARTY_CLIENT), whose tokens come from the WebAuthn endpoints.
 */
import type { Core } from '../core.js'
import { OAuthError } from '../errors.js'
import type { ClientRecord } from '../store/types.js'
import { FIRST_PARTY_CLIENT } from '../tokens/sessions.js'
import { JWT_BEARER, verifyClientAssertion } from './clientAssertion.js'
import { ClientMetadataError, findClient } from './clientMetadata.js'

export type ClientAuthentication =
  | { method: 'private_key_jwt'; clientId: string; client: ClientRecord }
  /** `client` is absent for the first-party page (clientId FIRST_PARTY_CLIENT or none given). */
  | { method: 'none'; clientId: string | undefined; client?: ClientRecord }

/** The endpoints that take client authentication, by their path under the issuer. */
export type AuthEndpoint = 'token' | 'introspect' | 'revoke' | 'bc-authorize'

/**
 * Authenticates (or identifies) the calling client from the form and the Authorization header.
 * Throws 401 invalid_client on any failure.
 *
 * @example
 * const caller = await authenticateClient(core, { params, authorization: c.req.header('authorization'), endpoint: 'token' })
 */
export async function authenticateClient(
  core: Core,
  { params, authorization, endpoint }: { params: Map<string, string>; authorization?: string; endpoint: AuthEndpoint },
): Promise<ClientAuthentication> {
  if (authorization && /^basic\s/i.test(authorization.trim()))
    throw new OAuthError('invalid_client', 'Client secrets are not supported: authenticate with private_key_jwt (RFC 7523)')
  const assertion = params.get('client_assertion')
  const assertionType = params.get('client_assertion_type')
  const clientId = params.get('client_id')
  if (assertion !== undefined || assertionType !== undefined) {
    if (assertionType !== JWT_BEARER) throw new OAuthError('invalid_client', `client_assertion_type must be ${JWT_BEARER}`)
    if (!assertion) throw new OAuthError('invalid_client', 'client_assertion is required')
    const { issuer } = core.config
    const client = await verifyClientAssertion(core, {
      assertion,
      expectedAudiences: [issuer, `${issuer}/oauth2/${endpoint}`],
    })
    // RFC 7523 §3: a client_id sent beside the assertion must be the one it authenticates.
    if (clientId !== undefined && clientId !== client.id) throw new OAuthError('invalid_client', 'client_id does not match the client_assertion')
    return { method: 'private_key_jwt', clientId: client.id, client }
  }
  if (clientId === undefined || clientId === FIRST_PARTY_CLIENT) return { method: 'none', clientId }
  let client: ClientRecord | undefined
  try {
    client = await findClient(core, clientId)
  } catch (e) {
    if (e instanceof ClientMetadataError) throw new OAuthError('invalid_client', `The client metadata document cannot be used: ${e.message}`)
    throw e
  }
  if (!client) throw new OAuthError('invalid_client', 'Unknown client_id')
  if (client.kind === 'confidential')
    throw new OAuthError('invalid_client', 'This client must authenticate with private_key_jwt (client_assertion)')
  return { method: 'none', clientId, client }
}
