/**
 * OpenAPI 3.1 description of the service's own API (CONTRACT.md), served at GET /api/openapi.json
 * and importable into Azure API Management.
 *
 * Runtime-agnostic: a pure function of the settings, no I/O. `servers[0].url` is the issuer, which
 * is the `/api` base, so every path here is relative to it (`/webauthn/registration/options`).
 *
 * Written for APIM's importer (docs "API import restrictions and known issues"):
 * - every operation has an `operationId` that is already in APIM's normalised form (lower case,
 *   letters/digits/hyphens, at most 76 characters), so import and re-import match operations by it;
 * - every request and response body schema is a `$ref` into `components.schemas` (no inline body
 *   schemas, no external `$ref`, no recursive schemas);
 * - path and required query parameter names are unique within each URL template.
 *
 * test/openapi.test.ts checks the document against the routes the app really has.
 */
import { AUDIT_EVENT_TYPES } from './audit/events.js'
import type { Config } from './config.js'
import { ERROR_STATUS } from './errors.js'
import { LIMITED } from './middleware/rateLimit.js'
import { BODY_LIMIT } from './middleware/body.js'

type Json = Record<string, unknown>

const schema = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const response = (name: string) => ({ $ref: `#/components/responses/${name}` })
const parameter = (name: string) => ({ $ref: `#/components/parameters/${name}` })

const JSON_TYPE = 'application/json'
const PROBLEM_TYPE = 'application/problem+json'
const FORM_TYPE = 'application/x-www-form-urlencoded'

function jsonResponse(name: string, description: string, headers?: Json): Json {
  return { description, ...(headers ? { headers } : {}), content: { [JSON_TYPE]: { schema: schema(name) } } }
}

function jsonRequest(name: string, description: string, required = true): Json {
  return { required, description, content: { [JSON_TYPE]: { schema: schema(name) } } }
}

function formRequest(name: string, description: string): Json {
  return { required: true, description, content: { [FORM_TYPE]: { schema: schema(name) } } }
}

function problem(description: string, headers?: Json): Json {
  return { description, ...(headers ? { headers } : {}), content: { [PROBLEM_TYPE]: { schema: schema('Problem') } } }
}

function oauthProblem(description: string): Json {
  return { description, content: { [JSON_TYPE]: { schema: schema('OAuthError') } } }
}

const NO_STORE = { 'Cache-Control': { $ref: '#/components/headers/CacheControl' } }

// Response sets shared by operations.
const STORAGE = { '503': response('StorageUnavailable') }
const JSON_BODY = {
  '400': response('BadRequest'),
  '413': response('PayloadTooLarge'),
  '415': response('UnsupportedMediaType'),
}
const SIGNED_IN = { '401': response('Unauthorized') }
const ADMIN = { '401': response('Unauthorized'), '403': response('Forbidden') }

/** No credentials (public endpoints; OAuth clients authenticate in the form body). */
const PUBLIC: Json[] = []
const BEARER = [{ bearer: [] }]
/** Anonymous, or signed in with a bearer token (the two registration modes). */
const OPTIONAL_BEARER = [{}, { bearer: [] }]

/** Role names (shared/routes/manage.ts). */
const ROLE_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$'

const SHA256_B64URL = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' }

/** Problem `code` values: the contract's, every one in ERROR_STATUS, and the bare 500's. */
function problemCodes(): string[] {
  return [...Object.keys(ERROR_STATUS), 'internal_error']
}

function schemas(config: Config): Json {
  return {
    Base64URL: {
      type: 'string',
      description: 'Binary value, base64url without padding (RFC 4648 §5).',
      pattern: '^[A-Za-z0-9_-]*$',
    },
    Problem: {
      type: 'object',
      description:
        'RFC 9457 problem details. `code` is stable and machine-readable; `detail` is for people and may change.',
      required: ['type', 'title', 'status', 'code'],
      properties: {
        type: { type: 'string', format: 'uri-reference', examples: ['https://passkey-edge.dev/problems/invalid_request'] },
        title: { type: 'string' },
        status: { type: 'integer', minimum: 400, maximum: 599 },
        detail: { type: 'string' },
        code: { type: 'string', enum: problemCodes() },
      },
    },
    OAuthError: {
      type: 'object',
      description: 'RFC 6749 §5.2 error response (token, revocation and introspection endpoints).',
      required: ['error'],
      properties: {
        error: {
          type: 'string',
          enum: [
            'invalid_request',
            'invalid_client',
            'invalid_grant',
            'unauthorized_client',
            'unsupported_grant_type',
            'invalid_scope',
            'invalid_target',
            'unsupported_token_type',
            'server_error',
            'temporarily_unavailable',
            'rate_limited',
          ],
        },
        error_description: { type: 'string' },
      },
    },
    Health: {
      type: 'object',
      required: ['status'],
      properties: { status: { type: 'string', enum: ['ok'] } },
    },
    OpenApiDocument: {
      type: 'object',
      description: 'This OpenAPI 3.1 document.',
      required: ['openapi', 'info', 'paths'],
      properties: { openapi: { type: 'string' }, info: { type: 'object' }, paths: { type: 'object' } },
    },
    HtmlPage: { type: 'string', description: 'An HTML document.' },

    // ---- WebAuthn (Level 3 JSON forms) ----
    AuthenticatorTransport: {
      type: 'string',
      description: 'WebAuthn AuthenticatorTransport; unknown values are kept as given.',
      examples: ['usb', 'nfc', 'ble', 'smart-card', 'hybrid', 'internal'],
    },
    UserVerificationRequirement: { type: 'string', enum: ['required', 'preferred', 'discouraged'] },
    PublicKeyCredentialDescriptorJSON: {
      type: 'object',
      required: ['type', 'id'],
      properties: {
        type: { type: 'string', enum: ['public-key'] },
        id: schema('Base64URL'),
        transports: { type: 'array', items: schema('AuthenticatorTransport') },
      },
    },
    PublicKeyCredentialRpEntity: {
      type: 'object',
      required: ['name'],
      properties: { id: { type: 'string', examples: [config.rpId] }, name: { type: 'string', examples: [config.rpName] } },
    },
    PublicKeyCredentialUserEntityJSON: {
      type: 'object',
      required: ['id', 'name', 'displayName'],
      properties: {
        id: { ...schema('Base64URL'), description: 'User handle: the stable user id (the token `sub`).' },
        name: { type: 'string' },
        displayName: { type: 'string' },
      },
    },
    PublicKeyCredentialParameters: {
      type: 'object',
      required: ['type', 'alg'],
      properties: {
        type: { type: 'string', enum: ['public-key'] },
        alg: { type: 'integer', description: 'COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256.', enum: [-7, -8, -257] },
      },
    },
    AuthenticatorSelectionCriteria: {
      type: 'object',
      properties: {
        authenticatorAttachment: { type: 'string', enum: ['platform', 'cross-platform'] },
        residentKey: { type: 'string', enum: ['required', 'preferred', 'discouraged'] },
        requireResidentKey: { type: 'boolean' },
        userVerification: schema('UserVerificationRequirement'),
      },
    },
    PublicKeyCredentialCreationOptionsJSON: {
      type: 'object',
      description: 'Pass to `PublicKeyCredential.parseCreationOptionsFromJSON()` and `navigator.credentials.create()`.',
      required: ['rp', 'user', 'challenge', 'pubKeyCredParams'],
      properties: {
        rp: schema('PublicKeyCredentialRpEntity'),
        user: schema('PublicKeyCredentialUserEntityJSON'),
        challenge: schema('Base64URL'),
        pubKeyCredParams: { type: 'array', items: schema('PublicKeyCredentialParameters') },
        timeout: { type: 'integer', description: 'Milliseconds.', examples: [config.challengeTtl * 1000] },
        excludeCredentials: {
          type: 'array',
          description: "The account's existing passkeys.",
          items: schema('PublicKeyCredentialDescriptorJSON'),
        },
        authenticatorSelection: schema('AuthenticatorSelectionCriteria'),
        hints: { type: 'array', items: { type: 'string' } },
        attestation: { type: 'string', enum: ['none', 'indirect', 'direct', 'enterprise'] },
        extensions: { type: 'object' },
      },
    },
    PublicKeyCredentialRequestOptionsJSON: {
      type: 'object',
      description:
        'Pass to `PublicKeyCredential.parseRequestOptionsFromJSON()` and `navigator.credentials.get()`. ' +
        '`allowCredentials` is empty for usernameless / autofill sign-in.',
      required: ['challenge'],
      properties: {
        challenge: schema('Base64URL'),
        timeout: { type: 'integer', description: 'Milliseconds.' },
        rpId: { type: 'string', examples: [config.rpId] },
        allowCredentials: { type: 'array', items: schema('PublicKeyCredentialDescriptorJSON') },
        userVerification: schema('UserVerificationRequirement'),
        hints: { type: 'array', items: { type: 'string' } },
        extensions: { type: 'object' },
      },
    },
    AuthenticatorAttestationResponseJSON: {
      type: 'object',
      required: ['clientDataJSON', 'attestationObject'],
      properties: {
        clientDataJSON: schema('Base64URL'),
        attestationObject: schema('Base64URL'),
        authenticatorData: schema('Base64URL'),
        transports: { type: 'array', items: schema('AuthenticatorTransport') },
        publicKeyAlgorithm: { type: 'integer' },
        publicKey: schema('Base64URL'),
      },
    },
    RegistrationResponseJSON: {
      type: 'object',
      description: 'Exactly what `PublicKeyCredential.toJSON()` returns after `navigator.credentials.create()`.',
      required: ['id', 'rawId', 'type', 'response'],
      properties: {
        id: schema('Base64URL'),
        rawId: schema('Base64URL'),
        type: { type: 'string', enum: ['public-key'] },
        response: schema('AuthenticatorAttestationResponseJSON'),
        authenticatorAttachment: { type: 'string', enum: ['platform', 'cross-platform'] },
        clientExtensionResults: { type: 'object' },
      },
    },
    AuthenticatorAssertionResponseJSON: {
      type: 'object',
      required: ['clientDataJSON', 'authenticatorData', 'signature'],
      properties: {
        clientDataJSON: schema('Base64URL'),
        authenticatorData: schema('Base64URL'),
        signature: schema('Base64URL'),
        userHandle: schema('Base64URL'),
      },
    },
    AuthenticationResponseJSON: {
      type: 'object',
      description: 'Exactly what `PublicKeyCredential.toJSON()` returns after `navigator.credentials.get()`.',
      required: ['id', 'rawId', 'type', 'response'],
      properties: {
        id: schema('Base64URL'),
        rawId: schema('Base64URL'),
        type: { type: 'string', enum: ['public-key'] },
        response: schema('AuthenticatorAssertionResponseJSON'),
        authenticatorAttachment: { type: 'string', enum: ['platform', 'cross-platform'] },
        clientExtensionResults: { type: 'object' },
      },
    },
    RegistrationOptionsRequest: {
      type: 'object',
      description:
        'Sign-up: `username` (and optionally `displayName`), when registration is open. ' +
        'Adding a passkey to the signed-in account: a bearer token and `{}` (an empty body is accepted).',
      properties: {
        username: { type: 'string', minLength: 1 },
        displayName: { type: 'string' },
      },
    },
    RegistrationVerifyRequest: {
      type: 'object',
      required: ['credential'],
      properties: {
        credential: schema('RegistrationResponseJSON'),
        label: { type: 'string', description: 'Name of the passkey shown in self-service.' },
      },
    },
    RegistrationResult: {
      type: 'object',
      required: ['user', 'credential'],
      properties: {
        user: schema('UserRef'),
        credential: schema('Credential'),
        tokens: { ...schema('TokenResponse'), description: 'Present when this call created the account (sign-up signs in).' },
      },
    },
    AuthenticationOptionsRequest: {
      type: 'object',
      description: 'Without `username`: discoverable credentials (usernameless and autofill sign-in).',
      properties: { username: { type: 'string' } },
    },
    AuthenticationVerifyRequest: {
      type: 'object',
      required: ['credential'],
      properties: {
        credential: schema('AuthenticationResponseJSON'),
        audience: {
          type: 'string',
          description: 'One of the configured audiences; default the first.',
          enum: [...config.audiences],
        },
        scope: { type: 'string', description: 'Space-separated scopes; default `openid`.' },
      },
    },

    // ---- Tokens ----
    TokenResponse: {
      type: 'object',
      description: 'RFC 6749 §5.1.',
      required: ['access_token', 'token_type', 'expires_in'],
      properties: {
        access_token: { type: 'string', description: 'JWT access token (RFC 9068, `typ: at+jwt`).' },
        token_type: { type: 'string', enum: ['Bearer'] },
        expires_in: { type: 'integer', examples: [config.accessTokenTtl] },
        refresh_token: { type: 'string', description: 'Opaque; rotated on every use. Absent for client_credentials.' },
        scope: { type: 'string' },
        id_token: { type: 'string' },
      },
    },
    RefreshTokenGrantRequest: {
      type: 'object',
      description: 'RFC 6749 §6. Presenting a used refresh token revokes its whole session.',
      required: ['grant_type', 'refresh_token'],
      properties: {
        grant_type: { type: 'string', enum: ['refresh_token'] },
        refresh_token: { type: 'string' },
        scope: { type: 'string', description: 'Space-separated; at most the scopes originally granted.' },
        client_id: { type: 'string' },
      },
    },
    AuthorizationCodeGrantRequest: {
      type: 'object',
      description: 'RFC 6749 §4.1.3 with PKCE (RFC 7636, S256 only); public clients, exact `redirect_uri` match.',
      required: ['grant_type', 'code', 'redirect_uri', 'client_id', 'code_verifier'],
      properties: {
        grant_type: { type: 'string', enum: ['authorization_code'] },
        code: { type: 'string' },
        redirect_uri: { type: 'string', format: 'uri' },
        client_id: { type: 'string' },
        code_verifier: { type: 'string', pattern: '^[A-Za-z0-9._~-]{43,128}$' },
      },
    },
    ClientCredentialsGrantRequest: {
      type: 'object',
      description:
        'RFC 6749 §4.4 for machine clients authenticated with private_key_jwt (RFC 7523 §2.2; no client secrets). ' +
        `The assertion's \`aud\` is the token endpoint (${config.issuer}/oauth2/token) or the issuer.`,
      required: ['grant_type', 'client_assertion_type', 'client_assertion'],
      properties: {
        grant_type: { type: 'string', enum: ['client_credentials'] },
        client_assertion_type: { type: 'string', enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'] },
        client_assertion: { type: 'string', description: 'JWT signed with a key of the registered client (iss = sub = client_id).' },
        client_id: { type: 'string' },
        scope: { type: 'string' },
      },
    },
    TokenRequest: {
      description: 'One of the supported grants, chosen by `grant_type`.',
      oneOf: [
        schema('RefreshTokenGrantRequest'),
        schema('AuthorizationCodeGrantRequest'),
        schema('ClientCredentialsGrantRequest'),
      ],
      discriminator: {
        propertyName: 'grant_type',
        mapping: {
          refresh_token: '#/components/schemas/RefreshTokenGrantRequest',
          authorization_code: '#/components/schemas/AuthorizationCodeGrantRequest',
          client_credentials: '#/components/schemas/ClientCredentialsGrantRequest',
        },
      },
    },
    IntrospectionRequest: {
      type: 'object',
      description: 'RFC 7662 §2.1; the caller authenticates with private_key_jwt (RFC 7523 §2.2).',
      required: ['token', 'client_assertion_type', 'client_assertion'],
      properties: {
        token: { type: 'string' },
        token_type_hint: { type: 'string', enum: ['access_token', 'refresh_token'] },
        client_assertion_type: { type: 'string', enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'] },
        client_assertion: { type: 'string', description: 'JWT signed with a key of the registered client (iss = sub = client_id).' },
        client_id: { type: 'string' },
      },
    },
    IntrospectionResponse: {
      type: 'object',
      description: 'RFC 7662 §2.2. Inactive tokens (and tokens the caller may not see) give only `{ "active": false }`.',
      required: ['active'],
      properties: {
        active: { type: 'boolean' },
        token_type: { type: 'string' },
        iss: { type: 'string' },
        sub: { type: 'string' },
        aud: { type: 'string' },
        exp: { type: 'integer' },
        iat: { type: 'integer' },
        jti: { type: 'string' },
        client_id: { type: 'string' },
        scope: { type: 'string' },
        auth_time: { type: 'integer' },
        amr: { type: 'array', items: { type: 'string' } },
        acr: { type: 'string' },
        roles: { type: 'array', items: { type: 'string' } },
        sid: { type: 'string' },
      },
    },
    RevocationRequest: {
      type: 'object',
      description:
        'RFC 7009 §2.1. Confidential clients authenticate with private_key_jwt, public clients send `client_id`; ' +
        'with neither, the caller is the first-party page (tokens from the WebAuthn endpoints).',
      required: ['token'],
      properties: {
        token: { type: 'string' },
        token_type_hint: { type: 'string', enum: ['access_token', 'refresh_token'] },
        client_id: { type: 'string' },
        client_assertion_type: { type: 'string', enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'] },
        client_assertion: { type: 'string' },
      },
    },
    // --- Hosted authorization page (GET /oauth2/authorize) calls ---
    AuthorizeOptionsRequest: {
      type: 'object',
      description: 'The sealed authorization request from the hosted page; `username` for non-discoverable sign-in.',
      required: ['request'],
      properties: { request: { type: 'string' }, username: { type: 'string' } },
    },
    AuthorizeOptionsResponse: {
      type: 'object',
      required: ['options', 'request'],
      properties: {
        options: schema('PublicKeyCredentialRequestOptionsJSON'),
        request: { type: 'string', description: 'The authorization request bound to `options.challenge`: send it to …/complete.' },
      },
    },
    AuthorizeCompleteRequest: {
      type: 'object',
      required: ['request', 'credential'],
      properties: { request: { type: 'string' }, credential: schema('AuthenticationResponseJSON') },
    },
    AuthorizeCompleteResponse: {
      type: 'object',
      description: 'Where to send the browser: the redirect URI with `code`, `state` and `iss` (RFC 9207).',
      required: ['redirect_to'],
      properties: { redirect_to: { type: 'string', format: 'uri' } },
    },
    JavaScript: { type: 'string', description: 'A JavaScript file.' },
    AuthorizationServerMetadata: {
      type: 'object',
      description: 'OpenID Connect Discovery 1.0 §3 / RFC 8414 §2. Clients ignore members they do not know.',
      additionalProperties: true,
      required: [
        'issuer',
        'authorization_endpoint',
        'token_endpoint',
        'jwks_uri',
        'introspection_endpoint',
        'revocation_endpoint',
        'grant_types_supported',
        'response_types_supported',
        'code_challenge_methods_supported',
        'token_endpoint_auth_methods_supported',
        'scopes_supported',
        'id_token_signing_alg_values_supported',
        'subject_types_supported',
      ],
      properties: {
        issuer: { type: 'string', format: 'uri', examples: [config.issuer] },
        authorization_endpoint: { type: 'string', format: 'uri' },
        token_endpoint: { type: 'string', format: 'uri' },
        jwks_uri: { type: 'string', format: 'uri' },
        introspection_endpoint: { type: 'string', format: 'uri' },
        revocation_endpoint: { type: 'string', format: 'uri' },
        grant_types_supported: { type: 'array', items: { type: 'string' } },
        response_types_supported: { type: 'array', items: { type: 'string' } },
        response_modes_supported: { type: 'array', items: { type: 'string' } },
        code_challenge_methods_supported: { type: 'array', items: { type: 'string', enum: ['S256'] } },
        token_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
        revocation_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
        introspection_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
        scopes_supported: { type: 'array', items: { type: 'string' } },
        claims_supported: { type: 'array', items: { type: 'string' } },
        id_token_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
        subject_types_supported: { type: 'array', items: { type: 'string' } },
        acr_values_supported: { type: 'array', items: { type: 'string' } },
        // --- OAuth completeness (docs/oauth.md) ---
        token_endpoint_auth_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
        introspection_endpoint_auth_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
        revocation_endpoint_auth_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
        prompt_values_supported: { type: 'array', items: { type: 'string' } },
        authorization_response_iss_parameter_supported: { type: 'boolean' },
        request_parameter_supported: { type: 'boolean' },
        request_uri_parameter_supported: { type: 'boolean' },
        claims_parameter_supported: { type: 'boolean' },
      },
    },
    JsonWebKey: {
      type: 'object',
      description: 'A public JWK (RFC 7517): no private members.',
      required: ['kty', 'kid', 'use', 'alg'],
      properties: {
        kty: { type: 'string', enum: ['RSA', 'EC'] },
        kid: { type: 'string' },
        use: { type: 'string', enum: ['sig'] },
        alg: { type: 'string', enum: ['RS256', 'PS256', 'ES256'] },
        n: { type: 'string' },
        e: { type: 'string' },
        crv: { type: 'string' },
        x: { type: 'string' },
        y: { type: 'string' },
      },
    },
    JsonWebKeySet: {
      type: 'object',
      description: 'The signing key in use, the next key (published ahead of use) and retired keys still needed to verify.',
      required: ['keys'],
      properties: { keys: { type: 'array', items: schema('JsonWebKey') } },
    },
    ClientJsonWebKeySet: {
      type: 'object',
      description: "A client's public keys for private_key_jwt (RFC 7517 JWK Set).",
      required: ['keys'],
      properties: {
        keys: {
          type: 'array',
          minItems: 1,
          maxItems: 10,
          items: {
            type: 'object',
            description: 'Public members only: a key with d, p, q, dp, dq, qi, oth or k is refused.',
            required: ['kty'],
            properties: {
              kty: { type: 'string', enum: ['RSA', 'EC', 'OKP'] },
              kid: { type: 'string' },
              alg: { type: 'string', enum: ['RS256', 'PS256', 'ES256', 'EdDSA'] },
              use: { type: 'string', enum: ['sig'] },
              n: { type: 'string', description: 'RSA modulus (at least 2048 bits).' },
              e: { type: 'string' },
              crv: { type: 'string', enum: ['P-256', 'Ed25519'] },
              x: { type: 'string' },
              y: { type: 'string' },
            },
          },
        },
      },
    },

    // ---- Accounts ----
    UserRef: {
      type: 'object',
      required: ['id', 'username'],
      properties: { id: { type: 'string', description: 'Stable user id (the token `sub`).' }, username: { type: 'string' } },
    },
    Credential: {
      type: 'object',
      description: 'A passkey of an account.',
      required: ['id', 'label', 'createdAt', 'lastUsedAt', 'aaguid', 'backupEligible', 'backedUp', 'transports', 'deviceBound'],
      properties: {
        id: schema('Base64URL'),
        label: { type: 'string' },
        createdAt: { type: 'string', format: 'date-time' },
        lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
        aaguid: { type: 'string', format: 'uuid' },
        backupEligible: { type: 'boolean' },
        backedUp: { type: 'boolean' },
        transports: { type: 'array', items: schema('AuthenticatorTransport') },
        deviceBound: { type: 'boolean', description: 'Not backup-eligible: the key cannot leave the authenticator.' },
        authenticatorName: { type: 'string', description: 'The authenticator model, when its AAGUID is a known one.' },
        flagged: { type: 'string', description: 'Present when the passkey was flagged (e.g. counter regression) and is refused.' },
      },
    },
    CredentialList: { type: 'array', items: schema('Credential') },
    CredentialLabelUpdate: {
      type: 'object',
      required: ['label'],
      properties: { label: { type: 'string', minLength: 1 } },
    },
    Me: {
      type: 'object',
      required: ['id', 'username', 'displayName', 'roles'],
      properties: {
        id: { type: 'string' },
        username: { type: 'string' },
        displayName: { type: 'string' },
        roles: { type: 'array', items: { type: 'string' } },
      },
    },
    ManagedUser: {
      type: 'object',
      required: ['id', 'username', 'roles', 'credentials'],
      properties: {
        id: { type: 'string' },
        username: { type: 'string' },
        displayName: { type: 'string' },
        roles: { type: 'array', items: { type: 'string' } },
        createdAt: { type: 'string', format: 'date-time' },
        credentials: { type: 'array', items: schema('Credential') },
      },
    },
    ManagedUserList: { type: 'array', items: schema('ManagedUser') },

    // ---- Authorization ----
    Permission: {
      type: 'object',
      description:
        'Allows `methods` on paths matching `path` (glob: `*` one segment, `**` any number), ' +
        'for the API `apiId` when given, and only to tokens whose `acr` satisfies `acr` when given ' +
        '(`phrh` satisfies `phr`).',
      required: ['methods', 'path'],
      additionalProperties: false,
      properties: {
        methods: {
          type: 'array',
          minItems: 1,
          maxItems: 16,
          description: 'HTTP methods (stored upper-case), or `["*"]` for any.',
          items: { type: 'string', pattern: '^(\\*|[A-Za-z]{1,16})$' },
          examples: [['GET', 'POST'], ['*']],
        },
        path: { type: 'string', examples: ['/orders/*', '/admin/**'] },
        apiId: { type: 'string', minLength: 1, maxLength: 256 },
        acr: { type: 'string', enum: ['phr', 'phrh'] },
      },
    },
    Role: {
      type: 'object',
      required: ['name', 'permissions'],
      properties: {
        name: { type: 'string', pattern: ROLE_PATTERN },
        permissions: { type: 'array', items: schema('Permission') },
        updatedAt: { type: 'string', format: 'date-time' },
      },
    },
    UserRoles: {
      type: 'object',
      description: "A user's roles after the change.",
      required: ['id', 'username', 'roles'],
      properties: {
        id: { type: 'string' },
        username: { type: 'string' },
        roles: { type: 'array', items: { type: 'string' } },
      },
    },
    RoleList: { type: 'array', items: schema('Role') },
    RolePermissions: {
      type: 'object',
      required: ['permissions'],
      properties: { permissions: { type: 'array', maxItems: 100, items: schema('Permission') } },
    },
    AuthzRequest: {
      type: 'object',
      description:
        "The gateway's request to decide. The caller's token is the forwarded `Authorization: Bearer` header, " +
        "or `token` when the gateway's managed identity takes the Authorization header.",
      required: ['method', 'path'],
      properties: {
        method: { type: 'string', pattern: '^[A-Za-z]{1,16}$', examples: ['GET'] },
        path: { type: 'string', pattern: '^/', maxLength: 4096, examples: ['/orders/42'] },
        apiId: { type: ['string', 'null'], maxLength: 256 },
        operationId: { type: ['string', 'null'], maxLength: 256 },
        token: { type: ['string', 'null'], description: "The caller's access token, when the Authorization header is the gateway's own." },
      },
    },
    AuthzDecision: {
      type: 'object',
      required: ['allow', 'status', 'reason', 'roles', 'scopes', 'ttl'],
      properties: {
        allow: { type: 'boolean' },
        status: {
          type: 'integer',
          enum: [200, 401, 403],
          description: 'What the gateway should answer: 401 no/bad/expired/revoked token, 403 no permitting role.',
        },
        reason: { type: 'string' },
        sub: { type: 'string' },
        roles: { type: 'array', items: { type: 'string' } },
        scopes: { type: 'array', items: { type: 'string' } },
        ttl: { type: 'integer', minimum: 0, description: "Seconds the gateway may cache this decision (never past the token's exp)." },
      },
    },

    // ---- Administration ----
    SigningKey: {
      type: 'object',
      required: ['kid', 'alg', 'state', 'createdAt', 'activatesAt'],
      properties: {
        kid: { type: 'string' },
        alg: { type: 'string', enum: ['RS256', 'PS256', 'ES256'] },
        state: {
          type: 'string',
          enum: ['next', 'active', 'retired'],
          description: '`next`: published, not signing yet; `active`: signs; `retired`: published until its tokens expire. A revoked key is not listed.',
        },
        createdAt: { type: 'string', format: 'date-time' },
        activatesAt: { type: 'string', format: 'date-time' },
        retiredAt: { type: 'string', format: 'date-time' },
        expiresAt: { type: 'string', format: 'date-time', description: 'When it leaves the JWKS.' },
      },
    },
    SigningKeyList: { type: 'array', items: schema('SigningKey') },
    AuditEvent: {
      type: 'object',
      description: 'One hash-chained audit event (docs/audit.md). Ids and usernames, never a token, assertion or key.',
      required: ['id', 'seq', 'time', 'type', 'outcome', 'actor', 'target', 'detail', 'prev', 'hash'],
      properties: {
        id: { type: 'string', pattern: '^[0-9]{16}$', description: 'The sequence number, zero-padded: the cursor for `since`.' },
        seq: { type: 'integer', minimum: 1 },
        time: { type: 'string', format: 'date-time' },
        type: { type: 'string', enum: [...AUDIT_EVENT_TYPES] },
        outcome: { type: 'string', enum: ['success', 'failure'] },
        actor: {
          type: 'object',
          description: 'Who acted (absent members: unknown, e.g. an unauthenticated caller).',
          properties: {
            userId: { type: 'string' },
            username: { type: 'string' },
            clientId: { type: 'string' },
            system: { type: 'string' },
          },
        },
        target: {
          type: 'object',
          description: 'What was acted on.',
          properties: {
            userId: { type: 'string' },
            username: { type: 'string' },
            credentialId: { type: 'string' },
            sessionId: { type: 'string' },
            role: { type: 'string' },
            clientId: { type: 'string' },
            kid: { type: 'string' },
          },
        },
        ip: { type: 'string', description: 'First X-Forwarded-For entry, else the remote address.' },
        userAgent: { type: 'string', maxLength: 256 },
        detail: { type: 'object', additionalProperties: true },
        prev: { type: 'string', description: "The previous event's hash." },
        hash: { type: 'string', description: 'base64url HMAC-SHA-256 chaining this event to `prev`.' },
      },
    },
    AuditEventList: { type: 'array', description: 'Oldest first.', items: schema('AuditEvent') },
    ClientRegistration: {
      type: 'object',
      description:
        'With `jwks` or `jwks_uri` (not both): a confidential machine client (private_key_jwt, client_credentials). ' +
        'Without keys: a public client for the authorization code flow (PKCE required, `redirect_uris` needed).',
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1 },
        jwks: schema('ClientJsonWebKeySet'),
        jwks_uri: { type: 'string', format: 'uri' },
        roles: {
          type: 'array',
          description: 'Machine clients only: roles of the client (each defined with PUT /manage/roles/{role}, or `admin`).',
          items: { type: 'string' },
        },
        redirect_uris: {
          type: 'array',
          description: 'Public clients only (required): absolute https URIs (http only for loopback hosts), no fragment; matched exactly.',
          items: { type: 'string', format: 'uri' },
        },
        scopes: {
          type: 'array',
          description: 'API scopes (from the SCOPES setting) this client may be granted besides openid and profile; others are refused with invalid_scope.',
          items: { type: 'string' },
        },
      },
    },
    ClientCreated: {
      type: 'object',
      description: 'The registration as stored (RFC 7591 §3.2.1 member names); there is no client secret.',
      required: ['client_id', 'name', 'token_endpoint_auth_method', 'grant_types', 'roles', 'createdAt'],
      properties: {
        client_id: { type: 'string' },
        name: { type: 'string' },
        token_endpoint_auth_method: { type: 'string', enum: ['private_key_jwt', 'none'] },
        grant_types: { type: 'array', items: { type: 'string', enum: ['client_credentials', 'authorization_code', 'refresh_token'] } },
        response_types: { type: 'array', items: { type: 'string', enum: ['code'] } },
        redirect_uris: { type: 'array', items: { type: 'string', format: 'uri' } },
        jwks: schema('ClientJsonWebKeySet'),
        jwks_uri: { type: 'string', format: 'uri' },
        roles: { type: 'array', items: { type: 'string' } },
        scopes: { type: 'array', items: { type: 'string' } },
        createdAt: { type: 'string', format: 'date-time' },
      },
    },
  }
}

function components(config: Config): Json {
  return {
    schemas: schemas(config),
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: `Access token from ${config.issuer}/oauth2/token or the WebAuthn sign-in (RFC 9068 JWT).`,
      },
      functionKey: {
        type: 'apiKey',
        in: 'header',
        name: 'x-functions-key',
        description: 'Azure Functions function key (APIM sends it from a named value). The local server accepts loopback callers instead.',
      },
    },
    headers: {
      CacheControl: { description: 'Responses carrying secrets or per-user data are not cached.', schema: { type: 'string', examples: ['no-store'] } },
      WWWAuthenticate: { description: 'RFC 6750 §3 challenge.', schema: { type: 'string', examples: ['Bearer error="invalid_token"'] } },
      RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
      Location: { description: 'Redirect target.', schema: { type: 'string', format: 'uri' } },
    },
    parameters: {
      CredentialId: {
        name: 'id',
        in: 'path',
        required: true,
        description: 'Credential id, base64url.',
        schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
      },
      RoleName: {
        name: 'role',
        in: 'path',
        required: true,
        description: 'Role name: 1–64 of a-z 0-9 . _ - (lower case). `admin` is built in.',
        schema: { type: 'string', pattern: ROLE_PATTERN },
      },
      UserId: { name: 'userId', in: 'path', required: true, description: 'Stable user id (the token `sub`).', schema: { type: 'string' } },
      Kid: { name: 'kid', in: 'path', required: true, description: 'Key id as in the JWKS.', schema: { type: 'string' } },
    },
    responses: {
      BadRequest: problem(
        'Malformed or wrong input (`invalid_request`), or a failed WebAuthn check (`challenge_unknown`, `challenge_expired`, ' +
          '`origin_mismatch`, `rp_id_mismatch`, `user_presence_required`, `user_verification_required`, `signature_invalid`, ' +
          '`counter_regression`, `credential_unknown`, `credential_revoked`, `unsupported_algorithm`).',
      ),
      Unauthorized: problem('Missing or invalid bearer token, or its session was revoked (`unauthorized`).', {
        'WWW-Authenticate': { $ref: '#/components/headers/WWWAuthenticate' },
      }),
      Forbidden: problem("The token's subject lacks the required role, read live (`forbidden`).", {
        'WWW-Authenticate': { $ref: '#/components/headers/WWWAuthenticate' },
      }),
      NotFound: problem('No such resource (`not_found`).'),
      Conflict: problem('Conflicts with the current state (`conflict`, `username_taken`, `credential_exists`, `last_credential`).'),
      PayloadTooLarge: problem(`Body over ${BODY_LIMIT} bytes (\`payload_too_large\`).`),
      UnsupportedMediaType: problem('Wrong content type (`unsupported_media_type`): send application/json.'),
      StorageUnavailable: problem('Storage did not answer (`storage_unavailable`); nothing was changed. Retry.', {
        'Retry-After': { $ref: '#/components/headers/RetryAfter' },
      }),
      OAuthBadRequest: oauthProblem(
        'RFC 6749 §5.2: `invalid_request` (also for a wrong content type), `invalid_grant`, `unsupported_grant_type`, `invalid_scope`, …',
      ),
      OAuthInvalidClient: oauthProblem('Client authentication failed (`invalid_client`).'),
      OAuthPayloadTooLarge: oauthProblem(`Body over ${BODY_LIMIT} bytes (\`invalid_request\`).`),
      OAuthUnavailable: oauthProblem('Storage did not answer (`temporarily_unavailable`); retry.'),
    },
  }
}

function paths(): Json {
  return {
    '/health': {
      get: {
        operationId: 'get-health',
        summary: 'Health check',
        description: '200 when storage answers, else 503.',
        tags: ['health'],
        security: PUBLIC,
        responses: {
          '200': jsonResponse('Health', 'Storage answers.', NO_STORE),
          ...STORAGE,
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'get-openapi-document',
        summary: 'This OpenAPI document',
        tags: ['meta'],
        security: PUBLIC,
        responses: { '200': jsonResponse('OpenApiDocument', 'OpenAPI 3.1 description of this API.') },
      },
    },

    // ---- WebAuthn ----
    '/webauthn/registration/options': {
      post: {
        operationId: 'webauthn-registration-options',
        summary: 'Start passkey registration',
        description:
          'Without a bearer token: sign-up with `{ username, displayName? }` (when registration is open). ' +
          'With a bearer token and `{}`: add a passkey to the signed-in account.',
        tags: ['webauthn'],
        security: OPTIONAL_BEARER,
        requestBody: jsonRequest('RegistrationOptionsRequest', 'Who registers.', false),
        responses: {
          '200': jsonResponse('PublicKeyCredentialCreationOptionsJSON', 'Creation options; the challenge lives `CHALLENGE_TTL` seconds.', NO_STORE),
          ...JSON_BODY,
          '401': response('Unauthorized'),
          '403': problem('Registration is closed (`registration_closed`).'),
          '409': problem('Username already taken (`username_taken`).'),
          ...STORAGE,
        },
      },
    },
    '/webauthn/registration/verify': {
      post: {
        operationId: 'webauthn-registration-verify',
        summary: 'Finish passkey registration',
        description: 'Verifies the attestation; consumes the challenge whatever the outcome. Sign-up also signs in (`tokens`).',
        tags: ['webauthn'],
        security: OPTIONAL_BEARER,
        requestBody: jsonRequest('RegistrationVerifyRequest', 'The new credential.'),
        responses: {
          '201': jsonResponse('RegistrationResult', 'Passkey registered.', NO_STORE),
          ...JSON_BODY,
          '401': response('Unauthorized'),
          '403': problem('Registration is closed, or the challenge was issued to another account (`registration_closed`, `forbidden`).'),
          '409': problem('Username or credential already registered (`username_taken`, `credential_exists`).'),
          ...STORAGE,
        },
      },
    },
    '/webauthn/authentication/options': {
      post: {
        operationId: 'webauthn-authentication-options',
        summary: 'Start passkey sign-in',
        description:
          'Without `username`: empty `allowCredentials` (usernameless and autofill sign-in). ' +
          'Unknown usernames get options of the same shape (no account enumeration).',
        tags: ['webauthn'],
        security: PUBLIC,
        requestBody: jsonRequest('AuthenticationOptionsRequest', 'Optional username.', false),
        responses: {
          '200': jsonResponse('PublicKeyCredentialRequestOptionsJSON', 'Request options.', NO_STORE),
          ...JSON_BODY,
          ...STORAGE,
        },
      },
    },
    '/webauthn/authentication/verify': {
      post: {
        operationId: 'webauthn-authentication-verify',
        summary: 'Finish passkey sign-in',
        description: 'Verifies the assertion; consumes the challenge whatever the outcome. Issues tokens for `audience`.',
        tags: ['webauthn'],
        security: PUBLIC,
        requestBody: jsonRequest('AuthenticationVerifyRequest', 'The assertion.'),
        responses: {
          '200': jsonResponse('TokenResponse', 'Signed in.', NO_STORE),
          ...JSON_BODY,
          ...STORAGE,
        },
      },
    },

    // ---- Discovery ----
    '/.well-known/openid-configuration': {
      get: {
        operationId: 'get-openid-configuration',
        summary: 'OpenID Connect Discovery metadata',
        tags: ['discovery'],
        security: PUBLIC,
        responses: { '200': jsonResponse('AuthorizationServerMetadata', 'Metadata (OpenID Connect Discovery 1.0).') },
      },
    },
    '/.well-known/oauth-authorization-server': {
      get: {
        operationId: 'get-oauth-authorization-server',
        summary: 'OAuth 2.0 authorization server metadata',
        tags: ['discovery'],
        security: PUBLIC,
        responses: { '200': jsonResponse('AuthorizationServerMetadata', 'Metadata (RFC 8414).') },
      },
    },
    '/.well-known/jwks.json': {
      get: {
        operationId: 'get-jwks',
        summary: 'Token signing keys (JWKS)',
        description: 'Public keys only: the key in use, the next key ahead of its use, and retired keys still verifying.',
        tags: ['discovery'],
        security: PUBLIC,
        responses: {
          '200': jsonResponse('JsonWebKeySet', 'JWK Set (RFC 7517).'),
          ...STORAGE,
        },
      },
    },

    // ---- OAuth 2.0 ----
    '/oauth2/token': {
      post: {
        operationId: 'oauth2-token',
        summary: 'Token endpoint',
        description:
          'Grants: `refresh_token`; `authorization_code` with PKCE S256; `client_credentials` with private_key_jwt (RFC 7523). ' +
          'Errors are RFC 6749 §5.2 JSON.',
        tags: ['oauth2'],
        security: PUBLIC,
        requestBody: formRequest('TokenRequest', 'Grant parameters.'),
        responses: {
          '200': jsonResponse('TokenResponse', 'Tokens (RFC 6749 §5.1).', NO_STORE),
          '400': response('OAuthBadRequest'),
          '401': response('OAuthInvalidClient'),
          '413': response('OAuthPayloadTooLarge'),
          '503': response('OAuthUnavailable'),
        },
      },
    },
    '/oauth2/authorize': {
      get: {
        operationId: 'oauth2-authorize',
        summary: 'Authorization endpoint (code flow with PKCE)',
        description:
          'Shows the hosted passkey sign-in page, then redirects to the registered `redirect_uri` with `code` and `state` ' +
          '(or `error`, RFC 6749 §4.1.2.1). An unknown `client_id` or unregistered `redirect_uri` is answered here, never redirected.',
        tags: ['oauth2'],
        security: PUBLIC,
        parameters: [
          { name: 'response_type', in: 'query', required: true, schema: { type: 'string', enum: ['code'] } },
          { name: 'client_id', in: 'query', required: true, schema: { type: 'string' } },
          {
            name: 'redirect_uri',
            in: 'query',
            required: true,
            description: 'Exactly one of the client\'s registered redirect URIs.',
            schema: { type: 'string', format: 'uri' },
          },
          { name: 'scope', in: 'query', required: false, description: 'Space-separated.', schema: { type: 'string' } },
          { name: 'state', in: 'query', required: false, description: 'Returned unchanged with the code.', schema: { type: 'string' } },
          { name: 'nonce', in: 'query', required: false, description: 'Copied into the ID token.', schema: { type: 'string' } },
          {
            name: 'code_challenge',
            in: 'query',
            required: true,
            description: 'BASE64URL(SHA-256(code_verifier)).',
            schema: SHA256_B64URL,
          },
          { name: 'code_challenge_method', in: 'query', required: true, schema: { type: 'string', enum: ['S256'] } },
        ],
        responses: {
          '200': { description: 'The hosted passkey sign-in page.', content: { 'text/html': { schema: schema('HtmlPage') } } },
          '302': {
            description: 'Redirect to `redirect_uri` with `error`, `error_description`, `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207).',
            headers: { Location: { $ref: '#/components/headers/Location' } },
          },
          '400': {
            description: 'Unknown `client_id` or unregistered `redirect_uri`: an error page, never a redirect.',
            content: { 'text/html': { schema: schema('HtmlPage') } },
          },
          ...STORAGE,
        },
      },
    },
    '/oauth2/authorize/app.js': {
      get: {
        operationId: 'oauth2-authorize-script',
        summary: "The hosted sign-in page's script",
        description: "Served from the service's own origin for the page's CSP `script-src 'self'`.",
        tags: ['oauth2'],
        security: PUBLIC,
        responses: { '200': { description: 'JavaScript.', content: { 'text/javascript': { schema: schema('JavaScript') } } } },
      },
    },
    '/oauth2/authorize/options': {
      post: {
        operationId: 'oauth2-authorize-options',
        summary: 'Passkey request options for the hosted sign-in page',
        description: 'Issues WebAuthn request options (usernameless unless `username`) and binds the authorization request to their challenge.',
        tags: ['oauth2'],
        security: PUBLIC,
        requestBody: jsonRequest('AuthorizeOptionsRequest', 'The sealed authorization request.'),
        responses: {
          '200': jsonResponse('AuthorizeOptionsResponse', 'Options and the bound request.', NO_STORE),
          ...JSON_BODY,
          ...STORAGE,
        },
      },
    },
    '/oauth2/authorize/complete': {
      post: {
        operationId: 'oauth2-authorize-complete',
        summary: 'Finish the hosted sign-in: verify the passkey, issue the code',
        description:
          'Verifies the assertion (over the bound request\'s challenge), records the sign-in and answers where to redirect: ' +
          'the redirect URI with a single-use code (60 s, bound to client, redirect URI, PKCE challenge and nonce), `state` and `iss`.',
        tags: ['oauth2'],
        security: PUBLIC,
        requestBody: jsonRequest('AuthorizeCompleteRequest', 'The bound request and the passkey assertion.'),
        responses: {
          '200': jsonResponse('AuthorizeCompleteResponse', 'The redirect.', NO_STORE),
          ...JSON_BODY,
          ...STORAGE,
        },
      },
    },
    '/oauth2/introspect': {
      post: {
        operationId: 'oauth2-introspect',
        summary: 'Token introspection (RFC 7662)',
        description:
          'For confidential clients authenticated with private_key_jwt. A client sees tokens issued to it or about it; ' +
          'a client with role `admin` or `introspect` any token. Others are reported inactive.',
        tags: ['oauth2'],
        security: PUBLIC,
        requestBody: formRequest('IntrospectionRequest', 'The token to introspect.'),
        responses: {
          '200': jsonResponse('IntrospectionResponse', 'Introspection result.', NO_STORE),
          '400': response('OAuthBadRequest'),
          '401': response('OAuthInvalidClient'),
          '413': response('OAuthPayloadTooLarge'),
          ...STORAGE,
        },
      },
    },
    '/oauth2/revoke': {
      post: {
        operationId: 'oauth2-revoke',
        summary: 'Token revocation (RFC 7009)',
        description:
          "Revokes the token's session. An invalid or unknown token is not an error (RFC 7009 §2.2); a token issued to " +
          'another client is refused (`invalid_request`).',
        tags: ['oauth2'],
        security: PUBLIC,
        requestBody: formRequest('RevocationRequest', 'The token to revoke.'),
        responses: {
          '200': { description: 'Revoked (or there was nothing to revoke).' },
          '400': response('OAuthBadRequest'),
          '401': response('OAuthInvalidClient'),
          '413': response('OAuthPayloadTooLarge'),
          '503': response('OAuthUnavailable'),
        },
      },
    },

    // ---- Authorizer ----
    '/authz/check': {
      post: {
        operationId: 'authz-check',
        summary: 'Authorize a gateway request',
        description:
          'Called by APIM `send-request`. 200 whenever a decision was made (the decision\'s `status` is what the gateway answers); ' +
          '400 for a malformed call; 503 when no decision can be made (the gateway fails closed).',
        tags: ['authorizer'],
        // The function key always; the caller's token as the forwarded bearer header, or in the body's `token`.
        security: [{ functionKey: [], bearer: [] }, { functionKey: [] }],
        requestBody: jsonRequest('AuthzRequest', 'The request to decide.'),
        responses: {
          '200': jsonResponse('AuthzDecision', 'A decision.', NO_STORE),
          ...JSON_BODY,
          '401': problem('Missing or wrong `x-functions-key` (answered by the Functions host, possibly without a body).'),
          '403': problem('Not the gateway: the local server accepts loopback callers only (`forbidden`).'),
          ...STORAGE,
        },
      },
    },

    // ---- Self-service ----
    '/me': {
      get: {
        operationId: 'get-me',
        summary: 'The signed-in account',
        tags: ['account'],
        security: BEARER,
        responses: {
          '200': jsonResponse('Me', 'The account.', NO_STORE),
          ...SIGNED_IN,
          ...STORAGE,
        },
      },
    },
    '/me/credentials': {
      get: {
        operationId: 'list-my-credentials',
        summary: "The signed-in account's passkeys",
        tags: ['account'],
        security: BEARER,
        responses: {
          '200': jsonResponse('CredentialList', 'Passkeys, oldest first.', NO_STORE),
          ...SIGNED_IN,
          ...STORAGE,
        },
      },
    },
    '/me/credentials/{id}': {
      parameters: [parameter('CredentialId')],
      patch: {
        operationId: 'update-my-credential',
        summary: 'Rename one of my passkeys',
        tags: ['account'],
        security: BEARER,
        requestBody: jsonRequest('CredentialLabelUpdate', 'The new label.'),
        responses: {
          '200': jsonResponse('Credential', 'The updated passkey.', NO_STORE),
          ...JSON_BODY,
          ...SIGNED_IN,
          '404': response('NotFound'),
          ...STORAGE,
        },
      },
      delete: {
        operationId: 'delete-my-credential',
        summary: 'Delete one of my passkeys',
        description: 'Revokes the sessions signed in with it. Deleting the last usable passkey is refused (409 `last_credential`).',
        tags: ['account'],
        security: BEARER,
        responses: {
          '204': { description: 'Deleted.' },
          ...SIGNED_IN,
          '404': response('NotFound'),
          '409': problem('This is the last passkey of the account (`last_credential`).'),
          ...STORAGE,
        },
      },
    },

    // ---- Administration ----
    '/manage/roles': {
      get: {
        operationId: 'manage-list-roles',
        summary: 'List roles and their permissions',
        tags: ['manage'],
        security: BEARER,
        responses: {
          '200': jsonResponse('RoleList', 'Roles.', NO_STORE),
          ...ADMIN,
          ...STORAGE,
        },
      },
    },
    '/manage/roles/{role}': {
      parameters: [parameter('RoleName')],
      put: {
        operationId: 'manage-put-role',
        summary: 'Create or replace a role',
        tags: ['manage'],
        security: BEARER,
        requestBody: jsonRequest('RolePermissions', "The role's permissions."),
        responses: {
          '200': jsonResponse('Role', 'The role as stored; the authorizer uses it at once.', NO_STORE),
          ...JSON_BODY,
          ...ADMIN,
          ...STORAGE,
        },
      },
      delete: {
        operationId: 'manage-delete-role',
        summary: 'Delete a role',
        tags: ['manage'],
        security: BEARER,
        responses: {
          '204': { description: 'Deleted.' },
          '400': response('BadRequest'),
          ...ADMIN,
          '404': response('NotFound'),
          ...STORAGE,
        },
      },
    },
    '/manage/users': {
      get: {
        operationId: 'manage-list-users',
        summary: 'Find users with their roles and passkeys',
        tags: ['manage'],
        security: BEARER,
        parameters: [
          {
            name: 'username',
            in: 'query',
            required: true,
            description: 'Exact username (users are looked up, not listed).',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': jsonResponse('ManagedUserList', 'The user with that username, or an empty list.', NO_STORE),
          '400': response('BadRequest'),
          ...ADMIN,
          ...STORAGE,
        },
      },
    },
    '/manage/users/{userId}/roles/{role}': {
      parameters: [parameter('UserId'), parameter('RoleName')],
      put: {
        operationId: 'manage-grant-user-role',
        summary: 'Give a user a role',
        description: 'The role must exist (`admin` always does). Idempotent.',
        tags: ['manage'],
        security: BEARER,
        responses: {
          '200': jsonResponse('UserRoles', 'The user has the role.', NO_STORE),
          '400': response('BadRequest'),
          ...ADMIN,
          '404': response('NotFound'),
          ...STORAGE,
        },
      },
      delete: {
        operationId: 'manage-revoke-user-role',
        summary: 'Take a role from a user',
        description: 'Idempotent.',
        tags: ['manage'],
        security: BEARER,
        responses: {
          '200': jsonResponse('UserRoles', 'The user does not have the role.', NO_STORE),
          '400': response('BadRequest'),
          ...ADMIN,
          '404': response('NotFound'),
          ...STORAGE,
        },
      },
    },
    '/manage/credentials/{id}': {
      parameters: [parameter('CredentialId')],
      delete: {
        operationId: 'manage-revoke-credential',
        summary: 'Revoke a passkey and its sessions',
        description: 'The passkey stays listed, flagged, and is refused at sign-in (`credential_revoked`).',
        tags: ['manage'],
        security: BEARER,
        responses: {
          '204': { description: 'Revoked.' },
          ...ADMIN,
          '404': response('NotFound'),
          ...STORAGE,
        },
      },
    },
    '/manage/clients': {
      post: {
        operationId: 'manage-create-client',
        summary: 'Register an OAuth client',
        description:
          'With `jwks` or `jwks_uri`: a confidential machine client (`private_key_jwt`). Without keys: a public client for ' +
          'the authorization code flow (PKCE required).',
        tags: ['manage'],
        security: BEARER,
        requestBody: jsonRequest('ClientRegistration', 'The client.'),
        responses: {
          '201': jsonResponse('ClientCreated', 'Registered.', NO_STORE),
          ...JSON_BODY,
          ...ADMIN,
          '404': response('NotFound'),
          '409': response('Conflict'),
          ...STORAGE,
        },
      },
    },
    '/manage/clients/{clientId}': {
      get: {
        operationId: 'manage-get-client',
        summary: 'Read an OAuth client registration',
        tags: ['manage'],
        security: BEARER,
        parameters: [{ name: 'clientId', in: 'path', required: true, description: 'The client_id.', schema: { type: 'string' } }],
        responses: {
          '200': jsonResponse('ClientCreated', 'The registration and the client\'s current roles.', NO_STORE),
          ...ADMIN,
          '404': response('NotFound'),
          ...STORAGE,
        },
      },
    },
    '/manage/keys': {
      get: {
        operationId: 'manage-list-keys',
        summary: 'List token signing keys',
        tags: ['manage'],
        security: BEARER,
        responses: {
          '200': jsonResponse('SigningKeyList', 'Keys with their state and dates.', NO_STORE),
          ...ADMIN,
          ...STORAGE,
        },
      },
    },
    '/manage/keys/rotate': {
      post: {
        operationId: 'manage-rotate-keys',
        summary: 'Promote the next signing key now',
        description: 'The active key retires (still published for the overlap) and a new next key is created.',
        tags: ['manage'],
        security: BEARER,
        responses: {
          '200': jsonResponse('SigningKeyList', 'Keys after the rotation.', NO_STORE),
          ...ADMIN,
          '409': response('Conflict'),
          ...STORAGE,
        },
      },
    },
    '/manage/keys/{kid}': {
      parameters: [parameter('Kid')],
      delete: {
        operationId: 'manage-revoke-key',
        summary: 'Revoke a compromised signing key at once',
        description: 'It leaves the JWKS and the tokens it signed stop verifying.',
        tags: ['manage'],
        security: BEARER,
        responses: {
          '204': { description: 'Revoked.' },
          ...ADMIN,
          '404': response('NotFound'),
          '409': response('Conflict'),
          ...STORAGE,
        },
      },
    },
    '/manage/audit': {
      get: {
        operationId: 'manage-list-audit-events',
        summary: 'Audit events',
        tags: ['manage'],
        security: BEARER,
        description:
          'Pages of the audit log, oldest first. A full page has a `Link: <…>; rel="next"` header; the last ' +
          "event's `id` is always the `since` of the next page. `npm run audit:verify` checks the chain.",
        parameters: [
          {
            name: 'since',
            in: 'query',
            required: false,
            description: 'An event id (the page starts after it) or an ISO 8601 time (events at or after it). Absent: from the first event.',
            schema: { type: 'string' },
          },
          {
            name: 'limit',
            in: 'query',
            required: false,
            description: 'Page size, 1–1000 (default 100).',
            schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        ],
        responses: {
          '200': jsonResponse('AuditEventList', 'Events, oldest first.', {
            ...NO_STORE,
            Link: { description: 'RFC 8288 `rel="next"`: the next page, when this one is full.', schema: { type: 'string' } },
          }),
          '400': response('BadRequest'),
          ...ADMIN,
          ...STORAGE,
        },
      },
    },
  }
}

/**
 * The OpenAPI 3.1 document of this service for the given settings. Plain JSON data: serve it with
 * `c.json(openApiDocument(config))`, or save it for `az apim api import --specification-format OpenApiJson`.
 *
 * @example
 * const doc = openApiDocument(config) as { servers: { url: string }[] }
 * doc.servers[0].url === config.issuer
 */
/** CONTRACT v2 "Rate limits": a 429 on every operation of the rate-limited routes. */
function withRateLimits(all: Json): Json {
  const retryAfter = { 'Retry-After': { description: 'Seconds until the window ends.', schema: { type: 'integer' } } }
  for (const [path, ops] of Object.entries(all as Record<string, Record<string, { responses?: Record<string, unknown> }>>)) {
    if (!LIMITED.test(`/api${path}`)) continue
    for (const op of Object.values(ops))
      if (op.responses)
        op.responses['429'] =
          path === '/oauth2/token'
            ? { ...oauthProblem('More than RATE_LIMIT requests a minute from this address (`rate_limited`).'), headers: retryAfter }
            : problem('More than RATE_LIMIT requests a minute from this address (`rate_limited`).', retryAfter)
  }
  return all
}

export function openApiDocument(config: Config): object {
  return {
    openapi: '3.1.0',
    info: {
      title: `${config.rpName} identity service`,
      version: '0.1.0',
      summary: 'Passkey (WebAuthn) sign-in, OAuth 2.0 tokens, and the authorizer API Management calls.',
      description:
        'Errors are RFC 9457 `application/problem+json` with a stable `code`, except the OAuth endpoints, ' +
        'which answer RFC 6749 §5.2 `{ error, error_description }`. Bad input of any shape yields 4xx, never 5xx.\n\n' +
        'Importing into Azure API Management: required query parameters of `GET /oauth2/authorize` become URL template ' +
        'parameters unless the API is created with `translateRequiredQueryParameters: query`, which is recommended here ' +
        '(the service then answers missing parameters itself).',
    },
    servers: [{ url: config.issuer, description: 'The issuer: the /api base of the service.' }],
    tags: [
      { name: 'health', description: 'Liveness with storage.' },
      { name: 'webauthn', description: 'Passkey registration and sign-in ceremonies (WebAuthn Level 3 JSON).' },
      { name: 'discovery', description: 'OpenID Connect Discovery, RFC 8414 metadata and the JWKS.' },
      { name: 'oauth2', description: 'OAuth 2.0 endpoints.' },
      { name: 'authorizer', description: 'Decisions for API Management.' },
      { name: 'account', description: 'Self-service for the signed-in account.' },
      { name: 'manage', description: 'Administration (bearer token of a subject with role admin).' },
      { name: 'meta', description: 'This document.' },
    ],
    paths: withRateLimits(paths()),
    components: components(config),
  }
}
