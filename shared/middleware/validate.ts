/**
 * Request validation with the wire schemas (shared/schemas/): one middleware for every JSON body,
 * so a handler receives `c.req.valid('json')` already typed and normalised, and a bad body is a
 * 400 `invalid_request` problem naming the field, never a 5xx.
 *
 * The body guards (415, 413, UTF-8, JSON syntax) stay in ./body.ts and run first.
 *
 * @example
 * r.patch('/credentials/:id', validJson(CredentialLabelUpdate), (c) => rename(c.req.valid('json').label))
 */
import type { Context, MiddlewareHandler } from 'hono'
import * as v from 'valibot'
import { ServiceError } from '../errors.js'
import type { AppEnv } from '../env.js'
import { jsonBody } from './body.js'

/**
 * The message of the first issue: the schemas carry the service's own messages (they name the
 * field). A missing member reads as its own schema reads `undefined` ("username is required (a
 * string)"), found by walking the schema along the issue's path.
 */
function messageOf(root: v.GenericSchema, issue: v.BaseIssue<unknown>): string {
  const path = issue.path ?? []
  // An array where an object belongs has no "missing" members: it is the wrong type.
  if (Array.isArray((path.at(-1) as { input?: unknown } | undefined)?.input)) return issue.message
  if (issue.kind === 'schema' && issue.type.endsWith('object') && issue.received === 'undefined' && path.length) {
    let schema: unknown = root
    for (const item of path) schema = entryOf(schema, (item as { key?: unknown }).key)
    const again = schema ? v.safeParse(schema as v.GenericSchema, undefined).issues?.[0]?.message : undefined
    return again ?? `${path.map((p) => String((p as { key?: unknown }).key)).join('.')} is required`
  }
  return issue.message
}

/** The schema of member `key` inside `schema` (through optional, nullable and lazy wrappers). */
function entryOf(schema: unknown, key: unknown): unknown {
  let s = schema as { entries?: Record<string, unknown>; wrapped?: unknown; getter?: (x: unknown) => unknown } | undefined
  for (let i = 0; s && !s.entries && i < 8; i++) s = (s.wrapped ?? s.getter?.(undefined)) as typeof s
  return typeof key === 'string' ? s?.entries?.[key] : undefined
}

/** Parses `value` with `schema` or throws 400 `invalid_request` with the schema's message. */
export function parseWith<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: true })
  if (result.success) return result.output
  throw new ServiceError('invalid_request', messageOf(schema, result.issues[0]))
}

export interface JsonOptions {
  /** An empty body is `{}` (e.g. adding a passkey to the signed-in account); may depend on the request. */
  allowEmpty?: boolean | ((c: Context<AppEnv>) => boolean)
}

/** Validates the JSON body with `schema`; the handler reads it with `c.req.valid('json')`. */
export function validJson<S extends v.GenericSchema, P extends string = string>(
  schema: S,
  { allowEmpty = false }: JsonOptions = {},
): MiddlewareHandler<AppEnv, P, { in: { json: v.InferInput<S> }; out: { json: v.InferOutput<S> } }> {
  return async (c, next) => {
    const empty = typeof allowEmpty === 'function' ? allowEmpty(c as unknown as Context<AppEnv>) : allowEmpty
    const body = await jsonBody(c, { allowEmpty: empty })
    c.req.addValidatedData('json', parseWith(schema, body) as object)
    await next()
  }
}
