#!/usr/bin/env node
// npm run bench: the ceremony benchmark (scripts/bench.ts), then the authorizer's
// (scripts/bench-authz.ts). `-- --ceremonies` or `-- --authz` runs one of them.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const only = args.includes('--ceremonies') ? 'ceremonies' : args.includes('--authz') ? 'authz' : undefined
const rest = args.filter((a) => a !== '--ceremonies' && a !== '--authz')
let status = 0
for (const [name, file] of [['ceremonies', 'scripts/bench.ts'], ['authz', 'scripts/bench-authz.ts']]) {
  if (only && only !== name) continue
  console.log(`\n## ${name}\n`)
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...rest], { cwd: root, stdio: 'inherit' })
  status ||= r.status ?? 1
}
process.exit(status)
