/**
 * `components` of the OpenAPI document: the schemas generated from shared/schemas/ (by
 * scripts/openapi.ts, committed as components.generated.json) with this deployment's settings
 * filled in, and the shared security schemes, headers, parameters and responses.
 */
import type { Config } from '../config.js'
import { BODY_LIMIT } from '../middleware/body.js'
import { ROLE_PATTERN, oauthProblem, problem, type Json } from './build.js'
import generated from './components.generated.json' with { type: 'json' }

/** The generated schemas, with what only the settings know (the audiences a sign-in may ask for). */
function schemasFor(config: Config): Json {
  const schemas = structuredClone(generated) as Record<string, Json & { properties?: Record<string, Json> }>
  const audience = schemas.AuthenticationVerifyRequest?.properties?.audience
  if (audience) audience.enum = [...config.audiences]
  return schemas
}

export function components(config: Config): Json {
  return {
    schemas: schemasFor(config),
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
