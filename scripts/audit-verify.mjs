#!/usr/bin/env node
// npm run audit:verify [-- --anchor <seq>:<hash>]: checks the audit log's hash chain
// (scripts/audit-verify.ts, docs/audit.md). Exit 0 whole, 1 tampered (names the first bad event),
// 2 could not check (settings, storage). Runs in the project root (local.settings.json, .azurite/).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
const root = fileURLToPath(new URL('..', import.meta.url))
const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
})
process.exit(r.status ?? 2)
