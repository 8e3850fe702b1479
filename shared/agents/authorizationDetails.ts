/**
 * RFC 9396 Rich Authorization Requests: `authorization_details` of type `api_request` (CONTRACT v2
 * "Approval per action"), as an agent sends them to POST /api/oauth2/bc-authorize.
 *
 * Each entry names one call: `{ "type": "api_request", "method", "path", "apiId"? }`. The path is
 * kept as the authorizer normalises it (shared/authz/glob.ts `normalisePath`), so the person sees,
 * and the authorizer compares, exactly one string; a path the authorizer would refuse to
 * interpret is refused here already. Anything else is `invalid_authorization_details` (§5).
 */
import { normalisePath } from '../authz/glob.js'
import { OAuthError } from '../errors.js'
import type { ApiRequestDetail } from '../store/types.js'

/** The only type this server understands (discovery `authorization_details_types_supported`). */
export const AUTHORIZATION_DETAILS_TYPES = ['api_request'] as const

/** Entries per request: one approval covers a handful of calls at most. */
export const MAX_DETAILS = 10
const METHOD = /^[A-Za-z]{1,16}$/
const CONTROL = /[\u0000-\u001f\u007f]/

const refuse = (why: string) => new OAuthError('invalid_authorization_details', why)

/**
 * The parameter's JSON text → the details (undefined when absent).
 *
 * @example
 * parseAuthorizationDetails('[{"type":"api_request","method":"post","path":"/orders"}]')
 * // [{ type: 'api_request', method: 'POST', path: '/orders' }]
 */
export function parseAuthorizationDetails(raw: string | undefined): ApiRequestDetail[] | undefined {
  if (raw === undefined) return undefined
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    throw refuse('authorization_details must be a JSON array (RFC 9396 §2)')
  }
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_DETAILS)
    throw refuse(`authorization_details must be a JSON array of 1 to ${MAX_DETAILS} objects`)
  return v.map((d, i) => {
    const at = `authorization_details[${i}]`
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw refuse(`${at} must be an object`)
    const { type, method, path, apiId, ...rest } = d as Record<string, unknown>
    if (type !== 'api_request') throw refuse(`${at}.type must be one of ${AUTHORIZATION_DETAILS_TYPES.join(', ')}`)
    if (Object.keys(rest).length) throw refuse(`${at} has unknown members: ${Object.keys(rest).join(', ')}`)
    if (typeof method !== 'string' || !METHOD.test(method)) throw refuse(`${at}.method must be an HTTP method`)
    if (typeof path !== 'string' || path.length > 2048 || CONTROL.test(path)) throw refuse(`${at}.path must be a path starting with /`)
    const normalised = normalisePath(path)
    if (!normalised.ok) throw refuse(`${at}.path: ${normalised.reason}`)
    if (path.includes('?') || path.includes('#')) throw refuse(`${at}.path must have no query or fragment`)
    if (apiId !== undefined && (typeof apiId !== 'string' || apiId.length === 0 || apiId.length > 256 || CONTROL.test(apiId)))
      throw refuse(`${at}.apiId must be a non-empty string`)
    return { type: 'api_request', method: method.toUpperCase(), path: normalised.path, ...(apiId !== undefined ? { apiId: apiId as string } : {}) }
  })
}
