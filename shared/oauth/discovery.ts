/**
 * Authorization server metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2.
 * Lists exactly what exists: the grants are the files under grants/ (token.ts GRANT_TYPES), the
 * checks of the authorization endpoint give the response types, modes and PKCE methods, and
 * test/oauth/discovery.test.ts cross-checks every member against the routes and grants.
 */
import type { Config } from '../config.js'
import { CODE_CHALLENGE_METHODS } from './pkce.js'
import { CLIENT_ASSERTION_ALGS } from './clients.js'
import { RESPONSE_MODES, RESPONSE_TYPES } from './authorization/checkResponseType.js'
import { GRANT_TYPES } from './token.js'
import { DPOP_ALGS } from './dpop.js'
import { grantableScopes } from './scopes.js'
import { AUTHORIZATION_DETAILS_TYPES } from '../agents/authorizationDetails.js'
import { ACR_VALUES } from '../webauthn/assurance.js'
import { PROMPT_VALUES } from './authorization/checkScope.js'

/** Claims of our ID tokens (shared/tokens/accessToken.ts signIdToken, sessions.ts respond). */
export const ID_TOKEN_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'amr',
  'acr',
  'at_hash',
  'sid',
  'preferred_username',
] as const

export function discovery(config: Config, { clientIdMetadataDocuments = false }: { clientIdMetadataDocuments?: boolean } = {}) {
  const base = config.issuer
  const algs = [...CLIENT_ASSERTION_ALGS]
  return {
    issuer: config.issuer,
    authorization_endpoint: `${base}/oauth2/authorize`,
    token_endpoint: `${base}/oauth2/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    introspection_endpoint: `${base}/oauth2/introspect`,
    revocation_endpoint: `${base}/oauth2/revoke`,
    grant_types_supported: [...GRANT_TYPES],
    response_types_supported: [...RESPONSE_TYPES],
    response_modes_supported: [...RESPONSE_MODES],
    code_challenge_methods_supported: [...CODE_CHALLENGE_METHODS],
    // none: public clients (authorization code + PKCE); private_key_jwt: machine clients. No secrets.
    token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: algs,
    introspection_endpoint_auth_methods_supported: ['private_key_jwt'],
    introspection_endpoint_auth_signing_alg_values_supported: algs,
    revocation_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
    revocation_endpoint_auth_signing_alg_values_supported: algs,
    scopes_supported: grantableScopes(config),
    claims_supported: [...ID_TOKEN_CLAIMS],
    id_token_signing_alg_values_supported: [config.tokenAlg],
    // RFC 9449 §5.1: DPoP proofs at the token endpoint (and checked by the authorizer).
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    subject_types_supported: ['public'],
    acr_values_supported: [...ACR_VALUES],
    prompt_values_supported: [...PROMPT_VALUES],
    // RFC 9207: the authorization response carries `iss`.
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
    // OpenID CIBA Core §4 (agents acting for people, poll mode; docs/agents.md) and RFC 9396 §10.
    backchannel_authentication_endpoint: `${base}/oauth2/bc-authorize`,
    backchannel_token_delivery_modes_supported: ['poll'],
    backchannel_user_code_parameter_supported: false,
    authorization_details_types_supported: [...AUTHORIZATION_DETAILS_TYPES],
    // draft-ietf-oauth-client-id-metadata-document: only where the runtime can fetch them.
    ...(clientIdMetadataDocuments ? { client_id_metadata_document_supported: true } : {}),
  }
}
