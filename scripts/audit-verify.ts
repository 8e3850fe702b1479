/**
 * `npm run audit:verify [-- --anchor <seq>:<hash>]`: checks the audit chain (docs/audit.md) and
 * prints one line.
 *
 * Settings are read like the service reads them: `local.settings.json` "Values", overridden by
 * the environment, validated by `loadConfig` (TABLES_CONNECTION_STRING / TABLES_ENDPOINT /
 * AzureWebJobsStorage, TABLE_PREFIX, KEY_ENCRYPTION_KEY, KEY_ENCRYPTION_KEY_PREVIOUS). Each event is
 * checked with the key it names (its `keyId`): after a change of KEY_ENCRYPTION_KEY, the events
 * before the switch need the earlier key, given as KEY_ENCRYPTION_KEY_PREVIOUS. Locally, with no storage setting it
 * reads Azurite (`UseDevelopmentStorage=true`), and with no KEY_ENCRYPTION_KEY it uses the one
 * `npm start` keeps in `.azurite/` (AZURITE_LOCATION); against any other storage the key must be
 * given.
 *
 * Exit status: 0 the chain is whole; 1 it was tampered with (the line names the first bad event
 * and what is wrong — an event hashed with a key that was not given is a hash_mismatch whose
 * message names the missing key id); 2 it could not be checked (settings, storage).
 */
import { parseArgs } from 'node:util'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadOrCreateLocalKek, localKekDir } from '../runtime/node/kek.js'
import { deriveAuditKey } from '../shared/audit/chain.js'
import { keyEncryptionKeyId, type VersionedKey } from '../shared/crypto/kek.js'
import { verifyAuditChain } from '../shared/audit/verify.js'
import { loadConfig, type Config } from '../shared/config.js'
import { createTablesStore } from '../shared/store/tables.js'

type Env = Record<string, string | undefined>

function localSettings(): Env {
  const file = join(process.cwd(), 'local.settings.json')
  if (!existsSync(file)) return {}
  const values = (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> }).Values ?? {}
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, String(v)]))
}

const LOCAL_STORAGE = /UseDevelopmentStorage=true|TableEndpoint=https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/i

function settings(): Env {
  const env: Env = { ...localSettings(), ...process.env }
  const storage = [env.TABLES_CONNECTION_STRING, env.TABLES_ENDPOINT, env.AzureWebJobsStorage].find((v) => v?.trim())
  if (!storage) env.TABLES_CONNECTION_STRING = 'UseDevelopmentStorage=true'
  if (!env.KEY_ENCRYPTION_KEY?.trim()) {
    const local = !storage || LOCAL_STORAGE.test(storage)
    const dir = localKekDir(env)
    if (!local) throw new TypeError('KEY_ENCRYPTION_KEY is required to verify the audit chain of this storage')
    if (!existsSync(join(dir, 'key-encryption-key')))
      throw new TypeError(`KEY_ENCRYPTION_KEY is unset and ${join(dir, 'key-encryption-key')} does not exist`)
    env.KEY_ENCRYPTION_KEY = loadOrCreateLocalKek(dir)
  }
  return env
}

/** Where the log lives, for the summary: table name and endpoint host, never a key. */
function where(config: Config): string {
  const table = `${config.tablePrefix}audit`
  const cs = config.tablesConnectionString
  if (cs && /UseDevelopmentStorage=true/i.test(cs)) return `table ${table} on Azurite (development storage)`
  const endpoint = cs ? /TableEndpoint=([^;]+)/i.exec(cs)?.[1] ?? /AccountName=([^;]+)/i.exec(cs)?.[1] : config.tablesEndpoint
  let host = endpoint ?? '?'
  try {
    host = new URL(host).host
  } catch {}
  return `table ${table} on ${host}`
}

function parseAnchor(argv: string[]): { seq: number; hash: string } | undefined {
  const { anchor } = parseArgs({ args: argv, options: { anchor: { type: 'string' } }, strict: false }).values
  if (anchor === undefined) return undefined
  const m = /^(\d{1,16}):([A-Za-z0-9_-]{43})$/.exec(typeof anchor === 'string' ? anchor : '')
  if (!m) throw new TypeError('--anchor takes <seq>:<hash>, as printed by an earlier run')
  return { seq: Number(m[1]), hash: m[2]! }
}

async function main(): Promise<number> {
  let config: Config
  let anchor: { seq: number; hash: string } | undefined
  try {
    anchor = parseAnchor(process.argv.slice(2))
    config = loadConfig(settings(), { local: !process.env.WEBSITE_INSTANCE_ID })
  } catch (err) {
    console.error(`audit: cannot verify: ${(err as Error).message}`)
    return 2
  }
  const store = createTablesStore({ config })
  const chainKey = async (kek: Uint8Array<ArrayBuffer>): Promise<VersionedKey> => ({ id: await keyEncryptionKeyId(kek), key: await deriveAuditKey(kek) })
  const key = await chainKey(config.keyEncryptionKey!)
  const previousKey = config.keyEncryptionKeyPrevious && (await chainKey(config.keyEncryptionKeyPrevious))
  let result: Awaited<ReturnType<typeof verifyAuditChain>>
  try {
    result = await verifyAuditChain({ store, key, ...(previousKey ? { previousKey } : {}), anchor })
  } catch (err) {
    const cause = (err as Error).cause
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message.split('\n')[0]}` : (err as Error).message
    console.error(`audit: cannot verify: storage did not answer (${detail}); ${where(config)}`)
    return 2
  }
  if (result.ok) {
    const head = result.head ? `head ${result.head.seq}:${result.head.hash}` : 'empty log'
    console.log(`audit: OK, ${result.events} events verified (${head}); ${where(config)}`)
    return 0
  }
  const p = result.problem!
  const name = p.id === 'head' ? 'the head row' : `event ${p.id} (seq ${p.seq})`
  console.error(`audit: TAMPERED at ${name}: ${p.kind}: ${p.message}; ${result.events} events before it verified; ${where(config)}`)
  return 1
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`audit: cannot verify: ${(err as Error).message}`)
    process.exit(2)
  },
)
