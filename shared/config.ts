/**
 * The one settings table (CONTRACT.md "Settings"), after node-oidc-provider's
 * `lib/helpers/defaults.js`: each setting is declared once in `TABLE`, with its name, meaning,
 * local default and parser, and the `Config` type is derived from it. `loadConfig(env)` reads the
 * environment once, validates every value, and returns a frozen object that is passed inward;
 * no other module reads `process.env`. A wrong value throws a `TypeError` naming the setting
 * and what it accepts, which stops startup.
 *
 * Variables read elsewhere are not service settings: the host's own AZURE_FUNCTIONS_ENVIRONMENT
 * and WEBSITE_INSTANCE_ID (functions/index.ts tells local from Azure by them), AZURITE_LOCATION
 * (where a developer machine keeps Azurite's data and the generated key, runtime/node/kek.ts),
 * and what only scripts read (`npm start`'s AZURITE_TABLE_PORT and START_SKIP_*, BENCH_*,
 * TEST_RUN_LIMIT_MS).
 */

export const TOKEN_ALGS = ['RS256', 'PS256', 'ES256'] as const
export type TokenAlg = (typeof TOKEN_ALGS)[number]
import { FIDO_MDS_ROOT_PEM } from './webauthn/mdsRoot.js'
import { SAMPLE_API_SUFFIX } from './sampleApi.js'
import { PEM, SCOPE_TOKEN, decodeKey, fail, httpsOrLocalHttp, int, isUrl, list, oneOf, origin, parsePemCertificates, required, setting, type Context, type Env, type Follows, type Setting, type SettingDoc } from './config/parse.js'

export type { SettingDoc } from './config/parse.js'

/**
 * Every setting, in the order they are validated (the first bad one is the one reported); README
 * and the sample settings follow it. The keys are the `Config` properties; a setting that others
 * follow (`Follows`) is parsed as soon as one of them asks for it.
 */
const TABLE = {
  port: setting({
    name: 'PORT',
    meaning: 'local server port (origin, issuer and gateway follow it unless set)',
    localDefault: '7071',
    parse: int(1, 65535, 7071),
  }),
  rpId: setting({
    name: 'RP_ID',
    meaning: 'WebAuthn relying party ID (a registrable domain of the origins)',
    localDefault: 'localhost',
    parse: (raw, name, { local }) => {
      const rpId = required(raw, name, local, 'localhost')
      if (!/^[a-z0-9.-]+$/i.test(rpId) || rpId.startsWith('.') || rpId.endsWith('.'))
        fail(name, 'a domain name without scheme or port, e.g. example.com', rpId)
      return rpId
    },
  }),
  rpName: setting({ name: 'RP_NAME', meaning: 'relying party name shown by authenticators', localDefault: 'Passkey Edge', parse: (raw) => raw?.trim() || 'Passkey Edge' }),
  allowedOrigins: setting({
    name: 'ALLOWED_ORIGINS',
    meaning: 'comma list of accepted WebAuthn origins',
    localDefault: 'http://localhost:7071',
    parse: (raw, name, ctx) => {
      const origins = (list(raw) ?? (ctx.local ? [`http://localhost:${ctx.port}`] : undefined))?.map((o) => origin(name, o, ctx.local))
      if (!origins) throw new TypeError(`Setting ${name} is required when running in Azure`)
      const { rpId } = ctx
      for (const o of origins) {
        // WebAuthn #rp-id: the RP ID must equal the origin's effective domain or be a registrable suffix of it.
        const host = new URL(o).hostname
        if (host !== rpId && !host.endsWith(`.${rpId}`)) fail(name, `origins whose host is RP_ID (${rpId}) or a subdomain of it`, o)
      }
      return Object.freeze(origins)
    },
  }),
  issuer: setting({
    name: 'ISSUER',
    meaning: 'token issuer (exactly as APIM will compare it)',
    localDefault: 'http://localhost:7071/api',
    parse: (raw, name, ctx) => {
      const issuer = required(raw, name, ctx.local, `http://localhost:${ctx.port}/api`)
      const https = httpsOrLocalHttp(ctx.local)
      if (!isUrl(issuer, (u) => !u.search && !u.hash && !issuer.endsWith('/') && https(u)))
        fail(name, 'an https URL without query, fragment or trailing slash', issuer)
      return issuer
    },
  }),
  // Locally the dev gateway's sample API URL is an audience too: it is the `resource` of its
  // protected resource metadata (RFC 9728), which MCP clients ask tokens for (RFC 8707).
  audiences: setting({
    name: 'AUDIENCES',
    meaning: 'comma list of token audiences; the first is the default',
    localDefault: 'api://default,http://localhost:GATEWAY_PORT/sample',
    parse: (raw, _name, ctx) =>
      Object.freeze(list(raw) ?? (ctx.local ? ['api://default', `http://localhost:${ctx.gatewayPort}/${SAMPLE_API_SUFFIX}`] : ['api://default'])),
  }),
  tokenAlg: setting({
    name: 'TOKEN_ALG',
    meaning: 'access token signing algorithm: RS256, PS256 or ES256 (APIM: RS256/PS256 only)',
    localDefault: 'RS256',
    parse: oneOf(TOKEN_ALGS, 'RS256'),
  }),
  accessTokenTtl: setting({
    name: 'ACCESS_TOKEN_TTL',
    meaning: 'access token lifetime, seconds',
    localDefault: '600',
    parse: int(30, 86400, 600),
  }),
  refreshTokenTtl: setting({
    name: 'REFRESH_TOKEN_TTL',
    meaning: 'refresh token / session lifetime, seconds',
    localDefault: '86400',
    parse: int(60, 90 * 86400, 86400),
  }),
  userVerification: setting({
    name: 'USER_VERIFICATION',
    meaning: 'required or preferred',
    localDefault: 'required',
    parse: oneOf(['required', 'preferred'] as const, 'required'),
  }),
  registration: setting({
    name: 'REGISTRATION',
    meaning: 'open or closed (self-service sign-up)',
    localDefault: 'open (closed in Azure)',
    parse: oneOf(['open', 'closed'] as const, ({ local }) => (local ? 'open' : 'closed')),
  }),
  bootstrapAdmins: setting({
    name: 'BOOTSTRAP_ADMINS',
    meaning: 'comma list of usernames that get role admin when they register',
    localDefault: '(empty)',
    parse: (raw) => Object.freeze((list(raw) ?? []).map((u) => u.toLowerCase())),
  }),
  gatewayPort: setting({
    name: 'GATEWAY_PORT',
    meaning: 'local dev gateway port',
    localDefault: 'PORT + 1 (7072)',
    parse: int(1, 65535, ({ port }) => (port + 1 > 65535 ? port - 1 : port + 1)),
  }),
  /** The API gateway (APIM) base URL the page's "try the sample API" calls; locally the dev gateway. */
  gatewayUrl: setting({
    name: 'GATEWAY_URL',
    meaning: 'the API gateway the page calls for the sample API (in Azure: the APIM base URL, with a cors policy for the page origin)',
    localDefault: 'http://localhost:GATEWAY_PORT',
    parse: (raw, name, ctx): string | undefined => {
      const v = raw?.trim()
      if (!v) return ctx.local ? `http://localhost:${ctx.gatewayPort}` : undefined
      if (!isUrl(v, httpsOrLocalHttp(ctx.local))) fail(name, 'an https URL (http only locally), e.g. https://contoso.azure-api.net', v)
      return v.replace(/\/$/, '')
    },
  }),
  // An explicit TABLES_CONNECTION_STRING wins; then TABLES_ENDPOINT (managed identity, no key),
  // so that the host's own AzureWebJobsStorage connection string does not quietly replace it.
  tablesConnectionString: setting({
    name: 'TABLES_CONNECTION_STRING',
    meaning: 'Table Storage connection string; wins over TABLES_ENDPOINT and AzureWebJobsStorage',
    localDefault: '—',
    fallback: {
      name: 'AzureWebJobsStorage',
      meaning: 'Table Storage connection string (used when neither TABLES_CONNECTION_STRING nor TABLES_ENDPOINT is set)',
      localDefault: 'Azurite',
    },
    parse: (raw, _name, ctx): string | undefined => {
      const { tablesEndpoint } = ctx
      const cs = raw?.trim() || (tablesEndpoint ? undefined : ctx.env.AzureWebJobsStorage?.trim()) || undefined
      if (!ctx.local && !cs && !tablesEndpoint)
        throw new TypeError(
          'Setting TABLES_ENDPOINT (managed identity) or AzureWebJobsStorage/TABLES_CONNECTION_STRING is required when running in Azure',
        )
      return cs
    },
  }),
  tablesEndpoint: setting({
    name: 'TABLES_ENDPOINT',
    meaning: 'Table endpoint for managed identity (DefaultAzureCredential, no key); wins over AzureWebJobsStorage',
    localDefault: '—',
    parse: (raw, name, { local }): string | undefined => {
      const v = raw?.trim() || undefined
      // Locally any scheme (Azurite is http); in Azure https only.
      if (v && !isUrl(v, (u) => local || u.protocol === 'https:')) fail(name, 'an https URL like https://<account>.table.core.windows.net', v)
      return v
    },
  }),
  keyRotationPeriod: setting({
    name: 'KEY_ROTATION_PERIOD',
    meaning: 'signing key rotation period, seconds',
    localDefault: '2592000 (30 days)',
    parse: int(3600, 365 * 86400, 30 * 86400),
  }),
  keyPublishAhead: setting({
    name: 'KEY_PUBLISH_AHEAD',
    meaning: 'how long a key is published before it signs and after its last token expires, seconds',
    localDefault: '86400 (24 hours)',
    parse: int(0, 30 * 86400, 86400),
  }),
  /** 32 raw bytes, base64 or base64url in the setting. */
  keyEncryptionKey: setting({
    name: 'KEY_ENCRYPTION_KEY',
    meaning: '32 bytes, base64: encrypts signing keys at rest (AES-256-GCM)',
    localDefault: 'generated once into .azurite/ (required in Azure)',
    parse: (raw, name, { local }): Uint8Array<ArrayBuffer> | undefined => {
      const v = raw?.trim()
      if (!v && !local) throw new TypeError(`Setting ${name} is required when running in Azure`)
      return v ? decodeKey(name, v) : undefined
    },
  }),
  /**
   * The key KEY_ENCRYPTION_KEY replaces, during a rotation (docs/security.md "Changing
   * KEY_ENCRYPTION_KEY"): it still opens what it wrapped, sealed or MAC'd; nothing new uses it.
   */
  keyEncryptionKeyPrevious: setting({
    name: 'KEY_ENCRYPTION_KEY_PREVIOUS',
    meaning: 'only while changing KEY_ENCRYPTION_KEY: the key it replaces (32 bytes, base64); still opens signing keys, challenges and OAuth codes sealed with it, and verifies its audit events; signing keys are re-wrapped under KEY_ENCRYPTION_KEY by the rotation timer. Remove it once the rotation is done',
    localDefault: '(empty)',
    parse: (raw, name): Uint8Array<ArrayBuffer> | undefined => {
      const v = raw?.trim()
      return v ? decodeKey(name, v) : undefined
    },
  }),
  challengeTtl: setting({
    name: 'CHALLENGE_TTL',
    meaning: 'WebAuthn challenge lifetime, seconds',
    localDefault: '300',
    parse: int(10, 3600, 300),
  }),
  /** Authorizer: seconds a role, session or decision may be served from cache (revocation bound). */
  authzCacheTtl: setting({
    name: 'AUTHZ_CACHE_TTL',
    meaning: 'authorizer: seconds roles, sessions and decisions may be cached (the revocation bound)',
    localDefault: '30',
    parse: int(0, 3600, 30),
  }),
  authzTokenCacheSize: setting({
    name: 'AUTHZ_TOKEN_CACHE_SIZE',
    meaning: 'authorizer: verified tokens kept in memory (LRU)',
    localDefault: '10000',
    parse: int(1, 1_000_000, 10000),
  }),
  authzSubjectCacheSize: setting({
    name: 'AUTHZ_SUBJECT_CACHE_SIZE',
    meaning: 'authorizer: subjects and sessions kept in memory (LRU)',
    localDefault: '10000',
    parse: int(1, 1_000_000, 10000),
  }),
  /** RFC 9449 §8–9: whether DPoP proofs must carry a server nonce (docs/dpop.md). */
  dpopNonce: setting({
    name: 'DPOP_NONCE',
    meaning: 'off or required: DPoP proofs must carry a nonce this service issued (DPoP-Nonce)',
    localDefault: 'off',
    parse: oneOf(['off', 'required'] as const, 'off'),
  }),
  /** Attestation conveyance requested at registration (WebAuthn #enum-attestation-convey). */
  attestation: setting({
    name: 'ATTESTATION',
    meaning: 'none or direct: ask authenticators for attestation (needed for acr phrh). Default none, or direct when AUTHENTICATOR_POLICY is not any (a model is proven by its attestation)',
    localDefault: 'none (direct with an AUTHENTICATOR_POLICY other than any)',
    // A policy on models needs their attestation: without ATTESTATION set, it asks for one.
    parse: oneOf(['none', 'direct'] as const, (ctx) => (/^\s*(any)?\s*$/i.test(ctx.env.AUTHENTICATOR_POLICY ?? '') ? 'none' : 'direct')),
  }),
  /** PEM root certificates trusted for packed, fido-u2f and tpm attestation (acr phrh). */
  attestationRoots: setting({
    name: 'ATTESTATION_ROOTS',
    meaning: 'PEM root certificates (concatenated) trusted for packed, fido-u2f and tpm attestation, e.g. the Yubico root (Apple and Google roots are built in). When set, a packed/fido-u2f/tpm attestation that does not chain to them is refused; passkeys sent with attestation none still register (acr phr)',
    localDefault: '(empty)',
    parse: (raw) => Object.freeze(parsePemCertificates(raw)),
  }),
  /**
   * Where the FIDO Metadata Service BLOB comes from (CONTRACT "Authenticator trust"): a file path,
   * or an https URL (fetched again daily). Unset: no metadata, no authenticator policy by model.
   */
  metadataBlob: setting({
    name: 'METADATA_BLOB',
    meaning: 'FIDO Metadata Service (MDS3) BLOB: a file path, or its https URL (fetched again daily, e.g. https://mds.fidoalliance.org/); verified against METADATA_ROOT, then each model\'s attestation roots, status reports and certification are used (docs/authenticators.md)',
    localDefault: '(empty: no metadata)',
    parse: (raw, name, { local }): MetadataSource | undefined => {
      const v = raw?.trim()
      if (!v) return undefined
      if (!v.includes('://')) return Object.freeze({ kind: 'file' as const, path: v })
      if (!isUrl(v, httpsOrLocalHttp(local))) fail(name, 'a file path or an https URL', v)
      return Object.freeze({ kind: 'url' as const, url: v })
    },
  }),
  /** PEM root(s) the BLOB's x5c chain must reach; the FIDO Alliance's by default (./webauthn/mds-root.pem). */
  metadataRoot: setting({
    name: 'METADATA_ROOT',
    meaning: 'PEM root certificate(s) the METADATA_BLOB signature chain must reach',
    localDefault: 'the FIDO Alliance MDS root (GlobalSign Root CA - R3, shared/webauthn/mds-root.pem)',
    parse: (raw, name) => Object.freeze(parsePemCertificates(raw?.trim() ? raw : FIDO_MDS_ROOT_PEM, name)),
  }),
  /** Which authenticator models may register and sign in (CONTRACT "Authenticator trust"). */
  authenticatorPolicy: setting({
    name: 'AUTHENTICATOR_POLICY',
    meaning: 'any; certified (only models with a FIDO certification status in the metadata, proven by their attestation); or a comma list of AAGUIDs (only those models, proven by their attestation). Models with a compromise or revocation status report are refused whatever the policy',
    localDefault: 'any',
    parse: (raw, name, ctx): AuthenticatorPolicy => {
      const v = raw?.trim().toLowerCase()
      if (!v || v === 'any') return Object.freeze({ kind: 'any' as const })
      // A model is only proven by its attestation: without asking for one, nothing could register
      // (an AAGUID without a verified attestation is only the client's claim). ATTESTATION unset
      // defaults to direct with a policy; set to none, the two settings contradict each other.
      if (ctx.env.ATTESTATION?.trim() === 'none')
        fail(name, 'any while ATTESTATION is none (a model is proven by its attestation: set ATTESTATION=direct or leave it unset)', v)
      if (v === 'certified') {
        if (!ctx.env.METADATA_BLOB?.trim()) fail(name, 'any, or with METADATA_BLOB set, certified', v)
        return Object.freeze({ kind: 'certified' as const })
      }
      const aaguids = [...new Set(list(v) ?? [])]
      for (const a of aaguids) if (!AAGUID.test(a)) fail(name, 'any, certified, or a comma list of AAGUIDs (8-4-4-4-12 hex)', a)
      return Object.freeze({ kind: 'aaguids' as const, aaguids: Object.freeze(aaguids) })
    },
  }),
  /** Seconds since sign-in within which passkeys may be added, renamed or deleted (CONTRACT v2). */
  reauthMaxAge: setting({
    name: 'REAUTH_MAX_AGE',
    meaning: 'seconds since sign-in within which account changes (adding, renaming, deleting passkeys) are allowed; older sign-ins must use a passkey again',
    localDefault: '300',
    parse: int(0, 86400, 300),
  }),
  /** API scopes that may be granted besides `openid` and `profile` (CONTRACT v2 "Scopes"). */
  scopes: setting({
    name: 'SCOPES',
    meaning: 'comma list of API scopes that may be granted (besides openid and profile); clients get a subset by registration',
    localDefault: '(empty)',
    parse: (raw, name) => {
      const scopes = [...new Set(list(raw) ?? [])]
      for (const sc of scopes)
        if (!SCOPE_TOKEN.test(sc) || sc.length > 128) fail(name, 'a comma list of scope names (RFC 6749 §3.3 scope-tokens, no spaces)', sc)
      return Object.freeze(scopes.filter((x) => x !== 'openid' && x !== 'profile'))
    },
  }),
  /** Requests per minute per client address on the unauthenticated routes; 0 = off. */
  rateLimit: setting({
    name: 'RATE_LIMIT',
    meaning: 'requests per minute per client address on the unauthenticated routes (WebAuthn ceremonies, token and authorization endpoints), then 429; 0 turns it off',
    localDefault: '120',
    parse: int(0, 1_000_000, 120),
  }),
  /** Proxies that append to X-Forwarded-For in front of the service (client address for rate limits). */
  trustedProxyHops: setting({
    name: 'TRUSTED_PROXY_HOPS',
    meaning: 'how many proxies in front append to X-Forwarded-For: the client address is the entry that many from the right (1: App Service front end; 2: APIM in front of it; 0: the socket address)',
    localDefault: '0 (1 in Azure)',
    parse: int(0, 10, ({ local }) => (local ? 0 : 1)),
  }),
  /** Prefix of every table name (tests isolate runs with it). */
  tablePrefix: setting({
    name: 'TABLE_PREFIX',
    meaning: 'prefix of every table name, so that several deployments (or test runs) can share one storage account',
    localDefault: '(empty)',
    parse: (raw, name) => {
      const prefix = raw?.trim() ?? ''
      if (prefix && !/^[A-Za-z][A-Za-z0-9]{0,20}$/.test(prefix)) fail(name, 'letters and digits, starting with a letter, at most 21', prefix)
      return prefix
    },
  }),
  /** Azure Monitor: unset, no telemetry code is loaded (shared/telemetry.ts, docs/telemetry.md). */
  applicationInsights: setting({
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    meaning: 'Application Insights connection string: request and Table Storage spans and the service\'s metrics go to Azure Monitor (docs/telemetry.md); unset, no telemetry code is loaded',
    localDefault: '(empty: off)',
    fallback: {
      name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
      meaning: 'Authorization=AAD (with ClientId=<client id> for a user-assigned identity): telemetry is sent with Entra ID (managed identity) instead of the instrumentation key alone',
      localDefault: '(empty)',
    },
    parse: (raw, name, ctx): { connectionString: string; aad?: { clientId?: string } } | undefined => {
      const connectionString = raw?.trim()
      if (!connectionString) return undefined
      // The values are not echoed: the connection string holds the instrumentation key.
      const parts = keyValues(connectionString)
      if (!parts.get('instrumentationkey'))
        throw new TypeError(`Setting ${name} is invalid: expected the resource's connection string (InstrumentationKey=…;IngestionEndpoint=https://…)`)
      const endpoint = parts.get('ingestionendpoint')
      if (endpoint && !isUrl(endpoint, httpsOrLocalHttp(ctx.local)))
        throw new TypeError(`Setting ${name} is invalid: IngestionEndpoint must be an https URL`)
      const auth = ctx.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING?.trim()
      if (!auth) return Object.freeze({ connectionString })
      const a = keyValues(auth)
      const clientId = a.get('clientid')
      if (a.get('authorization')?.toLowerCase() !== 'aad' || (clientId !== undefined && !/^[0-9a-f-]{36}$/i.test(clientId)))
        throw new TypeError('Setting APPLICATIONINSIGHTS_AUTHENTICATION_STRING is invalid: expected Authorization=AAD, optionally ;ClientId=<client id>')
      return Object.freeze({ connectionString, aad: Object.freeze(clientId ? { clientId } : {}) })
    },
  }),
}

/** METADATA_BLOB: where the BLOB is read from. */
export type MetadataSource = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'url'; readonly url: string }

/** AUTHENTICATOR_POLICY, parsed (AAGUIDs lower-case). */
export type AuthenticatorPolicy =
  | { readonly kind: 'any' }
  | { readonly kind: 'certified' }
  | { readonly kind: 'aaguids'; readonly aaguids: readonly string[] }

/** An AAGUID as FIDO MDS writes it (RFC 9562 text form, lower-case after parsing). */
const AAGUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

type Table = typeof TABLE

/** `Key=value;Key=value` (connection strings), keys lower-cased. */
function keyValues(s: string): Map<string, string> {
  return new Map(s.split(';').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')).trim().toLowerCase(), kv.slice(kv.indexOf('=') + 1).trim()]))
}

/** The validated settings, one property per `TABLE` entry, plus where the service runs. */
export type Config = {
  /** true when running on a developer machine (local server or `func start`), false in Azure. */
  readonly local: boolean
} & { readonly [K in keyof Table]: ReturnType<Table[K]['parse']> }

/** Documentation of every setting (and fallback), in table order; README and the sample settings follow it. */
export const SETTINGS: readonly SettingDoc[] = Object.freeze(
  Object.values(TABLE).flatMap(({ name, meaning, localDefault, fallback }: Setting<unknown>) => [
    { name, meaning, localDefault },
    ...(fallback ? [fallback] : []),
  ]),
)

/**
 * Reads and validates every setting once, in table order; a setting another one follows is
 * parsed when first asked for.
 *
 * @example
 * const config = loadConfig(process.env, { local: true })
 */
export function loadConfig(env: Env, { local }: { local: boolean }): Config {
  const values: Partial<Record<keyof Table, unknown>> = {}
  const value = <K extends keyof Table>(key: K): Config[K] => {
    if (!(key in values)) {
      const s = TABLE[key] as Setting<unknown>
      values[key] = s.parse(env[s.name], s.name, ctx)
    }
    return values[key] as Config[K]
  }
  const ctx: Context = {
    local,
    env,
    get port() {
      return value('port')
    },
    get rpId() {
      return value('rpId')
    },
    get gatewayPort() {
      return value('gatewayPort')
    },
    get tablesEndpoint() {
      return value('tablesEndpoint')
    },
  }
  for (const key of Object.keys(TABLE) as (keyof Table)[]) value(key)
  return Object.freeze({ local, ...values }) as Config
}
