/**
 * What test/infra/arm.test.ts needs to read infra/main.bicep: the pinned Bicep CLI
 * (scripts/bicep.sh), a compile to ARM JSON, a deployment snapshot (`bicep snapshot`: the
 * resources the template would deploy for given parameters, with every value Bicep can compute
 * before deployment filled in), and a small evaluator for the ARM expressions left in it, which
 * only Azure can answer (`reference(…)`: a host name, a client id), against a stand-in world.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('../..', import.meta.url))
export const mainBicep = join(root, 'infra', 'main.bicep')

/** The Bicep CLI's path, or why there is none (scripts/bicep.sh exits 3 when dotnet is missing). */
export function findBicep(): { path: string } | { unavailable: string } {
  const r = spawnSync('bash', [join(root, 'scripts', 'bicep.sh')], { encoding: 'utf8', timeout: 300_000 })
  if (r.status === 0) return { path: r.stdout.trim() }
  if (r.status === 3) return { unavailable: r.stderr.trim() }
  throw new Error(`scripts/bicep.sh failed (${r.status ?? r.signal}): ${r.stderr}`)
}

/** Runs the CLI; stdout and the diagnostics (stderr) as printed. */
export function bicep(path: string, args: string[], cwd = root): { stdout: string; diagnostics: string } {
  const r = spawnSync(path, args, { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1' } })
  if (r.status !== 0) throw new Error(`bicep ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`)
  return { stdout: r.stdout, diagnostics: r.stderr.trim() }
}

export interface PredictedResource {
  id: string
  type: string
  name: string
  location?: string
  kind?: string
  sku?: Record<string, unknown>
  identity?: { type: string; userAssignedIdentities?: Record<string, unknown> }
  tags?: Record<string, string>
  properties?: Record<string, unknown>
}

export interface Snapshot {
  predictedResources: PredictedResource[]
  outputs: Record<string, unknown>
  diagnostics: unknown[]
}

export const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001'
export const TENANT = '00000000-0000-0000-0000-000000000002'
export const LOCATION = 'westeurope'

/** `bicep snapshot` of main.bicep with these parameters (a .bicepparam written to a temp folder). */
export function snapshot(path: string, params: Record<string, string | boolean | number>): Snapshot {
  const dir = mkdtempSync(join(tmpdir(), 'passkey-edge-bicep-'))
  try {
    const file = join(dir, 'test.bicepparam')
    // `using` takes a relative path only.
    const lines = [`using '${relative(dir, mainBicep).replaceAll('\\', '/')}'`]
    for (const [name, value] of Object.entries(params))
      lines.push(`param ${name} = ${typeof value === 'string' ? `'${value.replaceAll("'", "\\'")}'` : String(value)}`)
    writeFileSync(file, `${lines.join('\n')}\n`)
    bicep(path, ['snapshot', file, '--subscription-id', SUBSCRIPTION, '--tenant-id', TENANT, '--location', LOCATION])
    return JSON.parse(readFileSync(join(dir, 'test.snapshot.json'), 'utf8')) as Snapshot
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Stands in for `listKeys(…)`: whatever it returns is a secret. */
export const LISTED_SECRET = '<listKeys result>'

/**
 * What Azure would answer to `reference(<resource id>)` for the resources this template reads
 * at deployment time: values of the right shape, derived from the resource's name.
 */
function referenced(id: string): Record<string, unknown> {
  const m = /\/providers\/([^/]+\/[^/]+)\/([^/]+)$/.exec(id)
  if (!m) throw new Error(`reference to an unexpected id: ${id}`)
  const [, type, name] = m
  switch (type) {
    case 'Microsoft.Web/sites':
      return { defaultHostName: `${name}.azurewebsites.net` }
    case 'Microsoft.ApiManagement/service':
      return { gatewayUrl: `https://${name}.azure-api.net` }
    case 'Microsoft.ManagedIdentity/userAssignedIdentities':
      return { clientId: `clientId(${name})`, principalId: `principalId(${name})` }
    case 'Microsoft.KeyVault/vaults':
      return { vaultUri: `https://${name}.vault.azure.net/` }
    case 'Microsoft.Insights/components':
      return { ConnectionString: `InstrumentationKey=00000000-0000-0000-0000-00000000000a;IngestionEndpoint=https://${LOCATION}-5.in.applicationinsights.azure.com/` }
    case 'Microsoft.Storage/storageAccounts':
      return { primaryEndpoints: { blob: `https://${name}.blob.core.windows.net/`, table: `https://${name}.table.core.windows.net/` } }
    default:
      throw new Error(`reference to an unexpected resource type: ${type}`)
  }
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  reference: (id) => referenced(String(id)),
  listKeys: () => ({ functionKeys: { default: LISTED_SECRET } }),
  // The public cloud's (az cloud show -n AzureCloud).
  environment: () => ({ suffixes: { storage: 'core.windows.net' } }),
  format: (fmt, ...args) => String(fmt).replace(/\{(\d+)\}/g, (_, i: string) => String(args[Number(i)])),
  empty: (v) => v === '' || v === null || v === undefined || (Array.isArray(v) && v.length === 0),
  if: (condition, yes, no) => (condition ? yes : no),
  createArray: (...items) => items,
  join: (items, sep) => (items as unknown[]).join(String(sep)),
  union: (...arrays) => {
    if (!arrays.every(Array.isArray)) throw new Error('union of objects is not evaluated here')
    return [...new Set((arrays as unknown[][]).flat())]
  },
}

/**
 * Evaluates an ARM template expression (`[fn(...).prop]`) as far as this template needs:
 * string literals, `reference`, `listKeys`, `environment`, `format`, `empty`, `if`, `createArray`,
 * `join`, `union` (of arrays: order kept, repeats dropped), property access. Anything else throws, so
 * a new kind of expression shows up as a test failure to handle, not as a silent pass.
 */
export function evaluate(value: unknown): unknown {
  if (typeof value !== 'string' || !value.startsWith('[') || value.startsWith('[[')) return value
  const src = value.slice(1, -1)
  let i = 0
  const ws = () => {
    while (src[i] === ' ') i++
  }
  const expr = (): unknown => {
    ws()
    let v: unknown
    if (src[i] === "'") {
      let s = ''
      for (i++; ; i++) {
        if (i >= src.length) throw new Error(`unterminated string in ${value}`)
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'"
            i++
            continue
          }
          i++
          break
        }
        s += src[i]
      }
      v = s
    } else {
      const name = /^[A-Za-z_][\w.]*/.exec(src.slice(i))?.[0]
      if (!name) throw new Error(`cannot read ${value} at ${i}`)
      i += name.length
      const fn = FUNCTIONS[name]
      if (!fn || src[i] !== '(') throw new Error(`unsupported function ${name} in ${value}`)
      i++
      const args: unknown[] = []
      ws()
      while (src[i] !== ')') {
        args.push(expr())
        ws()
        if (src[i] === ',') i++
      }
      i++
      v = fn(...args)
    }
    while (src[i] === '.') {
      const prop = /^\.(\w+)/.exec(src.slice(i))![1]!
      i += prop.length + 1
      v = (v as Record<string, unknown>)[prop]
      if (v === undefined) throw new Error(`no property ${prop} in ${value}`)
    }
    return v
  }
  const out = expr()
  if (i !== src.length) throw new Error(`trailing input in ${value} at ${i}`)
  return out
}

/** Every string in a JSON value, deep. */
export function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value.flatMap(strings)
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings)
  return []
}

/**
 * infra/modules/kek.bicep's keyEncryptionKeyFromGuids, evaluated by the Bicep console (which
 * cannot import a file, so the file's functions are typed in, without comments and decorators).
 */
export function kekFromGuids(path: string, guids: string[]): string {
  const defs = readFileSync(join(root, 'infra', 'modules', 'kek.bicep'), 'utf8')
    .split('\n')
    .filter((l) => !/^\s*(\/\/|@)/.test(l))
    .join('\n')
  const call = `keyEncryptionKeyFromGuids([${guids.map((g) => `'${g}'`).join(', ')}])`
  const r = spawnSync(path, ['console'], { input: `${defs}\n${call}\n`, encoding: 'utf8', timeout: 120_000 })
  const last = r.stdout.trim().split('\n').at(-1) ?? ''
  const m = /^'([A-Za-z0-9+/=]+)'$/.exec(last)
  if (r.status !== 0 || !m) throw new Error(`bicep console: ${r.stdout}${r.stderr}`)
  return m[1]!
}
