// Writes a generated, committed file only when its text changed, so a build that changes nothing
// leaves the file (and its mtime) alone, and says which. apim/build.mjs (the APIM policies) and
// web/build.mjs (the page's assets) both write through it.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Writes `text` to `file` (relative to `root`) unless the file holds it already; a checkout with
 * CRLF line endings counts as holding it. Prints `<file> updated|up to date  (<label>)` unless
 * `quiet`. Returns `{ path, changed }`.
 * @param {string} root
 * @param {string} file
 * @param {string} text
 * @param {{ label: string, quiet?: boolean }} opts
 */
export function writeGenerated(root, file, text, { label, quiet = false }) {
  const path = join(root, file)
  let current = ''
  try {
    current = readFileSync(path, 'utf8')
  } catch {}
  const changed = current.replace(/\r\n/g, '\n') !== text
  if (changed) writeFileSync(path, text)
  if (!quiet) console.log(`${file.padEnd(32)} ${changed ? 'updated' : 'up to date'}  (${label})`)
  return { path, changed }
}
