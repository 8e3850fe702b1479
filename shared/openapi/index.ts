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
import type { Config } from '../config.js'
import { LIMITED } from '../middleware/rateLimit.js'
import { oauthProblem, problem, type Json } from './build.js'
import { components } from './components.js'
import { accountPaths } from './paths/account.js'
import { agentPaths } from './paths/agents.js'
import { authzPaths } from './paths/authz.js'
import { managePaths } from './paths/manage.js'
import { metaPaths } from './paths/meta.js'
import { oauthPaths } from './paths/oauth.js'
import { sessionPaths } from './paths/sessions.js'
import { webauthnPaths } from './paths/webauthn.js'

/** Every path, in the order the document lists them. */
function paths(): Json {
  // A fresh copy: withRateLimits adds to it.
  return structuredClone({ ...metaPaths, ...webauthnPaths, ...oauthPaths, ...authzPaths, ...accountPaths, ...sessionPaths, ...agentPaths, ...managePaths })
}


/** CONTRACT v2 "Rate limits": a 429 on every operation of the rate-limited routes. */
function withRateLimits(all: Json): Json {
  const retryAfter = { 'Retry-After': { description: 'Seconds until the window ends.', schema: { type: 'integer' } } }
  for (const [path, ops] of Object.entries(all as Record<string, Record<string, { responses?: Record<string, unknown> }>>)) {
    if (!LIMITED.test(`/api${path}`)) continue
    for (const op of Object.values(ops))
      if (op.responses)
        op.responses['429'] =
          path === '/oauth2/token' || path === '/oauth2/bc-authorize'
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
