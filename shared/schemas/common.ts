/**
 * Wire shapes every area shares: binary values, problems, OAuth errors, names. Each wire shape of
 * the API is declared once, here and in its area's module (webauthn, oauth, account, admin,
 * authz): routes validate request bodies with these schemas (shared/middleware/validate.ts), the
 * OpenAPI document's components are generated from them at build time (scripts/openapi.ts →
 * shared/openapi/components.generated.json), and web/ imports their types.
 *
 * Schemas are plain valibot values with no I/O, importable from the browser bundle.
 */
import * as v from 'valibot'
import { ERROR_STATUS, OAUTH_ERROR_STATUS } from '../errors.js'

/** `v.pipe(schema, v.description(text))`, the most common annotation. */
export const described = <S extends v.GenericSchema>(schema: S, text: string) => v.pipe(schema, v.description(text))

/** A named shape (a component) described where it is used: rendered as `{ $ref, description }`. */
export const about = <S extends v.GenericSchema>(schema: S, text: string) => v.pipe(v.lazy(() => schema), v.description(text))

export { ROLE_NAME, ROLE_NAME_RULE } from './names.js'

export const Base64URL = described(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]*$/)), 'Binary value, base64url without padding (RFC 4648 §5).')

/** A date-time as the API writes it (`new Date(ms).toISOString()`). */
export const DateTime = v.pipe(v.string(), v.isoTimestamp())

export const StringList = v.array(v.string())

/** Problem `code` values: every one in ERROR_STATUS, and the bare 500's. */
export const PROBLEM_CODES = [...(Object.keys(ERROR_STATUS) as (keyof typeof ERROR_STATUS)[]), 'internal_error'] as const

export const Problem = described(
  v.object({
    type: v.pipe(v.string(), v.metadata({ format: 'uri-reference', examples: ['https://passkey-edge.dev/problems/invalid_request'] })),
    title: v.string(),
    status: v.pipe(v.number(), v.integer(), v.minValue(400), v.maxValue(599)),
    detail: v.optional(v.string()),
    code: v.picklist(PROBLEM_CODES),
  }),
  'RFC 9457 problem details. `code` is stable and machine-readable; `detail` is for people and may change.',
)

/** OAuth error codes: the RFC 6749 §5.2 family and our rate limit. */
export const OAUTH_ERROR_CODES = [...(Object.keys(OAUTH_ERROR_STATUS) as (keyof typeof OAUTH_ERROR_STATUS)[]), 'rate_limited'] as const

export const OAuthError = described(
  v.object({ error: v.picklist(OAUTH_ERROR_CODES), error_description: v.optional(v.string()) }),
  'RFC 6749 §5.2 error response (token, revocation and introspection endpoints).',
)

export const Health = v.object({ status: v.picklist(['ok']) })

export const OpenApiDocument = described(
  v.object({ openapi: v.string(), info: v.looseObject({}), paths: v.looseObject({}) }),
  'This OpenAPI 3.1 document.',
)

export const HtmlPage = described(v.string(), 'An HTML document.')
export const ImageBytes = described(v.string(), 'An image, as bytes.')
export const JavaScript = described(v.string(), 'A JavaScript file.')
