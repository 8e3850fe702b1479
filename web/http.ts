/**
 * Calls to the service's API (same origin, under /api in both runtimes). Failures become an
 * `ApiError` carrying what the server said: RFC 9457 problem details (`title`, `detail`, `code`)
 * or, from the token and revocation endpoints, RFC 6749 §5.2 `{ error, error_description }`.
 */
import { jsonOrUndefined } from '../shared/util/json.js'
import { proof, tookNonce } from './dpop.js'

export const API = '/api'

export class ApiError extends Error {
  readonly status: number
  /** The problem's `code`, or the OAuth `error`. */
  readonly code: string | undefined
  readonly title: string
  readonly detail: string | undefined
  /** The passkey a failed sign-in used, when the failure is about it. */
  credentialId?: string

  constructor(status: number, title: string, detail?: string, code?: string) {
    super(detail ? `${title}: ${detail}` : title)
    this.name = 'ApiError'
    this.status = status
    this.title = title
    this.detail = detail
    this.code = code
  }
}

/** The network failed (no answer at all), as opposed to an error answer. */
export class NetworkError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`No answer from ${url}`, { cause })
    this.name = 'NetworkError'
  }
}

export interface RequestOptions {
  method?: string
  /** Sent as JSON. */
  json?: unknown
  /** Sent as application/x-www-form-urlencoded (OAuth endpoints). */
  form?: Record<string, string>
  /** Access token for `Authorization: Bearer` (or `DPoP` with `dpop`). */
  token?: string
  /**
   * RFC 9449: send a DPoP proof by the page's key (web/dpop.ts), and the token with the `DPoP`
   * scheme. A `use_dpop_nonce` answer is retried once with the nonce it gave.
   */
  dpop?: boolean
}

/**
 * Fetches `path` under /api and returns the parsed JSON body (undefined for an empty body).
 *
 * @example
 * const me = await request<Me>('/me', { token })
 */
export async function request<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  let body: string | undefined
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.json)
  } else if (opts.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(opts.form).toString()
  }
  const url = API + path
  const method = opts.method ?? (body === undefined ? 'GET' : 'POST')
  for (let attempt = 1; ; attempt++) {
    const p = opts.dpop ? await proof(method, url, opts.token) : undefined
    if (p) headers.dpop = p
    if (opts.token) headers.authorization = `${p ? 'DPoP' : 'Bearer'} ${opts.token}`
    let res: Response
    try {
      res = await fetch(url, { method, headers, body, credentials: 'omit' })
    } catch (e) {
      throw new NetworkError(url, e)
    }
    if (p && tookNonce(res, url) && attempt === 1) continue
    return (await readResponse(res)) as T
  }
}

/** The JSON body of a successful response, or an `ApiError` built from an error response. */
export async function readResponse(res: Response): Promise<unknown> {
  const data = jsonOrUndefined(await res.text())
  if (res.ok) return data
  throw errorFrom(res, data)
}

export function errorFrom(res: Response, data: unknown): ApiError {
  const d = (data ?? {}) as Record<string, unknown>
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined)
  // RFC 9457 problem details.
  const title = str(d.title)
  if (title) return new ApiError(res.status, title, str(d.detail), str(d.code))
  // RFC 6749 §5.2.
  const error = str(d.error)
  if (error)
    return new ApiError(res.status, error.replace(/_/g, ' '), str(d.error_description), error)
  return new ApiError(res.status, `The server answered ${res.status} ${res.statusText}`.trim())
}
