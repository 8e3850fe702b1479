/**
 * Node only: whether a module is the process's entry point, so a file that is also imported
 * (local/server.ts, local/gateway.ts: tests import their start functions) runs its `main()` only
 * when started itself.
 */
import { realpathSync } from 'node:fs'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * True when the process was started on the file at `moduleUrl` (the module's `import.meta.url`),
 * links resolved. `name`, when given, must match the entry's file name as well: a module bundled
 * into another entry shares that bundle's `import.meta.url`, so only its own name tells them apart.
 *
 * @example
 * if (isEntryPoint(import.meta.url)) void main()
 */
export function isEntryPoint(moduleUrl: string, name?: RegExp): boolean {
  const entry = process.argv[1]
  if (!entry) return false
  if (name && !name.test(basename(entry))) return false
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl))
  } catch {
    return false
  }
}
