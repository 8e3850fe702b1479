/**
 * Rendering the one error family (shared/errors.ts), once per kind of router: the app renders
 * problem+json, the OAuth endpoints RFC 6749 §5.2 JSON. Each is an `onError` of its own (Hono
 * runs a sub-app's onError for errors in that sub-app's routes when it is mounted with
 * `app.route`); an error a handler does not render goes on to the app's.
 */
import type { ErrorHandler } from 'hono'
import type { AppEnv } from '../env.js'
import { OAuthError, ServiceError, internalErrorResponse, oauthErrorResponse, problemResponse } from '../errors.js'

/** Where unexpected errors go (name and message only: never bodies, tokens or secrets). */
export type LogError = (msg: string) => void

/** A hidden error's cause and any 5xx's message are for the operator; 4xx are the caller's. */
function logServiceError(err: ServiceError, log: LogError): void {
  if (!err.expose) log(`${err.code}: ${causeOf(err)}`)
  else if (err.status >= 500) log(`${err.code}: ${err.message}`)
}

function causeOf(err: Error): string {
  const c = err.cause
  return c instanceof Error ? `${c.name}: ${c.message}` : String(c ?? '')
}

/**
 * The app's onError: a ServiceError as problem+json, an OAuthError as RFC 6749 §5.2, anything
 * else as the bare 500 of internalErrorResponse (logged by name and message).
 *
 * @example
 * app.onError(renderErrors(logError))
 */
export function renderErrors(log: LogError): ErrorHandler<AppEnv> {
  return function renderErrors(err) {
    if (err instanceof ServiceError) {
      logServiceError(err, log)
      return problemResponse(err)
    }
    if (err instanceof OAuthError) return oauthErrorResponse(err)
    log(`unhandled ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`)
    return internalErrorResponse()
  }
}

/**
 * The onError of the endpoints that speak RFC 6749 §5.2 even when storage fails (token,
 * revocation, introspection): a ServiceError becomes `temporarily_unavailable` (5xx, its detail
 * only when exposed) or `invalid_request`, with its status and its headers but its
 * WWW-Authenticate. Anything that is neither kind goes on to the app's onError.
 *
 * @example
 * endpoints.onError(renderOAuthErrors(logError))
 */
export function renderOAuthErrors(log: LogError): ErrorHandler<AppEnv> {
  return function renderOAuthErrors(err) {
    if (err instanceof OAuthError) return oauthErrorResponse(err)
    if (!(err instanceof ServiceError)) throw err
    logServiceError(err, log)
    const mapped =
      err.status >= 500
        ? new OAuthError('temporarily_unavailable', err.expose ? err.message : 'The service is temporarily unavailable; retry', err.status)
        : new OAuthError('invalid_request', err.message, err.status)
    const res = oauthErrorResponse(mapped)
    for (const [k, v] of Object.entries(err.headers)) if (k !== 'www-authenticate') res.headers.set(k, v)
    return res
  }
}
