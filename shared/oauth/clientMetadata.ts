/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document; CONTRACT v2 "AI
 * clients and MCP servers"): a `client_id` that is an https URL (or an http://localhost one while
 * RP_ID is localhost) names a public client described by the JSON document at that URL.
 *
 * The transport (address checks, 5 s, 5 KiB, no redirects) is the runtime's
 * (runtime/node/clientMetadata.ts), injected as `FetchClientMetadata`; without one the service
 * does not support such clients and discovery does not say it does. Here, in order:
 * 1. the URL: at most 255 characters, https (http only for localhost in local development), a
 *    path, no fragment, query, user information or dot segments (§3);
 * 2. the answer: 200 (a 3xx is a redirect: refused), a JSON content type, a JSON object;
 * 3. the document: `client_id` equal to the URL character for character (§4.1), 1–10
 *    `redirect_uris` under the rules for registered clients, `token_endpoint_auth_method` `none`
 *    or absent, no `client_secret` (§4.1: public clients only);
 * 4. cached per `Cache-Control: max-age` (at most 24 h, 5 minutes without one, none for
 *    no-store / no-cache), failures for 30 seconds.
 * The client it yields is public (PKCE S256, the base scopes only), never stored; its id (a URL,
 * `isMetadataDocumentClientId`) tells it is not registered by an administrator, which the page says.
 */
import * as v from 'valibot'
import type { Config } from '../config.js'
import type { Core } from '../core.js'
import { isBase64url } from '../util/base64url.js'
import { ServiceError } from '../errors.js'
import { ClientMetadataDocument } from '../schemas/clientMetadata.js'
import type { ClientRecord } from '../store/types.js'
import type { Clock } from '../util/clock.js'
import { parseRedirectUris } from './clients.js'

/** What the runtime's fetcher answers (the body already bounded by it). */
export interface FetchedClientMetadata {
  status: number
  contentType?: string
  cacheControl?: string
  body: string
}

/** Fetches one document within the transport limits, or throws ClientMetadataError. */
export type FetchClientMetadata = (url: URL) => Promise<FetchedClientMetadata>

/** Makes the fetcher; `allowPrivateAddresses` only in local development. */
export type ClientMetadataFetcherFactory = (opts: { allowPrivateAddresses: boolean }) => FetchClientMetadata

/** Why a client ID metadata document cannot be used (shown as `invalid_client`'s description). */
export class ClientMetadataError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ClientMetadataError'
  }
}

/** §4: cache at most 24 h; a small default without Cache-Control; failures briefly. */
export const MAX_CACHE_SECONDS = 86_400
export const DEFAULT_CACHE_SECONDS = 300
export const FAILURE_CACHE_SECONDS = 30
/**
 * The longest client_id URL: 255 characters (the draft sets none; a client ID is an identifier,
 * kept on every session and consent and shown on the page). Longer ones are refused.
 */
export const MAX_CLIENT_ID_URL = 255
const MAX_ENTRIES = 1000

/**
 * Whether `clientId` is of the URL form (not a registered client's base64url id). Syntactic
 * only: places that ask "is this client still registered" treat such clients as live.
 */
export function isMetadataDocumentClientId(clientId: string): boolean {
  return clientId.startsWith('https://') || clientId.startsWith('http://')
}

/** Step 1: the URL a client_id may be (§3), or the reason it may not. */
export function clientIdUrlRefusal(config: Pick<Config, 'local' | 'rpId'>, clientId: string): string | undefined {
  if (clientId.length > MAX_CLIENT_ID_URL) return `the client_id URL is over ${MAX_CLIENT_ID_URL} characters`
  let url: URL
  try {
    url = new URL(clientId)
  } catch {
    return 'the client_id is not a URL'
  }
  const localDev = config.local && config.rpId === 'localhost'
  if (url.protocol !== 'https:' && !(localDev && url.protocol === 'http:' && url.hostname === 'localhost'))
    return 'the client_id URL must be https (http://localhost only in local development)'
  if (clientId.includes('#')) return 'the client_id URL must not have a fragment'
  if (url.search || clientId.includes('?')) return 'the client_id URL must not have a query'
  if (url.username || url.password) return 'the client_id URL must not carry user information'
  if (url.pathname === '/' ) return 'the client_id URL must have a path'
  if (/\/\.\.?(\/|$)/.test(new URL(clientId).pathname) || /\/\.\.?(\/|$)/.test(clientId.slice(url.origin.length)))
    return 'the client_id URL must not have dot segments'
  // The URL parser normalises; the client_id must be the normal form (compared as strings, §4.1).
  if (url.href !== clientId) return 'the client_id URL must be in normal form'
  return undefined
}

/** Seconds the answer may be cached: Cache-Control max-age within [0, 24 h]; no-store → 0. */
function cacheSeconds(cacheControl: string | undefined): number {
  if (!cacheControl) return DEFAULT_CACHE_SECONDS
  const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim())
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0
  const maxAge = directives.map((d) => /^max-age=(\d+)$/.exec(d)?.[1]).find((m) => m !== undefined)
  return maxAge === undefined ? DEFAULT_CACHE_SECONDS : Math.min(Number(maxAge), MAX_CACHE_SECONDS)
}

/** Steps 2–3: the fetched answer as a client, or ClientMetadataError. */
function clientOf(clientId: string, answer: FetchedClientMetadata, now: number): ClientRecord {
  if (answer.status >= 300 && answer.status < 400) throw new ClientMetadataError('the client_id URL redirects: redirects are not followed')
  if (answer.status !== 200) throw new ClientMetadataError(`the client_id URL answered ${answer.status}`)
  const type = answer.contentType?.split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json' && !type?.endsWith('+json')) throw new ClientMetadataError('the client metadata document is not JSON (Content-Type)')
  let body: unknown
  try {
    body = JSON.parse(answer.body)
  } catch {
    throw new ClientMetadataError('the client metadata document is not valid JSON')
  }
  const parsed = v.safeParse(ClientMetadataDocument, body)
  if (!parsed.success) throw new ClientMetadataError(`the client metadata document is not valid: ${parsed.issues[0]?.message ?? 'bad shape'}`)
  const doc = parsed.output
  if (doc.client_id !== clientId) throw new ClientMetadataError('the client metadata document\'s client_id is not its URL')
  if ('client_secret' in doc) throw new ClientMetadataError('a client metadata document must not carry a client_secret (public clients only)')
  let redirectUris: string[]
  try {
    redirectUris = parseRedirectUris(doc.redirect_uris)
  } catch (e) {
    if (e instanceof ServiceError) throw new ClientMetadataError(`the client metadata document's ${e.message}`)
    throw e
  }
  const name = doc.client_name?.trim() || new URL(clientId).host
  return { id: clientId, name, kind: 'public', redirectUris, createdAt: now }
}

/**
 * The documents, fetched and cached per instance.
 *
 * @example
 * const client = await core.clientMetadata?.resolve('https://app.example/client.json')
 */
export class ClientMetadataDocuments {
  private readonly cache = new Map<string, { until: number; client?: ClientRecord; error?: string }>()
  private readonly inflight = new Map<string, Promise<ClientRecord>>()

  constructor(private readonly deps: { config: Pick<Config, 'local' | 'rpId'>; clock: Clock; fetch: FetchClientMetadata }) {}

  /** The client the document at `clientId` describes; ClientMetadataError when it cannot be used. */
  async resolve(clientId: string): Promise<ClientRecord> {
    const refused = clientIdUrlRefusal(this.deps.config, clientId)
    if (refused) throw new ClientMetadataError(refused)
    const now = this.deps.clock.now()
    const hit = this.cache.get(clientId)
    if (hit && now < hit.until) {
      if (hit.client) return hit.client
      throw new ClientMetadataError(hit.error!)
    }
    let p = this.inflight.get(clientId)
    if (!p) {
      p = this.load(clientId).finally(() => this.inflight.delete(clientId))
      this.inflight.set(clientId, p)
    }
    return p
  }

  private async load(clientId: string): Promise<ClientRecord> {
    const now = this.deps.clock.now()
    try {
      const answer = await this.deps.fetch(new URL(clientId))
      const client = clientOf(clientId, answer, now)
      this.remember(clientId, { until: now + cacheSeconds(answer.cacheControl) * 1000, client })
      return client
    } catch (e) {
      if (!(e instanceof ClientMetadataError)) throw e
      this.remember(clientId, { until: now + FAILURE_CACHE_SECONDS * 1000, error: e.message })
      throw e
    }
  }

  private remember(clientId: string, entry: { until: number; client?: ClientRecord; error?: string }) {
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!)
    this.cache.set(clientId, entry)
  }
}

/**
 * The client a `client_id` names: a registered one (base64url id, from the store), or a public
 * client described by its metadata document (URL id, when the service supports them). Undefined
 * when there is none; ClientMetadataError when the document cannot be used.
 *
 * @example
 * const client = await findClient(core, params.get('client_id')!)
 */
export async function findClient(core: Pick<Core, 'store' | 'clientMetadata'>, clientId: string): Promise<ClientRecord | undefined> {
  if (isMetadataDocumentClientId(clientId)) {
    if (!core.clientMetadata) return undefined
    return core.clientMetadata.resolve(clientId)
  }
  return isBase64url(clientId) && clientId.length <= 64 ? core.store.getClient(clientId) : undefined
}
