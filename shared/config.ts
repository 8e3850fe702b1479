/**
 * The one settings table (CONTRACT.md "Settings").
 *
 * Each setting has a name, a meaning, a local default and a parser. `loadConfig(env)` reads the
 * environment once, validates every value, and returns a frozen object that is passed inward;
 * no other module reads `process.env`. A wrong value throws a `TypeError` naming the setting
 * and what it accepts, which stops startup.
 */

export const TOKEN_ALGS = ['RS256', 'PS256', 'ES256'] as const
export type TokenAlg = (typeof TOKEN_ALGS)[number]

export interface Config {
  /** true when running on a developer machine (local server or `func start`), false in Azure. */
  readonly local: boolean
  readonly port: number
  readonly rpId: string
  readonly rpName: string
  readonly allowedOrigins: readonly string[]
  readonly issuer: string
  readonly audiences: readonly string[]
  readonly tokenAlg: TokenAlg
  readonly accessTokenTtl: number
  readonly refreshTokenTtl: number
  readonly userVerification: 'required' | 'preferred'
  readonly registration: 'open' | 'closed'
  readonly bootstrapAdmins: readonly string[]
  readonly gatewayPort: number
  /** The API gateway (APIM) base URL the page's "try the sample API" calls; locally the dev gateway. */
  readonly gatewayUrl: string | undefined
  readonly tablesConnectionString: string | undefined
  readonly tablesEndpoint: string | undefined
  readonly keyRotationPeriod: number
  readonly keyPublishAhead: number
  /** 32 raw bytes, base64 or base64url in the setting. */
  readonly keyEncryptionKey: Uint8Array<ArrayBuffer> | undefined
  readonly challengeTtl: number
  /** Authorizer: seconds a role, session or decision may be served from cache (revocation bound). */
  readonly authzCacheTtl: number
  readonly authzTokenCacheSize: number
  readonly authzSubjectCacheSize: number
  /** Attestation conveyance requested at registration (WebAuthn #enum-attestation-convey). */
  readonly attestation: 'none' | 'direct'
  /** PEM root certificates trusted for packed, fido-u2f and tpm attestation (acr phrh). */
  readonly attestationRoots: readonly string[]
  /** Prefix of every table name (tests isolate runs with it). */
  readonly tablePrefix: string
  /** Seconds since sign-in within which passkeys may be added, renamed or deleted (CONTRACT v2). */
  readonly reauthMaxAge: number
  /** API scopes that may be granted besides `openid` and `profile` (CONTRACT v2 "Scopes"). */
  readonly scopes: readonly string[]
  /** Requests per minute per client address on the unauthenticated routes; 0 = off. */
  readonly rateLimit: number
  /** Proxies that append to X-Forwarded-For in front of the service (client address for rate limits). */
  readonly trustedProxyHops: number
}

export interface SettingDoc {
  name: string
  meaning: string
  localDefault: string
}

/** Documentation of every setting, in the order of CONTRACT.md; README and the sample settings follow it. */
export const SETTINGS: readonly SettingDoc[] = [
  { name: 'PORT', meaning: 'local server port (origin, issuer and gateway follow it unless set)', localDefault: '7071' },
  { name: 'RP_ID', meaning: 'WebAuthn relying party ID (a registrable domain of the origins)', localDefault: 'localhost' },
  { name: 'RP_NAME', meaning: 'relying party name shown by authenticators', localDefault: 'Passkey Edge' },
  { name: 'ALLOWED_ORIGINS', meaning: 'comma list of accepted WebAuthn origins', localDefault: 'http://localhost:7071' },
  { name: 'ISSUER', meaning: 'token issuer (exactly as APIM will compare it)', localDefault: 'http://localhost:7071/api' },
  { name: 'AUDIENCES', meaning: 'comma list of token audiences; the first is the default', localDefault: 'api://default' },
  { name: 'TOKEN_ALG', meaning: 'access token signing algorithm: RS256, PS256 or ES256 (APIM: RS256/PS256 only)', localDefault: 'RS256' },
  { name: 'ACCESS_TOKEN_TTL', meaning: 'access token lifetime, seconds', localDefault: '600' },
  { name: 'REFRESH_TOKEN_TTL', meaning: 'refresh token / session lifetime, seconds', localDefault: '86400' },
  { name: 'USER_VERIFICATION', meaning: 'required or preferred', localDefault: 'required' },
  { name: 'REGISTRATION', meaning: 'open or closed (self-service sign-up)', localDefault: 'open (closed in Azure)' },
  { name: 'BOOTSTRAP_ADMINS', meaning: 'comma list of usernames that get role admin when they register', localDefault: '(empty)' },
  { name: 'GATEWAY_PORT', meaning: 'local dev gateway port', localDefault: 'PORT + 1 (7072)' },
  { name: 'GATEWAY_URL', meaning: 'the API gateway the page calls for the sample API (in Azure: the APIM base URL, with a cors policy for the page origin)', localDefault: 'http://localhost:GATEWAY_PORT' },
  { name: 'AzureWebJobsStorage', meaning: 'Table Storage connection string (used when neither TABLES_CONNECTION_STRING nor TABLES_ENDPOINT is set)', localDefault: 'Azurite' },
  { name: 'TABLES_CONNECTION_STRING', meaning: 'Table Storage connection string; wins over TABLES_ENDPOINT and AzureWebJobsStorage', localDefault: '—' },
  { name: 'TABLES_ENDPOINT', meaning: 'Table endpoint for managed identity (DefaultAzureCredential, no key); wins over AzureWebJobsStorage', localDefault: '—' },
  { name: 'KEY_ROTATION_PERIOD', meaning: 'signing key rotation period, seconds', localDefault: '2592000 (30 days)' },
  { name: 'KEY_PUBLISH_AHEAD', meaning: 'how long a key is published before it signs and after its last token expires, seconds', localDefault: '86400 (24 hours)' },
  { name: 'KEY_ENCRYPTION_KEY', meaning: '32 bytes, base64: encrypts signing keys at rest (AES-256-GCM)', localDefault: 'generated once into .azurite/ (required in Azure)' },
  { name: 'ATTESTATION', meaning: 'none or direct: ask authenticators for attestation (needed for acr phrh)', localDefault: 'none' },
  { name: 'ATTESTATION_ROOTS', meaning: 'PEM root certificates (concatenated) trusted for packed, fido-u2f and tpm attestation, e.g. the Yubico root (Apple and Google roots are built in). When set, a packed/fido-u2f/tpm attestation that does not chain to them is refused; passkeys sent with attestation none still register (acr phr)', localDefault: '(empty)' },
  { name: 'AUTHZ_CACHE_TTL', meaning: 'authorizer: seconds roles, sessions and decisions may be cached (the revocation bound)', localDefault: '30' },
  { name: 'AUTHZ_TOKEN_CACHE_SIZE', meaning: 'authorizer: verified tokens kept in memory (LRU)', localDefault: '10000' },
  { name: 'AUTHZ_SUBJECT_CACHE_SIZE', meaning: 'authorizer: subjects and sessions kept in memory (LRU)', localDefault: '10000' },
  { name: 'CHALLENGE_TTL', meaning: 'WebAuthn challenge lifetime, seconds', localDefault: '300' },
  { name: 'REAUTH_MAX_AGE', meaning: 'seconds since sign-in within which account changes (adding, renaming, deleting passkeys) are allowed; older sign-ins must use a passkey again', localDefault: '300' },
  { name: 'RATE_LIMIT', meaning: 'requests per minute per client address on the unauthenticated routes (WebAuthn ceremonies, token and authorization endpoints), then 429; 0 turns it off', localDefault: '120' },
  { name: 'TRUSTED_PROXY_HOPS', meaning: 'how many proxies in front append to X-Forwarded-For: the client address is the entry that many from the right (1: App Service front end; 2: APIM in front of it; 0: the socket address)', localDefault: '0 (1 in Azure)' },
  { name: 'SCOPES', meaning: 'comma list of API scopes that may be granted (besides openid and profile); clients get a subset by registration', localDefault: '(empty)' },
]

type Env = Record<string, string | undefined>

function fail(name: string, accepts: string, value: string): never {
  throw new TypeError(`Setting ${name}=${JSON.stringify(value)} is invalid: expected ${accepts}`)
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  if (!/^\d+$/.test(raw.trim())) fail(name, `a whole number from ${min} to ${max}`, raw)
  const n = Number(raw.trim())
  if (n < min || n > max) fail(name, `a whole number from ${min} to ${max}`, raw)
  return n
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], def: T): T {
  const raw = env[name]
  if (raw === undefined || raw === '') return def
  const v = raw.trim() as T
  if (!values.includes(v)) fail(name, `one of ${values.join(', ')}`, raw)
  return v
}

function list(env: Env, name: string): string[] | undefined {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return undefined
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

function origin(name: string, raw: string, local: boolean): string {
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

function required(env: Env, name: string, local: boolean, localDefault: string): string {
  const raw = env[name]?.trim()
  if (raw) return raw
  if (!local) throw new TypeError(`Setting ${name} is required when running in Azure`)
  return localDefault
}

/** Accepts standard base64 or base64url; 32 bytes. */
function decodeKey(name: string, raw: string): Uint8Array<ArrayBuffer> {
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
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

const PEM = /-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----/g

/** ATTESTATION_ROOTS: one or more PEM certificates (literal newlines or `\n` escapes). */
function parsePemCertificates(raw: string | undefined): string[] {
  const text = raw?.replace(/\\n/g, '\n').trim()
  if (!text) return []
  const certs = [...text.matchAll(PEM)].map((m) => `-----BEGIN CERTIFICATE-----\n${m[1]!.replace(/\s+/g, '')}\n-----END CERTIFICATE-----`)
  const leftover = text.replace(PEM, '').trim()
  if (certs.length === 0 || leftover) fail('ATTESTATION_ROOTS', 'PEM certificates (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)', '(not PEM)')
  return certs
}

/**
 * Reads and validates every setting once.
 *
 * @example
 * const config = loadConfig(process.env, { local: true })
 */
export function loadConfig(env: Env, { local }: { local: boolean }): Config {
  const port = int(env, 'PORT', 7071, 1, 65535)
  const base = `http://localhost:${port}`
  const rpId = required(env, 'RP_ID', local, 'localhost')
  if (!/^[a-z0-9.-]+$/i.test(rpId) || rpId.startsWith('.') || rpId.endsWith('.'))
    fail('RP_ID', 'a domain name without scheme or port, e.g. example.com', rpId)
  const allowedOrigins = (list(env, 'ALLOWED_ORIGINS') ?? (local ? [base] : undefined))?.map((o) =>
    origin('ALLOWED_ORIGINS', o, local),
  )
  if (!allowedOrigins) throw new TypeError('Setting ALLOWED_ORIGINS is required when running in Azure')
  for (const o of allowedOrigins) {
    // WebAuthn #rp-id: the RP ID must equal the origin's effective domain or be a registrable suffix of it.
    const host = new URL(o).hostname
    if (host !== rpId && !host.endsWith(`.${rpId}`))
      fail('ALLOWED_ORIGINS', `origins whose host is RP_ID (${rpId}) or a subdomain of it`, o)
  }
  const issuer = required(env, 'ISSUER', local, `${base}/api`)
  try {
    const u = new URL(issuer)
    if (u.search || u.hash || issuer.endsWith('/')) throw new Error()
    if (u.protocol !== 'https:' && !(local && u.protocol === 'http:')) throw new Error()
  } catch {
    fail('ISSUER', 'an https URL without query, fragment or trailing slash', issuer)
  }
  const audiences = list(env, 'AUDIENCES') ?? ['api://default']
  const tokenAlg = oneOf(env, 'TOKEN_ALG', TOKEN_ALGS, 'RS256')
  const accessTokenTtl = int(env, 'ACCESS_TOKEN_TTL', 600, 30, 86400)
  const refreshTokenTtl = int(env, 'REFRESH_TOKEN_TTL', 86400, 60, 90 * 86400)
  const userVerification = oneOf(env, 'USER_VERIFICATION', ['required', 'preferred'] as const, 'required')
  const registration = oneOf(env, 'REGISTRATION', ['open', 'closed'] as const, local ? 'open' : 'closed')
  const bootstrapAdmins = (list(env, 'BOOTSTRAP_ADMINS') ?? []).map((u) => u.toLowerCase())
  const gatewayPort = int(env, 'GATEWAY_PORT', port + 1 > 65535 ? port - 1 : port + 1, 1, 65535)
  // An explicit TABLES_CONNECTION_STRING wins; then TABLES_ENDPOINT (managed identity, no key),
  // so that the host's own AzureWebJobsStorage connection string does not quietly replace it.
  const rawGateway = env.GATEWAY_URL?.trim()
  let gatewayUrl: string | undefined = local ? `http://localhost:${gatewayPort}` : undefined
  if (rawGateway) {
    try {
      const u = new URL(rawGateway)
      if (u.protocol !== 'https:' && !(local && u.protocol === 'http:')) throw new Error()
      gatewayUrl = rawGateway.replace(/\/$/, '')
    } catch {
      fail('GATEWAY_URL', 'an https URL (http only locally), e.g. https://contoso.azure-api.net', rawGateway)
    }
  }
  const tablesEndpoint = env.TABLES_ENDPOINT?.trim() || undefined
  const tablesConnectionString =
    env.TABLES_CONNECTION_STRING?.trim() || (tablesEndpoint ? undefined : env.AzureWebJobsStorage?.trim()) || undefined
  if (tablesEndpoint) {
    try {
      const u = new URL(tablesEndpoint)
      if (u.protocol !== 'https:' && !local) throw new Error()
    } catch {
      fail('TABLES_ENDPOINT', 'an https URL like https://<account>.table.core.windows.net', tablesEndpoint)
    }
  }
  if (!local && !tablesConnectionString && !tablesEndpoint)
    throw new TypeError(
      'Setting TABLES_ENDPOINT (managed identity) or AzureWebJobsStorage/TABLES_CONNECTION_STRING is required when running in Azure',
    )
  const keyRotationPeriod = int(env, 'KEY_ROTATION_PERIOD', 30 * 86400, 3600, 365 * 86400)
  const keyPublishAhead = int(env, 'KEY_PUBLISH_AHEAD', 86400, 0, 30 * 86400)
  const rawKek = env.KEY_ENCRYPTION_KEY?.trim()
  if (!rawKek && !local) throw new TypeError('Setting KEY_ENCRYPTION_KEY is required when running in Azure')
  const keyEncryptionKey = rawKek ? decodeKey('KEY_ENCRYPTION_KEY', rawKek) : undefined
  const challengeTtl = int(env, 'CHALLENGE_TTL', 300, 10, 3600)
  const authzCacheTtl = int(env, 'AUTHZ_CACHE_TTL', 30, 0, 3600)
  const authzTokenCacheSize = int(env, 'AUTHZ_TOKEN_CACHE_SIZE', 10000, 1, 1_000_000)
  const authzSubjectCacheSize = int(env, 'AUTHZ_SUBJECT_CACHE_SIZE', 10000, 1, 1_000_000)
  const attestation = oneOf(env, 'ATTESTATION', ['none', 'direct'] as const, 'none')
  const attestationRoots = parsePemCertificates(env.ATTESTATION_ROOTS)
  const reauthMaxAge = int(env, 'REAUTH_MAX_AGE', 300, 0, 86400)
  const scopes = [...new Set(list(env, 'SCOPES') ?? [])]
  for (const sc of scopes)
    if (!SCOPE_TOKEN.test(sc) || sc.length > 128) fail('SCOPES', 'a comma list of scope names (RFC 6749 §3.3 scope-tokens, no spaces)', sc)
  const rateLimit = int(env, 'RATE_LIMIT', 120, 0, 1_000_000)
  const trustedProxyHops = int(env, 'TRUSTED_PROXY_HOPS', local ? 0 : 1, 0, 10)
  const tablePrefix = env.TABLE_PREFIX?.trim() ?? ''
  if (tablePrefix && !/^[A-Za-z][A-Za-z0-9]{0,20}$/.test(tablePrefix))
    fail('TABLE_PREFIX', 'letters and digits, starting with a letter, at most 21', tablePrefix)

  return Object.freeze({
    local,
    port,
    rpId,
    rpName: env.RP_NAME?.trim() || 'Passkey Edge',
    allowedOrigins: Object.freeze(allowedOrigins),
    issuer,
    audiences: Object.freeze(audiences),
    tokenAlg,
    accessTokenTtl,
    refreshTokenTtl,
    userVerification,
    registration,
    bootstrapAdmins: Object.freeze(bootstrapAdmins),
    gatewayPort,
    gatewayUrl,
    tablesConnectionString,
    tablesEndpoint,
    keyRotationPeriod,
    keyPublishAhead,
    keyEncryptionKey,
    challengeTtl,
    attestation,
    attestationRoots: Object.freeze(attestationRoots),
    authzCacheTtl,
    authzTokenCacheSize,
    authzSubjectCacheSize,
    tablePrefix,
    reauthMaxAge,
    rateLimit,
    trustedProxyHops,
    scopes: Object.freeze(scopes.filter((x) => x !== 'openid' && x !== 'profile')),
  })
}
