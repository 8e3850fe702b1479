#!/usr/bin/env node
// Builds the two runnable bundles with esbuild (`npm run build`):
//   functions/index.ts -> dist/functions/index.cjs
//     The Azure Functions entry (package.json "main"): CommonJS, Node 20, every dependency
//     bundled, so a deployment needs no node_modules. Only `@azure/functions-core` stays
//     outside: the Functions host's Node worker provides that module at run time.
//   local/server.ts -> dist/local/server.mjs
//     The local server (`npm start`): ESM, packages left to node_modules. Skipped while
//     local/server.ts does not exist.
//   shared/schemas/ -> shared/openapi/components.generated.json
//     The OpenAPI document's component schemas, generated from the wire schemas by
//     scripts/openapi.ts (only rewritten when they changed; the converter stays out of the bundles).
//   web/ -> shared/web/assets.generated.json
//     The front end's scripts and stylesheet (web/build.mjs), written first (only when they
//     changed) so both bundles serve the current pages.
//   apim/render.ts -> apim/policy.xml, apim/policy-managed-identity.xml
//     The APIM policies from their one template (apim/build.mjs), only when they changed.
// Source maps sit beside each bundle. Prints each output's size; exits 1 on any build error.
// `--outdir <dir>` writes the same bundles under <dir> instead of dist/ (tests build privately).
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { existsSync, mkdirSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'
import { writePolicies } from '../apim/build.mjs'
import { writeWebAssets } from '../web/build.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * What the Functions bundle loads only when a request needs it, each a file of its own beside
 * index.cjs (its source → its file name). Cold start on Flex Consumption reads less: most cold
 * starts are the authorizer's or a token request's, which need none of these.
 * - @azure/identity and MSAL (≈ 40 % of the bundle): only with managed identity, on the first
 *   storage request (shared/store/tables/client.ts).
 * - @simplewebauthn/server with its X.509/ASN.1 code: the first ceremony (shared/webauthn/lib.ts).
 * - The pages' assets: the first page or script request (shared/web/lazyAssets.ts).
 * - The OpenAPI document's code and schemas: GET /api/openapi.json (shared/app.ts).
 * - OpenTelemetry and the Azure Monitor exporter: only with APPLICATIONINSIGHTS_CONNECTION_STRING
 *   set, at startup (shared/telemetry.ts).
 */
export const BESIDE = [
  { name: 'identity', from: '@azure/identity', entry: 'functions/identity.ts', file: 'identity.cjs' },
  { name: 'webauthn', from: 'shared/webauthn/libs.ts', entry: 'shared/webauthn/libs.ts', file: 'webauthn.cjs' },
  { name: 'assets', from: 'shared/web/assets.ts', entry: 'shared/web/assets.ts', file: 'assets.cjs' },
  { name: 'openapi', from: 'shared/openapi.ts', entry: 'shared/openapi.ts', file: 'openapi.cjs' },
  { name: 'telemetry', from: 'shared/telemetry/otel.ts', entry: 'shared/telemetry/otel.ts', file: 'telemetry.cjs' },
]

/**
 * Resolves each BESIDE module to its file beside the bundle (a package by name; one of our
 * modules when imported dynamically by path), so the bundle `require()`s it on first use. The
 * BESIDE files use it too (`except` their own row): telemetry.cjs loads identity.cjs.
 */
function besideFiles(except) {
  const rows = BESIDE.filter((b) => b.name !== except)
  const packages = new Map(rows.filter((b) => !b.from.includes('/') || b.from.startsWith('@')).map((b) => [b.from, b.file]))
  const modules = new Map(rows.filter((b) => b.from.startsWith('shared/')).map((b) => [join(root, b.from), b.file]))
  return {
    name: 'beside',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (packages.has(args.path)) return { path: `./${packages.get(args.path)}`, external: true }
        if (args.kind !== 'dynamic-import' || !args.path.startsWith('.')) return undefined
        const file = modules.get(join(args.resolveDir, args.path).replace(/\.js$/, '.ts'))
        return file ? { path: `./${file}`, external: true } : undefined
      })
    },
  }
}

/** The bundles, as esbuild options (entries relative to the repository root, outputs to dist/). */
export const targets = [
  {
    name: 'functions',
    entryPoints: ['functions/index.ts'],
    outfile: 'functions/index.cjs',
    format: 'cjs',
    // Provided by the host's worker, not on npm. @azure/functions require()s it lazily and falls
    // back to "test mode" when it is missing (outside the host).
    external: ['@azure/functions-core'],
    // Cold start on Flex Consumption: less to parse. Names are kept (errors are told apart by name).
    minify: true,
    keepNames: true,
    // What a request may never need is in files of its own beside the bundle (BESIDE).
    plugins: [besideFiles()],
  },
  ...BESIDE.map(({ name, entry, file }) => ({
    name: `functions ${name}`,
    entryPoints: [entry],
    outfile: `functions/${file}`,
    format: 'cjs',
    minify: true,
    keepNames: true,
    plugins: [besideFiles(name)],
  })),
  {
    name: 'local server',
    entryPoints: ['local/server.ts'],
    outfile: 'local/server.mjs',
    format: 'esm',
    packages: 'external',
    optional: true,
  },
]

/**
 * Builds every target whose entry exists. Returns `[{ name, outfile, bytes }]` for what was built.
 * @param {{ outDir?: string, quiet?: boolean }} [opts]
 */
/** shared/openapi/components.generated.json from shared/schemas/ (scripts/openapi.ts, through tsx). */
function writeOpenApiComponents() {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'openapi.ts')], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('scripts/openapi.ts failed: the OpenAPI components could not be generated')
}

export async function build({ outDir = 'dist', quiet = false } = {}) {
  const out = resolve(root, outDir)
  const say = quiet ? () => {} : (msg) => console.log(msg)
  const built = []
  writeOpenApiComponents()
  await writeWebAssets({ quiet })
  await writePolicies({ quiet })
  for (const { name, optional, ...options } of targets) {
    const entry = join(root, options.entryPoints[0])
    if (!existsSync(entry)) {
      if (optional) {
        say(`skipped ${name}: ${options.entryPoints[0]} does not exist yet`)
        continue
      }
      throw new Error(`${options.entryPoints[0]} is missing`)
    }
    const outfile = join(out, options.outfile)
    mkdirSync(join(outfile, '..'), { recursive: true })
    const result = await esbuild.build({
      ...options,
      outfile,
      absWorkingDir: root,
      bundle: true,
      platform: 'node',
      target: 'node20',
      sourcemap: true,
      metafile: true,
      logLevel: quiet ? 'error' : 'warning',
    })
    for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) {
      built.push({ name, outfile: file, bytes })
      const path = relative(root, resolve(root, file))
      say(`${path.padEnd(32)} ${formatBytes(bytes).padStart(10)}  (${name})`)
    }
  }
  return built
}

function formatBytes(n) {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { outdir } = parseArgs({ options: { outdir: { type: 'string' } }, strict: false }).values
    await build(typeof outdir === 'string' ? { outDir: outdir } : {})
  } catch (err) {
    // esbuild has already printed its messages; anything else gets one line.
    if (!err?.errors) console.error(`build failed: ${err?.message ?? err}`)
    process.exit(1)
  }
}
