#!/usr/bin/env node
// npm run bench: the ceremony benchmark (scripts/bench.ts), the authorizer's
// (scripts/bench-authz.ts), server CPU per operation (scripts/bench-cpu.ts), the audit log's
// (scripts/bench-audit.ts) and the Functions cold start (scripts/bench-coldstart.ts).
// `-- --ceremonies`, `-- --authz`, `-- --cpu`, `-- --audit` or `-- --coldstart` runs one of them; `-- --soak` runs the
// bounded soak (scripts/bench-soak.ts, 5 minutes; not part of the default run).
import { parseArgs } from 'node:util'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
const root = fileURLToPath(new URL('..', import.meta.url))
const NAMES = ['ceremonies', 'authz', 'cpu', 'audit', 'coldstart', 'soak']
// One of NAMES picks the benchmark; everything else goes to it unchanged (--seconds 2, …).
const { tokens } = parseArgs({
  options: Object.fromEntries(NAMES.map((n) => [n, { type: 'boolean' }])),
  strict: false,
  allowPositionals: true,
  tokens: true,
})
const only = NAMES.find((n) => tokens.some((t) => t.kind === 'option' && t.name === n))
const rest = process.argv.slice(2).filter((a) => !NAMES.includes(a.replace(/^--/, '')))
let status = 0
for (const [name, file] of [['ceremonies', 'scripts/bench.ts'], ['authz', 'scripts/bench-authz.ts'], ['cpu', 'scripts/bench-cpu.ts'], ['audit', 'scripts/bench-audit.ts'], ['coldstart', 'scripts/bench-coldstart.ts'], ['soak', 'scripts/bench-soak.ts']]) {
  if (only ? only !== name : name === 'soak') continue
  console.log(`\n## ${name}\n`)
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...rest], { cwd: root, stdio: 'inherit' })
  status ||= r.status ?? 1
}
process.exit(status)
