/**
 * Node only, on a developer machine: the local key file, shared by the local server (local/),
 * `func start` (functions/index.ts, when Core Tools runs it) and `npm run audit:verify`.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const FILE = 'key-encryption-key'

/**
 * The directory of the local key file: AZURITE_LOCATION (where `npm start` keeps Azurite's data,
 * so the key and the data it encrypts stay together), else `.azurite`. Not a service setting: it
 * names a file on a developer machine, and in Azure the key is a setting of its own.
 */
export function localKekDir(env: Record<string, string | undefined>): string {
  return env.AZURITE_LOCATION?.trim() || '.azurite'
}

/**
 * The local KEY_ENCRYPTION_KEY: 32 random bytes, base64, kept in `<dir>/key-encryption-key`
 * (mode 0600). Created once, then reused, so signing keys stored in Azurite under the same
 * directory stay readable across restarts. Local use only: in Azure the setting is required.
 *
 * @example
 * env.KEY_ENCRYPTION_KEY ||= loadOrCreateLocalKek('.azurite')
 */
export function loadOrCreateLocalKek(dir = '.azurite'): string {
  const path = join(dir, FILE)
  const existing = readKey(path)
  if (existing) return existing
  mkdirSync(dir, { recursive: true })
  const key = randomBytes(32).toString('base64')
  try {
    // 'wx' fails when another process created the file first; then its key wins.
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    const theirs = readKey(path)
    if (!theirs) throw new TypeError(`${path} exists but does not hold a 32-byte base64 key`)
    return theirs
  }
  chmodSync(path, 0o600) // the mode above is masked by the umask
  return key
}

function readKey(path: string): string | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  if (Buffer.from(text, 'base64').length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text))
    throw new TypeError(
      `${path} does not hold a 32-byte base64 key; delete it (and the data encrypted with it) or fix it`,
    )
  return text
}
