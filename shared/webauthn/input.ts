/**
 * Validation of the human-chosen fields of the ceremonies, for callers outside a validated body
 * (query parameters, nested fields): the rules are the wire schemas' (shared/schemas/webauthn.ts).
 */
import { parseWith } from '../middleware/validate.js'
import { Scope, text, Username } from '../schemas/webauthn.js'

/** Lower-cased, trimmed username of 3–64 of a-z 0-9 . _ @ + - (emails fit). */
export function parseUsername(v: unknown): string {
  return parseWith(Username, v)
}

/** Trimmed NFC text of at most `max` printable characters; absent, null or blank → undefined. */
export function parseText(v: unknown, name: string, max = 64): string | undefined {
  return parseWith(text(name, max), v)
}

/** OAuth scope (RFC 6749 §3.3): space-delimited scope-tokens, de-duplicated. */
export function parseScope(v: unknown): string | undefined {
  return parseWith(Scope, v)
}
