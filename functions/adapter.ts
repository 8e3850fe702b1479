/**
 * Our own small Azure Functions ⇄ Hono adapter (STYLE.md §2 item 9: functions/ only registers
 * and adapts). A Functions `HttpRequest` becomes a WHATWG `Request`, the one Hono app answers it,
 * and its `Response` becomes an `HttpResponseInit` the host can send.
 *
 * Facts it is built on (see also ../shared/AZURE-NOTES.md "Azure Functions"):
 * - Response headers go to the host as a string map (@azure/functions `toRpcHttp`), so of
 *   several `Set-Cookie` headers only the last would survive. They travel through `cookies`
 *   instead, one parsed cookie each.
 * - The host writes each cookie with ASP.NET Core's `Response.Cookies.Append(name, value, …)`
 *   (azure-functions-host `RawScriptResult`), which percent-encodes the value with
 *   `Uri.EscapeDataString` (dotnet/aspnetcore `ResponseCookies`). Hono's `setCookie` has already
 *   percent-encoded it (`encodeURIComponent`), so the value is decoded here once; otherwise it
 *   would be encoded twice. A value containing `=` therefore reaches the host as `=` and the
 *   browser as `%3D`, which Hono's cookie parser decodes back.
 * - Errors never carry details out: the caller gets a bare problem+json, the log gets one line.
 */
import { isIP } from 'node:net'
import type {
  Cookie,
  HttpHandler,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions'
import { ServiceError, internalErrorResponse, problemResponse } from '../shared/errors.js'

/** What `handle()` needs from the app: Hono's `fetch`, with the bindings as `env`. */
export interface FetchApp {
  fetch(req: Request, env?: unknown): Response | Promise<Response>
}

/** Methods whose requests carry no body (the WHATWG `Request` constructor refuses one). */
const NO_BODY = new Set(['GET', 'HEAD'])

/**
 * Response headers the host sets itself from the body it writes: passing ours along could
 * contradict it (a HEAD answer keeps the GET's length, for one).
 */
const HOST_OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive'])

/**
 * A Functions `HttpRequest` as a WHATWG `Request`: method, full URL (with the `/api` prefix the
 * app's routes include), every header, and the body bytes for methods that have one.
 *
 * @example
 * const req = await toRequest(new HttpRequest({ method: 'POST', url, body: { string: '{}' } }))
 */
export async function toRequest(req: HttpRequest): Promise<Request> {
  const method = req.method.toUpperCase()
  let body: ArrayBuffer | undefined
  if (!NO_BODY.has(method)) {
    const bytes = await req.arrayBuffer()
    if (bytes.byteLength > 0) body = bytes
  }
  return new Request(req.url, { method, headers: new Headers(req.headers), body })
}

/**
 * A WHATWG `Response` as an `HttpResponseInit`: status, headers (minus `Set-Cookie` and the
 * ones the host owns), every `Set-Cookie` as a parsed `Cookie`, and the body as bytes.
 *
 * @example
 * return await toResponseInit(await app.fetch(request))
 */
export async function toResponseInit(res: Response): Promise<HttpResponseInit> {
  const headers: Record<string, string> = {}
  res.headers.forEach((value, name) => {
    if (name !== 'set-cookie' && !HOST_OWNED.has(name)) headers[name] = value
  })
  const cookies = res.headers
    .getSetCookie()
    .map(parseSetCookie)
    .filter((c): c is Cookie => c !== undefined)
  const init: HttpResponseInit = { status: res.status, headers }
  if (cookies.length > 0) init.cookies = cookies
  if (res.body !== null) init.body = new Uint8Array(await res.arrayBuffer())
  return init
}

/**
 * One `Set-Cookie` header value as a Functions `Cookie`, parsed the way RFC 6265 §5.2 says a
 * user agent does: the name is everything before the first `=`, the value everything after it
 * (more `=` included), then `;`-separated attributes, names case-insensitive, unknown ones
 * ignored. `Partitioned` and `Priority` have no place in the host's cookie and are dropped.
 * Returns undefined for a header without a name (RFC 6265 §5.2 step 2: ignore it).
 *
 * @example
 * parseSetCookie('sid=a%3D%3D; Path=/api; HttpOnly; SameSite=Lax')
 * // { name: 'sid', value: 'a==', path: '/api', httpOnly: true, sameSite: 'Lax' }
 */
export function parseSetCookie(header: string): Cookie | undefined {
  const [pair = '', ...attributes] = header.split(';')
  const eq = pair.indexOf('=')
  if (eq < 1) return undefined
  const name = pair.slice(0, eq).trim()
  if (!name) return undefined
  const cookie: Cookie = { name, value: percentDecode(unquote(pair.slice(eq + 1).trim())) }
  for (const attribute of attributes) {
    const i = attribute.indexOf('=')
    const key = (i < 0 ? attribute : attribute.slice(0, i)).trim().toLowerCase()
    const val = i < 0 ? '' : attribute.slice(i + 1).trim()
    switch (key) {
      case 'expires': {
        const t = Date.parse(val)
        if (!Number.isNaN(t)) cookie.expires = new Date(t)
        break
      }
      case 'max-age':
        // §5.2.2: a leading digit or '-', then digits only; otherwise ignore the attribute.
        if (/^-?\d+$/.test(val)) cookie.maxAge = Number(val)
        break
      case 'domain':
        if (val) cookie.domain = val
        break
      case 'path':
        // §5.2.4: a path not starting with '/' means the default path: leave it unset.
        if (val.startsWith('/')) cookie.path = val
        break
      case 'secure':
        cookie.secure = true
        break
      case 'httponly':
        cookie.httpOnly = true
        break
      case 'samesite': {
        const v = val.toLowerCase()
        if (v === 'strict') cookie.sameSite = 'Strict'
        else if (v === 'lax') cookie.sameSite = 'Lax'
        else if (v === 'none') cookie.sameSite = 'None'
        break
      }
    }
  }
  return cookie
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v
}

/** Decodes a percent-encoded value once; a value that is not valid encoding is kept as is. */
function percentDecode(v: string): string {
  if (!v.includes('%')) return v
  try {
    return decodeURIComponent(v)
  } catch {
    return v
  }
}

/**
 * The caller's address from `X-Forwarded-For` (the front end of App Service / Flex Consumption
 * puts `client-ip:port` first): first entry, port stripped, `[v6]` brackets removed. Undefined
 * when absent or not an IP address. In Azure this header is not proof of anything: nothing may
 * grant access because of it.
 *
 * @example
 * remoteAddrFrom(new Headers({ 'x-forwarded-for': '203.0.113.7:50312, 10.0.0.4' }))
 * // '203.0.113.7'
 */
export function remoteAddrFrom(headers: Headers): string | undefined {
  const first = headers.get('x-forwarded-for')?.split(',')[0]?.trim()
  if (!first) return undefined
  let addr = first
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(first)
  if (bracketed) addr = bracketed[1]!
  else if (/^[^:]+:\d+$/.test(first)) addr = first.slice(0, first.lastIndexOf(':'))
  return isIP(addr) ? addr : undefined
}

/**
 * The Functions `HttpHandler` that serves every route through the app `getApp()` resolves to.
 * The app sees `{ invocation: context, remoteAddr }` as its `env` (shared/app.ts `AppBindings`).
 *
 * When the service cannot be built (bad settings, storage down at start) or something throws
 * outside the app's own error handling, the caller gets a bare problem+json 5xx and the reason
 * is logged once through `context.error`: the error's name and message, never a request body or
 * header. A storage failure keeps its 503 `storage_unavailable` (CONTRACT.md), anything else is
 * a 500.
 *
 * @example
 * const handler = handle(async () => (await getService()).app)
 * app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler })
 */
export function handle(getApp: () => Promise<FetchApp>): HttpHandler {
  return async function handler(request: HttpRequest, context: InvocationContext) {
    let app: FetchApp
    try {
      app = await getApp()
    } catch (err) {
      context.error(`The service could not start: ${describe(err)}`)
      return await toResponseInit(failure(err))
    }
    try {
      const res = await app.fetch(await toRequest(request), {
        invocation: context,
        remoteAddr: remoteAddrFrom(request.headers),
      })
      return await toResponseInit(res)
    } catch (err) {
      context.error(`The request could not be served: ${describe(err)}`)
      return await toResponseInit(failure(err))
    }
  }
}

/** A 5xx without details: the storage's own 503 problem, else the generic 500 problem. */
function failure(err: unknown): Response {
  if (err instanceof ServiceError && err.status >= 500) return problemResponse(err)
  return internalErrorResponse()
}

/**
 * `Name: message` of an error, for the log. Settings errors name the setting (shared/config.ts);
 * anything that looks like a credential is masked all the same, in case a library quotes one.
 */
function describe(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : `thrown ${typeof err}`
  return text
    .replace(/\b(AccountKey|SharedAccessSignature|sig|code|key)=[^;&\s"']+/gi, '$1=***')
    .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer ***')
    .replace(/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '***')
}
