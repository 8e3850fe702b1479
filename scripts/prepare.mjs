// What `npm start` and `npm test` both need on a fresh clone, before anything else runs. This
// module imports only Node's own modules: it runs before node_modules exists.
//   1. install dependencies when node_modules is missing or older than package-lock.json
//   2. build (scripts/build.mjs -> dist/functions/index.cjs, dist/local/server.mjs, the page)
// Environment: START_SKIP_INSTALL=1 skips step 1, START_SKIP_BUILD=1 step 2 (both commands).
import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('..', import.meta.url))

/** True when node_modules is missing, or older than package-lock.json (an install is due). */
export function needsInstall() {
  const lock = join(root, 'package-lock.json')
  const marker = join(root, 'node_modules', '.package-lock.json') // rewritten by every install
  if (!existsSync(join(root, 'node_modules'))) return true
  if (!existsSync(lock)) return false
  const installed = existsSync(marker) ? marker : join(root, 'node_modules')
  return statSync(installed).mtimeMs < statSync(lock).mtimeMs
}

function npm(args) {
  // npm is npm.cmd on Windows, which only runs through a shell.
  const r = spawnSync('npm', args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
  return r.status === 0
}

/**
 * Installs what is missing and builds. Returns an error message, or undefined when all is ready.
 *
 * @example
 * const problem = prepare({ log: (m) => console.log(`[test] ${m}`) })
 * if (problem) { console.error(problem); process.exit(1) }
 */
export function prepare({ log = (msg) => console.log(msg), env = process.env } = {}) {
  if (env.START_SKIP_INSTALL !== '1' && needsInstall()) {
    log('installing dependencies (npm ci)')
    if (!npm(['ci'])) {
      log('npm ci failed; trying npm install')
      if (!npm(['install'])) return 'could not install dependencies (see npm output above)'
    }
  }
  if (env.START_SKIP_BUILD !== '1') {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
    if (r.status !== 0) return 'build failed (node scripts/build.mjs)'
    log('built dist/ and the page')
  }
  const serverBundle = join(root, 'dist', 'local', 'server.mjs')
  if (!existsSync(serverBundle)) return `${serverBundle} is missing after the build`
  return undefined
}
