/** Paths: Health and this document. */
import { NO_STORE, PUBLIC, STORAGE, jsonResponse, type Json } from '../build.js'

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
}
