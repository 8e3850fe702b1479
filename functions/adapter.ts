/**
 * Our own small Azure Functions ⇄ Hono adapter (STYLE.md §2 item 9: functions/ only registers
 * and adapts). A Functions `HttpRequest` becomes a WHATWG `Request`, the one Hono app answers it,
 * and its `Response` becomes an `HttpResponseInit` the host can send.
 *
 * Facts it is built on (see also ../shared/AZURE-NOTES.md "Azure Functions"):
 * - Response headers go to the host as a string map (@azure/functions `toRpcHttp`). The service
 *   sets no cookies (bearer tokens only, CONTRACT), so `Set-Cookie` is never passed on: one
 *   would be a bug, and the string map could not carry several anyway.
 * - Errors never carry details out: the caller gets a bare problem+json, the log gets one line.
 */
import { isIP } from 'node:net'
import type {
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
 * ones the host owns), and the body as bytes.
 *
 * @example
 * return await toResponseInit(await app.fetch(request))
 */
export async function toResponseInit(res: Response): Promise<HttpResponseInit> {
  const headers: Record<string, string> = {}
  res.headers.forEach((value, name) => {
    if (name !== 'set-cookie' && !HOST_OWNED.has(name)) headers[name] = value
  })
  const init: HttpResponseInit = { status: res.status, headers }
  if (res.body !== null) init.body = new Uint8Array(await res.arrayBuffer())
  return init
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
