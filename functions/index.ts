/**
 * The Azure Functions entry (package.json `main` → dist/functions/index.cjs, built by
 * scripts/build.mjs). It only registers functions; every route is served by the one Hono app
 * (shared/app.ts) through functions/adapter.ts.
 *
 * Routing rules of the host that shape the registrations below (../shared/AZURE-NOTES.md):
 * - Routes get the `api/` prefix from host.json, and the app's own routes include `/api`, so the
 *   request URL is passed on unchanged.
 * - No route or function name may begin with `admin` or `runtime`: the host keeps them for its
 *   own APIs ("The specified route conflicts with one or more built in routes").
 * - The host tries function routes in order and takes the first whose template and method
 *   match (ASP.NET Core `RouteCollection`), so no two templates below overlap.
 * - A catch-all `{*rest}` also matches an empty remainder (ASP.NET Core
 *   `RoutePatternMatcherTest.TryMatch_RouteWithCatchAll_MatchesEmptyContent`), so `me/{*rest}`
 *   serves `/api/me` as well as `/api/me/credentials/{id}`.
 * - The host serves `/` itself; the web page lives under `/api/ui` in Azure.
 * test/functions/registration.test.ts checks every CONTRACT.md route against this table.
 */
import { app } from '@azure/functions'
import { createService, type Service } from '../shared/bootstrap.js'
import { loadOrCreateLocalKek, localKekDir } from '../runtime/node/kek.js'
import { readMetadataBlob } from '../runtime/node/metadataBlob.js'
import { createClientMetadataFetcher } from '../runtime/node/clientMetadata.js'
import { handle } from './adapter.js'
import { scheduledRotation } from '../shared/tokens/scheduledRotation.js'
import { sweep, sweepLine } from '../shared/housekeeping.js'

let service: Promise<Service> | undefined

/**
 * The service, created on first use and then shared by every invocation of this worker. A
 * failed start is not kept: the next request tries again (storage may be back, settings fixed).
 */
function getService(): Promise<Service> {
  service ??= start().catch((err: unknown) => {
    service = undefined
    throw err
  })
  return service
}

async function start(): Promise<Service> {
  // Local means Core Tools (`func start`), which sets AZURE_FUNCTIONS_ENVIRONMENT=Development,
  // and no App Service instance (WEBSITE_INSTANCE_ID, Kudu wiki "Azure runtime environment").
  // Anything else is treated as Azure: settings are required, nothing is generated. Fail safe.
  const local =
    process.env.AZURE_FUNCTIONS_ENVIRONMENT === 'Development' && !process.env.WEBSITE_INSTANCE_ID
  const env = { ...process.env }
  // Local only: the key-encryption key kept under .azurite/ (or AZURITE_LOCATION), the same file
  // the local server uses. In Azure the setting is required and loadConfig refuses to start
  // without it.
  if (local && !env.KEY_ENCRYPTION_KEY?.trim())
    env.KEY_ENCRYPTION_KEY = loadOrCreateLocalKek(localKekDir(env))
  return await createService({ env, local, readMetadataBlob, clientMetadataFetcher: createClientMetadataFetcher })
}

const handler = handle(async () => (await getService()).app)

// Every method is listed: the host's default would be GET and POST only.
// GET /api/health
app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler })

// GET /api/openapi.json (the service's own OpenAPI 3.1 document, importable into APIM)
app.http('openapi', { route: 'openapi.json', methods: ['GET'], authLevel: 'anonymous', handler })

// POST /api/webauthn/{registration,authentication}/{options,verify}
app.http('webauthn', {
  route: 'webauthn/{*rest}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler,
})

// GET /api/.well-known/{openid-configuration,oauth-authorization-server,jwks.json}
app.http('wellknown', {
  route: '.well-known/{*rest}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler,
})

// GET /api/oauth2/authorize (the hosted sign-in page), POST /api/oauth2/{token,introspect,revoke,bc-authorize}
app.http('oauth2', {
  route: 'oauth2/{*rest}',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler,
})

// GET /api/me, GET /api/me/credentials, PATCH|DELETE /api/me/credentials/{id}; agents' requests:
// GET /api/me/approvals, POST /api/me/approvals/{id}/options|verify, DELETE /api/me/approvals/{id},
// GET /api/me/delegations, DELETE /api/me/delegations/{id}
app.http('me', {
  route: 'me/{*rest}',
  methods: ['GET', 'POST', 'PATCH', 'DELETE'],
  authLevel: 'anonymous',
  handler,
})

// /api/manage/…: administration (a route beginning with `admin` is the host's)
app.http('manage', {
  route: 'manage/{*rest}',
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
  authLevel: 'anonymous',
  handler,
})

// POST /api/authz/check: APIM sends `x-functions-key` from a named value (CONTRACT.md "Authorizer")
app.http('authz', { route: 'authz/check', methods: ['POST'], authLevel: 'function', handler })

// GET /api/authenticators/{id}/icon: an authenticator model's icon from the FIDO metadata
app.http('authenticators', { route: 'authenticators/{id}/icon', methods: ['GET'], authLevel: 'anonymous', handler })

// GET /api/ui and /api/ui/…: the demo / self-service page and its assets
app.http('page', { route: 'ui/{*rest}', methods: ['GET'], authLevel: 'anonymous', handler })

// Signing-key rotation and repairs (shared/tokens/rotation.ts), every 5 minutes (NCRONTAB, six
// fields). Idempotent and safe on any number of instances; rotation happens on the first run after
// it is due, so at most 5 minutes late. A failed run (storage down) is retried by the next one.
app.timer('keyrotation', {
  schedule: '0 */5 * * * *',
  handler: async (_timer, context) => {
    const { core } = await getService()
    for (const line of await scheduledRotation(core)) context.log(`signing keys: ${line}`)
  },
})

// Housekeeping (shared/housekeeping.ts): Table Storage has no TTL, so expired challenge/jti markers
// and sessions are deleted here, hourly at minute 17, at most 1000 rows per run (a backlog drains
// over the next runs). Safe on any number of instances: every delete is guarded by the etag it
// read, and a row someone else deleted or changed is a 404/412 and kept. A failed run is retried
// by the next one.
app.timer('housekeeping', {
  schedule: '0 17 * * * *',
  handler: async (_timer, context) => {
    const { core } = await getService()
    context.log(sweepLine(await sweep(core, core.clock.now())))
  },
})

// FIDO metadata (shared/webauthn/metadata.ts `sync`, docs/authenticators.md "The timer and
// storage"): an https METADATA_BLOB is downloaded daily at 03:41 UTC, verified, and stored in
// Table Storage when newer than the stored one; every instance reads the stored copy. A BLOB that
// does not verify is not stored (the last good one stays, a log line says why). Safe on any
// number of instances: the stored head moves only under its etag and only to a greater `no`.
app.timer('metadata', {
  schedule: '0 41 3 * * *',
  handler: async (_timer, context) => {
    const { core } = await getService()
    for (const line of await core.metadata.sync()) context.log(line)
  },
})

// Registered after the functions (@azure/functions sets its programming model up with the first).
// The worker is stopping (scale-in, deployment): send the batched telemetry first. A service that
// never started has nothing to send.
app.hook.appTerminate(async () => {
  const started = await service?.catch(() => undefined)
  await started?.flush()
})
