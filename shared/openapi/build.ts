/**
 * Building blocks of the OpenAPI paths tables: references, bodies, problems, security. The
 * schemas themselves are generated from shared/schemas/ (components.generated.json).
 */
import { ROLE_NAME } from '../schemas/common.js'

export type Json = Record<string, unknown>

export const schema = (name: string) => ({ $ref: `#/components/schemas/${name}` })
export const response = (name: string) => ({ $ref: `#/components/responses/${name}` })
export const parameter = (name: string) => ({ $ref: `#/components/parameters/${name}` })

export const JSON_TYPE = 'application/json'
export const PROBLEM_TYPE = 'application/problem+json'
export const FORM_TYPE = 'application/x-www-form-urlencoded'

export function jsonResponse(name: string, description: string, headers?: Json): Json {
  return { description, ...(headers ? { headers } : {}), content: { [JSON_TYPE]: { schema: schema(name) } } }
}

export function jsonRequest(name: string, description: string, required = true): Json {
  return { required, description, content: { [JSON_TYPE]: { schema: schema(name) } } }
}

export function formRequest(name: string, description: string): Json {
  return { required: true, description, content: { [FORM_TYPE]: { schema: schema(name) } } }
}

export function problem(description: string, headers?: Json): Json {
  return { description, ...(headers ? { headers } : {}), content: { [PROBLEM_TYPE]: { schema: schema('Problem') } } }
}

export function oauthProblem(description: string): Json {
  return { description, content: { [JSON_TYPE]: { schema: schema('OAuthError') } } }
}

export const NO_STORE = { 'Cache-Control': { $ref: '#/components/headers/CacheControl' } }

// Response sets shared by operations.
export const STORAGE = { '503': response('StorageUnavailable') }
export const JSON_BODY = {
  '400': response('BadRequest'),
  '413': response('PayloadTooLarge'),
  '415': response('UnsupportedMediaType'),
}
export const SIGNED_IN = { '401': response('Unauthorized') }
export const ADMIN = { '401': response('Unauthorized'), '403': response('Forbidden') }

/** No credentials (public endpoints; OAuth clients authenticate in the form body). */
export const PUBLIC: Json[] = []
export const BEARER = [{ bearer: [] }]
/** Anonymous, or signed in with a bearer token (the two registration modes). */
export const OPTIONAL_BEARER = [{}, { bearer: [] }]

/** Role names (shared/routes/manage.ts). */
export const ROLE_PATTERN = ROLE_NAME.source

export const SHA256_B64URL = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' }

/** Problem `code` values: the contract's, every one in ERROR_STATUS, and the bare 500's. */
