/** OAuth 2.0 and discovery wire shapes (CONTRACT "Tokens"; docs/oauth.md). Form bodies are documented here; the grants parse them. */
import * as v from 'valibot'
import { about, described, StringList } from './common.js'
import { CibaGrantRequest } from './agents.js'
import { AuthenticationOptionsRequest, AuthenticationResponseJSON, Credential, PublicKeyCredentialRequestOptionsJSON, UserRef } from './webauthn.js'

const Int = v.pipe(v.number(), v.integer())
const Uri = v.pipe(v.string(), v.metadata({ format: 'uri' }))
const JWT_BEARER = v.picklist(['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'])
const ASSERTION = described(v.string(), 'JWT signed with a key of the registered client (iss = sub = client_id).')
const TokenTypeHint = v.picklist(['access_token', 'refresh_token'])

export const TokenResponse = described(
  v.object({
    access_token: described(v.string(), 'JWT access token (RFC 9068, `typ: at+jwt`).'),
    token_type: described(v.picklist(['Bearer', 'DPoP']), '`DPoP` when the tokens are bound to a DPoP key (RFC 9449 §5): a proof made the session, or a bound session was refreshed. A session keeps the binding it was made with.'),
    expires_in: Int,
    refresh_token: v.optional(described(v.string(), 'Opaque; rotated on every use. Absent for client_credentials.')),
    scope: v.optional(v.string()),
    id_token: v.optional(v.string()),
    issued_token_type: v.optional(
      described(v.picklist(['urn:ietf:params:oauth:token-type:access_token']), 'Token exchange only (RFC 8693 §2.2.1): the type of `access_token`.'),
    ),
  }),
  'RFC 6749 §5.1 (and RFC 8693 §2.2.1 for token exchange).',
)
export type TokenResponseBody = v.InferOutput<typeof TokenResponse>

/** POST /webauthn/registration/verify's answer (here, beside the tokens sign-up returns). */
export const RegistrationResult = v.object({
  user: UserRef,
  credential: Credential,
  tokens: v.optional(about(TokenResponse, 'Present when this call created the account (sign-up and invitations sign in) or recovered it.')),
})

export const RefreshTokenGrantRequest = described(
  v.object({
    grant_type: v.picklist(['refresh_token']),
    refresh_token: v.string(),
    scope: v.optional(described(v.string(), 'Space-separated; at most the scopes originally granted.')),
    client_id: v.optional(v.string()),
  }),
  'RFC 6749 §6. Presenting a used refresh token revokes its whole session.',
)
export const AuthorizationCodeGrantRequest = described(
  v.object({
    grant_type: v.picklist(['authorization_code']),
    code: v.string(),
    redirect_uri: Uri,
    client_id: v.string(),
    code_verifier: v.pipe(v.string(), v.regex(/^[A-Za-z0-9._~-]{43,128}$/)),
  }),
  'RFC 6749 §4.1.3 with PKCE (RFC 7636, S256 only); public clients, exact `redirect_uri` match.',
)
export const ClientCredentialsGrantRequest = described(
  v.object({
    grant_type: v.picklist(['client_credentials']),
    client_assertion_type: JWT_BEARER,
    client_assertion: ASSERTION,
    client_id: v.optional(v.string()),
    scope: v.optional(v.string()),
  }),
  'RFC 6749 §4.4 for machine clients authenticated with private_key_jwt (RFC 7523 §2.2; no client secrets). ' +
    "The assertion's `aud` is the token endpoint (`{issuer}/oauth2/token`) or the issuer.",
)
/** RFC 8693 §3: the grant type and the one token type this service exchanges and issues. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
export const TokenExchangeGrantRequest = described(
  v.object({
    grant_type: v.picklist([TOKEN_EXCHANGE_GRANT]),
    subject_token: described(v.string(), "An access token of ours for the person (not a delegated one): valid, unexpired, its session live."),
    subject_token_type: v.picklist([ACCESS_TOKEN_TYPE]),
    scope: v.optional(described(v.string(), "Space-separated; at most the standing delegation's scope (default: that scope).")),
    audience: v.optional(described(v.string(), "One of AUDIENCES (default: the delegation's); else `invalid_target`.")),
    resource: v.optional(described(v.string(), 'RFC 8707, the same as `audience` (both: equal).')),
    requested_token_type: v.optional(v.picklist([ACCESS_TOKEN_TYPE])),
    client_assertion_type: JWT_BEARER,
    client_assertion: ASSERTION,
    client_id: v.optional(v.string()),
  }),
  "RFC 8693 §2.1 for agents (private_key_jwt): the person's access token for a delegated one, only while the person has a standing " +
    "delegation to this agent. `actor_token` is refused (the actor is the authenticated agent). No refresh token.",
)

/** One of the grants, chosen by `grant_type` (rendered as oneOf with a discriminator). */
export const TokenRequest = described(
  v.variant('grant_type', [RefreshTokenGrantRequest, AuthorizationCodeGrantRequest, ClientCredentialsGrantRequest, CibaGrantRequest, TokenExchangeGrantRequest]),
  'One of the supported grants, chosen by `grant_type`.',
)

export const IntrospectionRequest = described(
  v.object({
    token: v.string(),
    token_type_hint: v.optional(TokenTypeHint),
    client_assertion_type: JWT_BEARER,
    client_assertion: ASSERTION,
    client_id: v.optional(v.string()),
  }),
  'RFC 7662 §2.1; the caller authenticates with private_key_jwt (RFC 7523 §2.2).',
)
export const IntrospectionResponse = described(
  v.object({
    active: v.boolean(),
    token_type: v.optional(v.string()),
    iss: v.optional(v.string()),
    sub: v.optional(v.string()),
    aud: v.optional(v.string()),
    exp: v.optional(Int),
    iat: v.optional(Int),
    jti: v.optional(v.string()),
    client_id: v.optional(v.string()),
    scope: v.optional(v.string()),
    auth_time: v.optional(Int),
    amr: v.optional(StringList),
    acr: v.optional(v.string()),
    roles: v.optional(StringList),
    sid: v.optional(v.string()),
  }),
  'RFC 7662 §2.2. Inactive tokens (and tokens the caller may not see) give only `{ "active": false }`.',
)
export const RevocationRequest = described(
  v.object({
    token: v.string(),
    token_type_hint: v.optional(TokenTypeHint),
    client_id: v.optional(v.string()),
    client_assertion_type: v.optional(JWT_BEARER),
    client_assertion: v.optional(v.string()),
  }),
  'RFC 7009 §2.1. Confidential clients authenticate with private_key_jwt, public clients send `client_id`; ' +
    'with neither, the caller is the first-party page (tokens from the WebAuthn endpoints).',
)

// --- The hosted authorization page's calls (GET /oauth2/authorize) ---
/** The answer to a sealed request that does not open (tampered, expired, from another deployment). */
export const SIGN_IN_EXPIRED = 'This sign-in request is not valid or has expired: start again from the application'
const SealedRequest = v.string(SIGN_IN_EXPIRED)
export const AuthorizeOptionsRequest = described(
  v.object({ request: SealedRequest, username: AuthenticationOptionsRequest.entries.username }),
  'The sealed authorization request from the hosted page; `username` for non-discoverable sign-in.',
)
export const AuthorizeOptionsResponse = v.object({
  options: PublicKeyCredentialRequestOptionsJSON,
  request: described(v.string(), 'The authorization request bound to `options.challenge`: send it to …/complete.'),
})
export const AuthorizeCompleteRequest = v.object({ request: SealedRequest, credential: AuthenticationResponseJSON })
export const AuthorizeCompleteResponse = described(
  v.object({ redirect_to: Uri }),
  'Where to send the browser: the redirect URI with `code`, `state` and `iss` (RFC 9207).',
)

const List = v.optional(StringList)
const Flag = v.optional(v.boolean())
export const AuthorizationServerMetadata = described(
  v.looseObject({
    issuer: Uri,
    authorization_endpoint: Uri,
    token_endpoint: Uri,
    jwks_uri: Uri,
    introspection_endpoint: Uri,
    revocation_endpoint: Uri,
    grant_types_supported: StringList,
    response_types_supported: StringList,
    response_modes_supported: List,
    code_challenge_methods_supported: v.array(v.picklist(['S256'])),
    token_endpoint_auth_methods_supported: StringList,
    revocation_endpoint_auth_methods_supported: List,
    introspection_endpoint_auth_methods_supported: List,
    scopes_supported: StringList,
    claims_supported: List,
    id_token_signing_alg_values_supported: StringList,
    subject_types_supported: StringList,
    acr_values_supported: List,
    // --- OAuth completeness (docs/oauth.md) ---
    token_endpoint_auth_signing_alg_values_supported: List,
    introspection_endpoint_auth_signing_alg_values_supported: List,
    revocation_endpoint_auth_signing_alg_values_supported: List,
    prompt_values_supported: List,
    authorization_response_iss_parameter_supported: Flag,
    request_parameter_supported: Flag,
    request_uri_parameter_supported: Flag,
    claims_parameter_supported: Flag,
    // --- Agents (OpenID CIBA Core §4, RFC 9396 §10) ---
    backchannel_authentication_endpoint: v.optional(Uri),
    backchannel_token_delivery_modes_supported: v.optional(v.array(v.picklist(['poll']))),
    backchannel_user_code_parameter_supported: Flag,
    backchannel_authentication_request_signing_alg_values_supported: List,
    authorization_details_types_supported: List,
    // --- Client ID metadata documents (CONTRACT v2 "AI clients and MCP servers") ---
    client_id_metadata_document_supported: Flag,
    dpop_signing_alg_values_supported: v.optional(described(v.array(v.string()), 'RFC 9449 §5.1: the DPoP proof algorithms accepted.')),
  }),
  'OpenID Connect Discovery 1.0 §3 / RFC 8414 §2. Clients ignore members they do not know.',
)

export const JsonWebKey = described(
  v.object({
    kty: v.picklist(['RSA', 'EC']),
    kid: v.string(),
    use: v.picklist(['sig']),
    alg: v.picklist(['RS256', 'PS256', 'ES256']),
    n: v.optional(v.string()),
    e: v.optional(v.string()),
    crv: v.optional(v.string()),
    x: v.optional(v.string()),
    y: v.optional(v.string()),
  }),
  'A public JWK (RFC 7517): no private members.',
)
export const JsonWebKeySet = described(
  v.object({ keys: v.array(JsonWebKey) }),
  'The signing key in use, the next key (published ahead of use) and retired keys still needed to verify.',
)

export type RegistrationResultBody = v.InferOutput<typeof RegistrationResult>
export type AuthorizeOptionsBody = v.InferOutput<typeof AuthorizeOptionsResponse>
