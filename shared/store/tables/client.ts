/**
 * The Table clients and their HTTP pipeline: one `TableClient` per table, with the SDK's retry
 * policy replaced by a bounded one (2 s per try, 3 s in all, one retry only when it cannot apply
 * a write twice) and the policies that do nothing for Table Storage removed (docs/storage.md
 * "Failures").
 */
import { TableClient } from '@azure/data-tables'
import type { TokenCredential } from '@azure/core-auth'
import type { Config } from '../../config.js'
import type { Telemetry } from '../../telemetry.js'

/** Every table, without the prefix. Table names: alphanumeric, 3–63 characters. */
export const TABLE_NAMES = ['users', 'usernames', 'credentials', 'challenges', 'signingkeys', 'roles', 'audit'] as const
export type TableName = (typeof TABLE_NAMES)[number]

/** One HTTP round trip to Table Storage, as seen by `onRequest` (the URL has no SAS signature). */
export interface StorageRequest {
  method: string
  url: string
  /** Absent when no response came back (refused, reset, timed out). */
  status?: number
}

export interface TablesStoreOptions {
  config: Config
  /** Used with `config.tablesEndpoint`; default: a `DefaultAzureCredential` created on first use. */
  credential?: TokenCredential
  /**
   * Called once per HTTP round trip (every try, after its response or failure). Benchmarks and
   * tests count storage round trips with it. If it throws, the request fails as if its response
   * had been lost (the service may have applied it): tests use this to inject such faults. If it
   * is async, the response waits for its promise: tests use this to let another writer in
   * between a read and the write that follows it.
   */
  onRequest?: (r: StorageRequest) => void
  /** One dependency span per round trip (table, operation, status), when telemetry is on. */
  telemetry?: Telemetry
}

const TRY_TIMEOUT_MS = 2_000
const TOTAL_BUDGET_MS = 3_000
const RETRY_DELAY_MS = 100

type Pipeline = TableClient['pipeline']
type PipelinePolicy = Parameters<Pipeline['addPolicy']>[0]

/** One client per table (named `${tablePrefix}${name}`), through a connection string or an endpoint and a credential. */
export function makeClients({ config, credential, onRequest, telemetry }: TablesStoreOptions): Record<TableName, TableClient> {
  const { tablesConnectionString, tablesEndpoint, tablePrefix } = config
  if (!tablesConnectionString && !tablesEndpoint)
    throw new TypeError('createTablesStore: config needs tablesConnectionString or tablesEndpoint')
  const endpoint = tablesConnectionString ? undefined : tablesEndpoint
  const insecure = tablesConnectionString
    ? /TableEndpoint=http:|DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(
        tablesConnectionString,
      )
    : endpoint!.startsWith('http:')
  const options = {
    allowInsecureConnection: insecure,
    // The default retry policy is replaced by `retryPolicy` below.
    retryOptions: { maxRetries: 0 },
  }
  const cred = endpoint ? (credential ?? lazyDefaultCredential()) : undefined
  const make = (name: TableName): TableClient => {
    const table = `${tablePrefix}${name}`
    const client = tablesConnectionString
      ? TableClient.fromConnectionString(tablesConnectionString, table, { ...options })
      : new TableClient(endpoint!, table, cred!, { ...options })
    client.pipeline.removePolicy({ name: 'defaultRetryPolicy' })
    // Policies that do nothing for Table Storage but cost CPU on every request (≈ a third of the
    // client's per-request CPU, docs/benchmarks.md): SDK tracing spans and request logging (never
    // wanted: URLs carry keys of personal data), a User-Agent, redirects (Table Storage does not
    // redirect; not following them is safer), response decompression, form data and multipart.
    for (const name of UNUSED_POLICIES) client.pipeline.removePolicy({ name })
    client.pipeline.addPolicy(retryPolicy(), { phase: 'Retry' })
    if (onRequest) client.pipeline.addPolicy(requestCounter(onRequest), { afterPhase: 'Retry' })
    // Our own span, not the SDK's tracingPolicy (removed above): its attributes include the URL.
    if (telemetry?.enabled) client.pipeline.addPolicy(storageSpans(telemetry, name), { afterPhase: 'Retry' })
    return client
  }
  return Object.fromEntries(TABLE_NAMES.map((n) => [n, make(n)])) as Record<TableName, TableClient>
}

const UNUSED_POLICIES = [
  'tracingPolicy',
  'logPolicy',
  'userAgentPolicy',
  'redirectPolicy',
  'decompressResponsePolicy',
  'formDataPolicy',
  'multipartPolicy',
]

/** `DefaultAzureCredential` is loaded and created on the first token request (cold start). */
function lazyDefaultCredential(): TokenCredential {
  let cred: Promise<TokenCredential> | undefined
  return {
    async getToken(scopes, options) {
      cred ??= import('@azure/identity').then((m) => new m.DefaultAzureCredential())
      return (await cred).getToken(scopes, options)
    },
  }
}

/**
 * Bounds every call: each try gets at most TRY_TIMEOUT_MS and the whole call TOTAL_BUDGET_MS.
 * One retry, and only when it cannot apply a write twice: the connection was refused (nothing
 * was sent), the service refused the request (429, 503 ServerBusy), or the request is a read.
 */
function retryPolicy(): PipelinePolicy {
  return {
    name: 'storeRetryPolicy',
    async sendRequest(request, next) {
      const start = Date.now()
      for (let tries = 1; ; tries++) {
        request.timeout = Math.max(1, Math.min(TRY_TIMEOUT_MS, TOTAL_BUDGET_MS - (Date.now() - start)))
        let response: Awaited<ReturnType<typeof next>> | undefined
        let error: unknown
        try {
          response = await next(request)
        } catch (err) {
          error = err
        }
        const left = TOTAL_BUDGET_MS - (Date.now() - start) - RETRY_DELAY_MS
        if (tries >= 2 || left < 250 || !retriable(request.method, response?.status, error)) {
          if (response) return response
          throw error
        }
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS))
      }
    },
  }
}

const NETWORK_ERRORS = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'REQUEST_SEND_ERROR'])

function retriable(method: string, status: number | undefined, error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  if (code === 'ECONNREFUSED') return true
  if (status === 429 || status === 503) return true
  if (method !== 'GET') return false
  if (status !== undefined) return status === 408 || status >= 500
  const name = (error as { name?: unknown } | undefined)?.name
  return name === 'AbortError' || (typeof code === 'string' && NETWORK_ERRORS.has(code))
}

function requestCounter(onRequest: (r: StorageRequest) => void): PipelinePolicy {
  return {
    name: 'storeRequestCounter',
    async sendRequest(request, next) {
      const url = new URL(request.url)
      url.searchParams.delete('sig')
      const report = { method: request.method, url: url.toString() }
      let response
      try {
        response = await next(request)
      } catch (err) {
        await (onRequest(report) as unknown) // an async callback is waited for
        throw err
      }
      await (onRequest({ ...report, status: response.status }) as unknown)
      return response
    },
  }
}

/**
 * What a Table Storage request does, from its method and URL shape (never the URL itself: the
 * row keys in it are user ids and usernames).
 */
export function operationOf(method: string, url: string): string {
  const path = new URL(url).pathname
  if (path.endsWith('/$batch')) return 'transaction'
  if (/\/Tables(\(|$)/.test(path)) return 'table'
  if (/\(.+\)$/.test(path)) return ({ GET: 'read', PUT: 'replace', MERGE: 'merge', PATCH: 'merge', DELETE: 'delete' } as Record<string, string>)[method] ?? method.toLowerCase()
  return method === 'POST' ? 'insert' : 'query'
}

function storageSpans(telemetry: Telemetry, table: TableName): PipelinePolicy {
  return {
    name: 'storeTelemetry',
    sendRequest(request, next) {
      const operation = operationOf(request.method, request.url)
      // db.* attributes make it a database dependency in Application Insights (type azure.tables).
      const attrs = { 'db.system.name': 'azure.tables', 'db.collection.name': table, 'db.operation.name': operation }
      return telemetry.span(`${operation} ${table}`, 'client', attrs, async (span) => {
        const response = await next(request)
        span.set({ 'db.response.status_code': String(response.status) })
        if (response.status >= 500 || response.status === 429) span.fail(String(response.status))
        return response
      })
    },
  }
}
