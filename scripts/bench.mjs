#!/usr/bin/env node
// npm run bench: runs the TypeScript benchmark with tsx (see scripts/bench.ts).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
const root = fileURLToPath(new URL('..', import.meta.url))
const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' })
process.exit(r.status ?? 1)
