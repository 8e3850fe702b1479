/** Paths: Discovery and the OAuth 2.0 endpoints (CONTRACT "Tokens"; docs/oauth.md). */
import { JSON_BODY, NO_STORE, PUBLIC, SHA256_B64URL, STORAGE, formRequest, jsonRequest, jsonResponse, response, schema, type Json } from '../build.js'

export const oauthPaths: Json = {

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
        'Grants: `refresh_token`; `authorization_code` with PKCE S256; `client_credentials` with private_key_jwt (RFC 7523); ' +
        '`urn:openid:params:grant-type:ciba` for agents (poll mode: `authorization_pending`, `slow_down`, `access_denied`, `expired_token`). ' +
        '`urn:ietf:params:oauth:grant-type:token-exchange` for agents (RFC 8693): a person\'s access token for a delegated one, only under ' +
        'a standing delegation of that person to the agent, scope no wider (`invalid_grant`, `invalid_scope`, `invalid_target`). ' +
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
}
