/**
 * Starts the real service for integration tests: a Table store on a real Azurite (started by the
 * test file), the one Hono app, served over HTTP on a free loopback port by @hono/node-server.
 * Each service gets its own table prefix, so several can share one Azurite.
 */
import { getRequestListener } from '@hono/node-server'
import { nodeBindings } from '../../runtime/node/bindings.js'
import { readMetadataBlob } from '../../runtime/node/metadataBlob.js'
import { createClientMetadataFetcher } from '../../runtime/node/clientMetadata.js'
import type { ClientMetadataFetcherFactory } from '../../shared/oauth/clientMetadata.js'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { createApp } from '../../shared/app.js'
import { loadConfig, type Config } from '../../shared/config.js'
import type { Core } from '../../shared/core.js'
import { createTablesStore, type StorageRequest } from '../../shared/store/tables.js'
import type { Store } from '../../shared/store/types.js'
import type { Clock } from '../../shared/util/clock.js'
import type { Telemetry } from '../../shared/telemetry.js'

export const ORIGIN = 'http://localhost:7071'

let counter = 0

export interface TestService {
  url: string
  config: Config
  core: Core
  store: Store
  /** Storage round trips since the last `resetTrips()`. */
  trips: StorageRequest[]
  resetTrips(): void
  /** What the service logged (unexpected errors, metadata ignored or taken). */
  logs: string[]
  close(): Promise<void>
}

export async function startService(opts: {
  connectionString: string
  env?: Record<string, string>
  clock?: Clock
  /** Sees every storage round trip; throwing makes that request fail as if its answer was lost. */
  onRequest?: (r: StorageRequest) => void
  /**
   * Listen on this port and set PORT to it, so that the issuer (and its discovery URLs) point at
   * this server; WebAuthn origins stay http://localhost:7071 unless env says otherwise.
   */
  port?: number
  /** Spans and metrics (test/http/telemetry.test.ts passes in-memory exporters). */
  telemetry?: Telemetry
  /** Client ID metadata document fetcher; default the Node one (runtime/node/clientMetadata.ts). */
  clientMetadataFetcher?: ClientMetadataFetcherFactory
}): Promise<TestService> {
  const prefix = `t${process.pid}x${++counter}`
  const config = loadConfig(
    {
      TABLES_CONNECTION_STRING: opts.connectionString,
      TABLE_PREFIX: prefix,
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      // Every test calls from 127.0.0.1: rate limits are tested on their own (test/http/rateLimit).
      RATE_LIMIT: '0',
      ...(opts.port ? { PORT: String(opts.port), ALLOWED_ORIGINS: ORIGIN } : {}),
      ...opts.env,
    },
    { local: true },
  )
  const trips: StorageRequest[] = []
  const store = createTablesStore({ config, telemetry: opts.telemetry, onRequest: (r) => {
      trips.push(r)
      opts.onRequest?.(r)
    } })
  await store.init()
  const errors: string[] = []
  const app = createApp({ config, store, clock: opts.clock, telemetry: opts.telemetry, logError: (m) => errors.push(m), readMetadataBlob, clientMetadataFetcher: opts.clientMetadataFetcher ?? createClientMetadataFetcher })
  // As the local server does: the caller's address reaches the app (loopback-only routes).
  const server = createServer(
    getRequestListener((req, { incoming }) => app.fetch(req, nodeBindings(incoming))),
  )
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    core: app.core,
    store,
    trips,
    resetTrips: () => void trips.splice(0),
    logs: errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
