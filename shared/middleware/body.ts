/**
 * Request body guards: content type (415), size (413, CONTRACT: 64 KiB), JSON syntax (400).
 * The size is enforced on the bytes actually read, not only on Content-Length.
 */
import type { Context } from 'hono'
import { ServiceError } from '../errors.js'

export const BODY_LIMIT = 64 * 1024

/** A request header (lower-case name), from the runtime's parsed headers when it offers them. */
export function header(c: Context, name: string): string | undefined {
  const env = c.env as { header?: (name: string) => string | undefined } | undefined
  return env?.header ? env.header(name) : c.req.header(name)
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new ServiceError('invalid_request', 'Body is not valid UTF-8')
  }
}

/** Reads at most BODY_LIMIT bytes of the body as text; throws payload_too_large past it. */
export async function readBody(c: Context): Promise<string> {
  const declared = header(c, 'content-length')
  if (declared && Number(declared) > BODY_LIMIT) throw new ServiceError('payload_too_large', `Body over ${BODY_LIMIT} bytes`)
  const env = c.env as { readBody?: (limit: number) => Promise<Uint8Array | null> } | undefined
  if (env?.readBody) {
    const bytes = await env.readBody(BODY_LIMIT)
    if (bytes === null) throw new ServiceError('payload_too_large', `Body over ${BODY_LIMIT} bytes`)
    return decodeUtf8(bytes)
  }
  return readLimited(c.req.raw)
}

/** Reads at most BODY_LIMIT bytes of a WHATWG Request body as text; throws payload_too_large past it. */
export async function readLimited(req: Request): Promise<string> {
  const declared = req.headers.get('content-length')
  if (declared && Number(declared) > BODY_LIMIT) throw new ServiceError('payload_too_large', `Body over ${BODY_LIMIT} bytes`)
  if (!req.body) return ''
  const reader = req.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > BODY_LIMIT) {
      await reader.cancel().catch(() => {})
      throw new ServiceError('payload_too_large', `Body over ${BODY_LIMIT} bytes`)
    }
    chunks.push(value)
  }
  const all = new Uint8Array(size)
  let off = 0
  for (const c of chunks) {
    all.set(c, off)
    off += c.byteLength
  }
  return decodeUtf8(all)
}

function mediaType(c: Context): string {
  return (header(c, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase()
}

/** Parses a JSON object body. Empty body is `{}` only when `allowEmpty`. */
export async function jsonBody(c: Context, { allowEmpty = false } = {}): Promise<Record<string, unknown>> {
  const type = mediaType(c)
  const text = await readBody(c)
  if (text.trim() === '' && allowEmpty && (type === '' || type === 'application/json')) return {}
  if (type !== 'application/json' && !type.endsWith('+json'))
    throw new ServiceError('unsupported_media_type', 'Send the body as application/json')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new ServiceError('invalid_request', 'Body is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ServiceError('invalid_request', 'Body must be a JSON object')
  return value as Record<string, unknown>
}

/** Parses an application/x-www-form-urlencoded body (OAuth endpoints). Repeated parameters are refused (RFC 6749 §3.2). */
export async function formBody(c: Context): Promise<Map<string, string>> {
  if (mediaType(c) !== 'application/x-www-form-urlencoded')
    throw new ServiceError('unsupported_media_type', 'Send the body as application/x-www-form-urlencoded')
  const text = await readBody(c)
  const params = new URLSearchParams(text)
  const out = new Map<string, string>()
  for (const [k, v] of params) {
    if (out.has(k)) throw new ServiceError('invalid_request', `Parameter ${k} is repeated`)
    if (v !== '') out.set(k, v)
  }
  return out
}
