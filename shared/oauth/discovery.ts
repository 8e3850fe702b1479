/**
 * Authorization server metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2.
 * Lists only what exists (issue: "accurate discovery").
 */
import type { Config } from '../config.js'

export function discovery(config: Config) {
  const base = config.issuer
  return {
    issuer: config.issuer,
    authorization_endpoint: `${base}/oauth2/authorize`,
    token_endpoint: `${base}/oauth2/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    introspection_endpoint: `${base}/oauth2/introspect`,
    revocation_endpoint: `${base}/oauth2/revoke`,
    grant_types_supported: ['refresh_token'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    scopes_supported: ['openid', 'profile'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'amr', 'acr', 'sid', 'roles', 'preferred_username'],
    id_token_signing_alg_values_supported: [config.tokenAlg],
    subject_types_supported: ['public'],
    acr_values_supported: ['phr', 'phrh'],
  }
}
