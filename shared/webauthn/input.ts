/** Validation of the human-chosen fields of the ceremonies. */
import { ServiceError } from '../errors.js'

const USERNAME = /^[a-z0-9](?:[a-z0-9._@+-]{1,62})[a-z0-9]$/
// Control characters and bidi overrides have no place in names shown to people.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

/** Lower-cased, trimmed username of 3–64 of a-z 0-9 . _ @ + - (emails fit). */
export function parseUsername(v: unknown): string {
  if (typeof v !== 'string') throw new ServiceError('invalid_request', 'username is required (a string)')
  const u = v.trim().toLowerCase()
  if (!USERNAME.test(u))
    throw new ServiceError('invalid_request', 'username must be 3–64 characters: letters, digits and . _ @ + - (starting and ending with a letter or digit)')
  return u
}

export function parseText(v: unknown, name: string, max = 64): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw new ServiceError('invalid_request', `${name} must be a string`)
  const s = v.trim().normalize('NFC')
  if (s.length === 0) return undefined
  if (s.length > max || UNSAFE.test(s)) throw new ServiceError('invalid_request', `${name} must be at most ${max} printable characters`)
  return s
}

/** OAuth scope (RFC 6749 §3.3): space-delimited scope-tokens. */
export function parseScope(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v !== 'string' || v.length > 1024 || !/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/.test(v))
    throw new ServiceError('invalid_request', 'scope must be space-separated scope tokens')
  return [...new Set(v.split(' '))].join(' ')
}
