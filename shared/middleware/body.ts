/**
 * Request body guards: content type (415), size (413, CONTRACT: 64 KiB), JSON syntax (400).
 * The size is enforced on the bytes actually read, not only on Content-Length.
 */
import type { Context } from 'hono'
import { ServiceError } from '../errors.js'

export const BODY_LIMIT = 64 * 1024

/** Reads at most BODY_LIMIT bytes of the body as text; throws payload_too_large past it. */
export async function readLimited(req: Request): Promise<string> {
  const declared = req.headers.get('content-length')
  if (declared && Number(declared) > BODY_LIMIT) throw new ServiceError('payload_too_large', `Body over ${BODY_LIMIT} bytes`)
  if (!req.body) return ''
  if (declared) {
    // Fast path: the declared length is within the limit; the runtime reads exactly that much.
    const text = await req.text()
    if (text.length > BODY_LIMIT && new TextEncoder().encode(text).length > BODY_LIMIT)
      throw new ServiceError('payload_too_large', `Body over ${BODY_LIMIT} bytes`)
    return text
  }
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
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(all)
  } catch {
    throw new ServiceError('invalid_request', 'Body is not valid UTF-8')
  }
}

function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
}

/** Parses a JSON object body. Empty body is `{}` only when `allowEmpty`. */
export async function jsonBody(c: Context, { allowEmpty = false } = {}): Promise<Record<string, unknown>> {
  const type = mediaType(c)
  const text = await readLimited(c.req.raw)
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
  const text = await readLimited(c.req.raw)
  const params = new URLSearchParams(text)
  const out = new Map<string, string>()
  for (const [k, v] of params) {
    if (out.has(k)) throw new ServiceError('invalid_request', `Parameter ${k} is repeated`)
    if (v !== '') out.set(k, v)
  }
  return out
}
