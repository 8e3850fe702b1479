/**
 * The local server: the same Hono app the Functions host serves, on @hono/node-server, bound to
 * loopback only. `npm start` (scripts/start.mjs) runs the bundle of this file
 * (dist/local/server.mjs) next to Azurite; tests import `startLocalServer`.
 */
import type { Server } from 'node:http'
import { getRequestListener } from '@hono/node-server'
import { isEntryPoint } from '../runtime/node/entry.js'
import { assertLoopback, listenLoopback, stop } from '../runtime/node/listen.js'
import { nodeBindings } from '../runtime/node/bindings.js'
import { createService } from '../shared/bootstrap.js'
import { KeyEncryptionKeyMismatch, StorageUnavailableError } from '../shared/errors.js'
import { loadOrCreateLocalKek, localKekDir } from '../runtime/node/kek.js'
import { readMetadataBlob } from '../runtime/node/metadataBlob.js'
import { createClientMetadataFetcher } from '../runtime/node/clientMetadata.js'
import { startKeyRotation } from './keyRotation.js'
import { startHousekeeping } from './housekeeping.js'
import { startMetadataSync } from './metadata.js'
import { startDevGateway } from './gateway.js'
import { seedSampleAgent } from './sampleAgent.js'
import type { Permission } from '../shared/store/types.js'

export interface LocalServer {
  /** `http://localhost:<port>`, the origin browsers use (and the local RP origin). */
  url: string
  port: number
  /** The dev gateway (APIM stand-in) in front of the sample API, unless `gateway: false`. */
  gateway?: { url: string; backendUrl: string }
  /** The sample agent (`sampleAgent: true`): its client id and key file (local/sampleAgent.ts). */
  sampleAgent?: { clientId: string; created: boolean; path: string }
  close(): Promise<void>
}

/**
 * Sample roles for the sample API behind the dev gateway (`/sample/...` → echo backend), seeded
 * when no role is defined yet. Grant them with PUT /api/manage/users/{id}/roles/{role}.
 */
export const SAMPLE_ROLES: { name: string; permissions: Permission[] }[] = [
  { name: 'reader', permissions: [{ methods: ['GET'], path: '/orders/**' }] },
  { name: 'writer', permissions: [{ methods: ['GET', 'POST', 'DELETE'], path: '/orders/**' }] },
  { name: 'auditor', permissions: [{ methods: ['GET'], path: '/admin/**', acr: 'phrh' }] },
]

type Env = Record<string, string | undefined>

/**
 * Starts the service on `http://localhost:<PORT>` (default 7071), loopback only.
 *
 * Without `hostname` it listens on 127.0.0.1 and, when the machine has IPv6 loopback, on ::1 as
 * well, so `localhost` works whichever address a browser or Node's fetch resolves it to. The
 * caller's address reaches the app as `c.env.remoteAddr` (loopback-only routes check it).
 * A local KEY_ENCRYPTION_KEY is created once under `.azurite/` (or `AZURITE_LOCATION`) when unset,
 * and storage defaults to Azurite (`UseDevelopmentStorage=true`) when no storage setting is given.
 * Invalid settings reject with the `TypeError` from `loadConfig` that names the setting.
 *
 * @example
 * const server = await startLocalServer({ env: process.env })
 * await fetch(`${server.url}/api/health`)
 * await server.close()
 */
export async function startLocalServer(opts: {
  env: Env
  hostname?: string
  /** Start the dev gateway and the sample backend too (default true). */
  gateway?: boolean
  /**
   * Register the sample agent once and keep its key in `<AZURITE_LOCATION>/sample-agent.json`
   * (`npm start` does; default false, so tests see only the clients they register).
   */
  sampleAgent?: boolean
}): Promise<LocalServer> {
  const { hostname } = opts
  assertLoopback(hostname, 'the local server')
  const env: Env = { ...opts.env }
  if (!env.KEY_ENCRYPTION_KEY?.trim())
    env.KEY_ENCRYPTION_KEY = loadOrCreateLocalKek(localKekDir(env))
  // Local default storage: Azurite on its default port (`npm start` passes the port it started).
  const storage = [env.TABLES_CONNECTION_STRING, env.AzureWebJobsStorage, env.TABLES_ENDPOINT]
  if (!storage.some((v) => v?.trim())) env.TABLES_CONNECTION_STRING = 'UseDevelopmentStorage=true'

  const service = await createService({ env, local: true, readMetadataBlob, clientMetadataFetcher: createClientMetadataFetcher })
  // The signing keys must open with KEY_ENCRYPTION_KEY: say so now, naming the setting, rather
  // than answering every sign-in with an error (KeyEncryptionKeyMismatch).
  await service.core.keyRing.signingKey()
  const { port } = service.config
  if ((await service.store.listRoles()).length === 0)
    for (const r of SAMPLE_ROLES) await service.store.putRole({ ...r, updatedAt: Date.now() })
  const listener = getRequestListener((req, { incoming }) => service.app.fetch(req, nodeBindings(incoming)))

  const servers: Server[] = []
  const closers: (() => Promise<void>)[] = []
  let gateway: LocalServer['gateway']
  let sampleAgent: LocalServer['sampleAgent']
  const close = async () => {
    await Promise.all([...servers.splice(0).map(stop), ...closers.splice(0).map((f) => f())])
    // Last: what the requests served until now measured.
    await service.flush()
  }
  try {
    servers.push(...(await listenLoopback(listener, { hostname, port })).servers)
    if (opts.gateway !== false) {
      const gw = await startDevGateway({ config: service.config })
      gateway = { url: gw.url, backendUrl: gw.backendUrl }
      closers.push(gw.close)
    }
    if (opts.sampleAgent)
      // An optional sample: when it cannot be seeded, the service still starts (one line says why).
      sampleAgent = await seedSampleAgent(service.core, {
        dir: localKekDir(env),
        pageUrl: `http://localhost:${port}/`,
        ...(gateway ? { gatewayUrl: gateway.url } : {}),
      }).catch((e: unknown) => {
        console.error(`sample agent not seeded (${(e as Error)?.name ?? 'error'}); npm run agent will not work`)
        return undefined
      })
  } catch (err) {
    await close()
    throw err
  }
  // Signing-key rotation on a timer, as the Functions app's `keyrotation` timer does.
  closers.push(startKeyRotation({ core: service.core }))
  // Expired challenge/jti markers and sessions, as the Functions app's `housekeeping` timer does.
  closers.push(startHousekeeping({ core: service.core }))
  // FIDO metadata (METADATA_BLOB) downloaded and stored daily, as the Functions app's `metadata` timer does.
  if (service.config.metadataBlob) closers.push(startMetadataSync({ core: service.core }))
  return { url: `http://localhost:${port}`, port, ...(gateway ? { gateway } : {}), ...(sampleAgent ? { sampleAgent } : {}), close }
}


/**
 * Exit codes of `main`, which `npm start` (scripts/start.mjs) reads: a settings mistake is not
 * retried (EX_CONFIG), storage that did not answer is (EX_TEMPFAIL), and so is a crash (1).
 */
export const EXIT_SETTINGS = 78
export const EXIT_STORAGE = 75

/** One line for a startup failure a user can fix; `undefined` for a bug (print it whole). */
function startupMessage(err: unknown, env: Env): string | undefined {
  // Settings mistakes: TypeErrors from loadConfig ("Setting …"), the local key file, and above.
  if (err instanceof TypeError && /^Setting |^hostname |does not hold a 32-byte/.test(err.message))
    return err.message
  if (err instanceof KeyEncryptionKeyMismatch) return err.message
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number }
  if (e?.code === 'EADDRINUSE')
    return `port ${e.port ?? env.PORT ?? 7071} on ${e.address ?? 'localhost'} is already in use: stop the other process or set PORT`
  if (e?.code === 'EACCES')
    return `not allowed to listen on port ${e.port ?? env.PORT}: set PORT above 1024`
  if (err instanceof StorageUnavailableError)
    return `${err.message} Is Azurite running? (\`npm start\` starts it; check TABLES_CONNECTION_STRING)`
  return undefined
}

async function main() {
  let server: LocalServer
  try {
    server = await startLocalServer({ env: process.env, sampleAgent: true })
  } catch (err) {
    const line = startupMessage(err, process.env)
    if (line === undefined) console.error('local server failed to start:', err)
    else console.error(`local server: ${line}`)
    process.exit(err instanceof StorageUnavailableError ? EXIT_STORAGE : line === undefined ? 1 : EXIT_SETTINGS)
  }
  const api = `${server.url}/api`
  console.log(
    [
      `Passkey service listening on ${server.url} (loopback only)`,
      `  page       ${server.url}/`,
      `  API base   ${api}`,
      `  discovery  ${api}/.well-known/openid-configuration`,
      `  JWKS       ${api}/.well-known/jwks.json`,
      `  health     ${api}/health`,
      ...(server.gateway
        ? [`  gateway    ${server.gateway.url}/sample/orders  (APIM stand-in → sample backend)`]
        : []),
      ...(server.sampleAgent
        ? [
            `  agent      npm run agent -- --user <username> "<message>"  (sample agent ${server.sampleAgent.clientId}${server.sampleAgent.created ? ', registered now' : ''}; key in ${server.sampleAgent.path})`,
          ]
        : []),
    ].join('\n'),
  )
  let stopping = false
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130) // a second Ctrl-C does not wait
    stopping = true
    console.log(`local server: ${signal}, stopping`)
    server.close().then(
      () => process.exit(0),
      (err) => {
        console.error('local server: error while stopping:', err)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}

// Run when this file (or its bundle, dist/local/server.mjs) is the entry point, not when imported.
if (isEntryPoint(import.meta.url)) void main()
