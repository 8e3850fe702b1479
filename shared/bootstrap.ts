import type { Hono } from 'hono'
import { createApp, type AppEnv } from './app.js'
import type { Core } from './core.js'
import { loadConfig, type Config } from './config.js'
import type { Store } from './store/types.js'
import { systemClock, type Clock } from './util/clock.js'
import { loadTelemetry, type Telemetry } from './telemetry.js'
import type { ReadMetadataBlob } from './webauthn/metadata.js'
import type { ClientMetadataFetcherFactory } from './oauth/clientMetadata.js'

/** How long after start (in Azure) the tables are checked: past a cold start's first request. */
const TABLE_CHECK_DELAY_MS = 2000

export interface Service {
  app: Hono<AppEnv>
  config: Config
  store: Store
  /** The app's parts (the key ring's timer job needs them). */
  core: Core
  /**
   * Sends batched telemetry before the process stops (the local server's close, the Functions
   * host's appTerminate hook): the last minute's metrics and the last 5 s of spans would be lost.
   * Never throws (stopping must go on).
   */
  flush(): Promise<void>
}

/**
 * Builds the service from settings: config (validated once), the Table store, the app.
 * Used by the Functions entry (functions/index.ts) and the local server (local/server.ts).
 */
export async function createService(opts: {
  env: Record<string, string | undefined>
  local: boolean
  clock?: Clock
  store?: Store
  /** Reads METADATA_BLOB (runtime/node/metadataBlob.ts: a file or an https URL). */
  readMetadataBlob?: ReadMetadataBlob
  /** Default: from APPLICATIONINSIGHTS_CONNECTION_STRING (tests pass in-memory pipelines). */
  telemetry?: Telemetry
  /** Fetches client ID metadata documents (runtime/node/clientMetadata.ts). */
  clientMetadataFetcher?: ClientMetadataFetcherFactory
}): Promise<Service> {
  const config = loadConfig(opts.env, { local: opts.local })
  const clock = opts.clock ?? systemClock
  // Loaded (and its module imported) only with APPLICATIONINSIGHTS_CONNECTION_STRING set.
  const telemetry = opts.telemetry ?? (await loadTelemetry(config))
  const store = opts.store ?? (await import('./store/tables.js')).createTablesStore({ config, telemetry })
  // Creating the tables (idempotent) is one round trip per table. A developer's fresh emulator
  // needs them before the first request; in Azure the template creates them (infra/), so the
  // check runs a little after start, off the cold start's first request, and a table missing
  // all the same is re-created by the store on first use (TableNotFound → 503 with Retry-After).
  if (opts.local) await store.init()
  else
    setTimeout(
      // The error's name only: a storage SDK message may quote request URLs and headers.
      () => void store.init().catch((err: unknown) => console.error(`table check failed: ${err instanceof Error ? err.name : 'unknown error'}`)),
      TABLE_CHECK_DELAY_MS,
    ).unref?.()
  const app = createApp({ config, store, clock, telemetry, readMetadataBlob: opts.readMetadataBlob, clientMetadataFetcher: opts.clientMetadataFetcher })
  const flush = async () => {
    // The error's name only: an exporter's message may quote its endpoint and headers.
    await telemetry.flush?.().catch((err: unknown) => console.error(`telemetry flush failed: ${err instanceof Error ? err.name : 'unknown error'}`))
  }
  return { app, config, store, core: app.core, flush }
}
