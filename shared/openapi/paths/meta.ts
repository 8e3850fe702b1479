/** Paths: Health and this document. */
import { NO_STORE, PUBLIC, STORAGE, jsonResponse, problem, schema, type Json } from '../build.js'

export const metaPaths: Json = {
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
  '/authenticators/{id}/icon': {
    parameters: [
      {
        name: 'id',
        in: 'path',
        required: true,
        description: "The model's AAGUID, or a U2F model's attestation certificate key identifier (40 hex digits).",
        schema: { type: 'string', pattern: '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{40})$' },
      },
    ],
    get: {
      operationId: 'get-authenticator-icon',
      summary: "An authenticator model's icon",
      description: "The icon of the model in the FIDO metadata in use (METADATA_BLOB), decoded from its data: URL and served from this origin (credential views' `authenticator.icon`). PNG, JPEG, GIF, WebP or SVG, with `X-Content-Type-Options: nosniff`.",
      tags: ['meta'],
      security: PUBLIC,
      responses: {
        '200': {
          description: 'The icon.',
          content: Object.fromEntries(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml'].map((t) => [t, { schema: schema('ImageBytes') }])),
        },
        '404': problem('No such model, or it has no icon.'),
      },
    },
  },
}
