/**
 * The parts settings are declared with (shared/config.ts): what a setting is, the context its
 * parser sees, and the parser builders (numbers, choices, lists, origins, keys, certificates,
 * URLs). Each parser throws a `TypeError` naming the setting and what it accepts.
 */
export type Env = Record<string, string | undefined>

/** How a setting is documented (README "Settings", local.settings.sample.json). */
export interface SettingDoc {
  name: string
  meaning: string
  localDefault: string
}

/** The settings others follow (their defaults or checks name them), parsed first when asked for. */
export interface Follows {
  readonly port: number
  readonly rpId: string
  readonly gatewayPort: number
  readonly tablesEndpoint: string | undefined
}

/** What a parser sees besides its own value: where it runs, the settings it follows, the rest. */
export interface Context extends Follows {
  /** true on a developer machine (local server or `func start`), false in Azure. */
  readonly local: boolean
  readonly env: Env
}

/** One setting: its documentation and the parser of its raw value (`name` is for messages). */
export interface Setting<T> extends SettingDoc {
  /** Another variable this setting reads as a fallback, documented with it. */
  fallback?: SettingDoc
  parse(raw: string | undefined, name: string, ctx: Context): T
}

export const setting = <T>(s: Setting<T>): Setting<T> => s

export function fail(name: string, accepts: string, value: string): never {
  throw new TypeError(`Setting ${name}=${JSON.stringify(value)} is invalid: expected ${accepts}`)
}

export type Default<T> = T | ((ctx: Context) => T)
export const resolve = <T>(def: Default<T>, ctx: Context): T => (typeof def === 'function' ? (def as (ctx: Context) => T)(ctx) : def)

/** A whole number in [min, max]; empty means the default. */
export function int(min: number, max: number, def: Default<number>): Setting<number>['parse'] {
  return (raw, name, ctx) => {
    if (raw === undefined || raw === '') return resolve(def, ctx)
    if (!/^\d+$/.test(raw.trim())) fail(name, `a whole number from ${min} to ${max}`, raw)
    const n = Number(raw.trim())
    if (n < min || n > max) fail(name, `a whole number from ${min} to ${max}`, raw)
    return n
  }
}

/** One of `values`; empty means the default. */
export function oneOf<T extends string>(values: readonly T[], def: Default<T>): Setting<T>['parse'] {
  return (raw, name, ctx) => {
    if (raw === undefined || raw === '') return resolve(def, ctx)
    const v = raw.trim() as T
    if (!values.includes(v)) fail(name, `one of ${values.join(', ')}`, raw)
    return v
  }
}

export function list(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

export function origin(name: string, raw: string, local: boolean): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return fail(name, 'absolute origins like https://app.example.com', raw)
  }
  if (url.origin !== raw.replace(/\/$/, '')) fail(name, 'origins only (scheme://host[:port], no path)', raw)
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (loopback || local)))
    fail(name, 'https origins (http only for localhost)', raw)
  return url.origin
}

/** Required in Azure; locally `localDefault` stands in. */
export function required(raw: string | undefined, name: string, local: boolean, localDefault: string): string {
  const v = raw?.trim()
  if (v) return v
  if (!local) throw new TypeError(`Setting ${name} is required when running in Azure`)
  return localDefault
}

/** Accepts standard base64 or base64url; 32 bytes. */
export function decodeKey(name: string, raw: string): Uint8Array<ArrayBuffer> {
  const b64 = raw.trim().replace(/-/g, '+').replace(/_/g, '/')
  let bytes: Uint8Array<ArrayBuffer>
  try {
    bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
  } catch {
    return fail(name, '32 random bytes, base64-encoded', '(hidden)')
  }
  if (bytes.length !== 32) fail(name, '32 random bytes, base64-encoded', `(${bytes.length} bytes)`)
  return bytes
}

/** RFC 6749 §3.3 scope-token: printable ASCII but space, `"` and `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

export const PEM = /-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----/g

/** ATTESTATION_ROOTS, METADATA_ROOT: one or more PEM certificates (literal newlines or `\n` escapes). */
export function parsePemCertificates(raw: string | undefined, name = 'ATTESTATION_ROOTS'): string[] {
  const text = raw?.replace(/\\n/g, '\n').trim()
  if (!text) return []
  const certs = [...text.matchAll(PEM)].map((m) => `-----BEGIN CERTIFICATE-----\n${m[1]!.replace(/\s+/g, '')}\n-----END CERTIFICATE-----`)
  const leftover = text.replace(PEM, '').trim()
  if (certs.length === 0 || leftover) fail(name, 'PEM certificates (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)', '(not PEM)')
  return certs
}

/** Whether `raw` is an absolute URL that passes `ok`. */
export function isUrl(raw: string, ok: (u: URL) => boolean): boolean {
  try {
    return ok(new URL(raw))
  } catch {
    return false
  }
}

/** https, or http on a developer machine. */
export const httpsOrLocalHttp = (local: boolean) => (u: URL) => u.protocol === 'https:' || (local && u.protocol === 'http:')
