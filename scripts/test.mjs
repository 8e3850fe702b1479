#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner (TypeScript through tsx).
// Usage: npm test [-- substring ...]   (only files whose path contains a substring)
// On a fresh clone it first installs and builds, with the same steps as `npm start`
// (scripts/prepare.mjs), so `npm test` stands alone.
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { spawnSync } from 'node:child_process'
import { prepare, root } from './prepare.mjs'

const filters = process.argv.slice(2)
{
  const problem = prepare({ log: (m) => console.log(`[test] ${m}`) })
  if (problem) {
    console.error(`[test] ${problem}`)
    process.exit(1)
  }
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : []
  })
}

const files = walk(join(root, 'test'))
  .map((p) => relative(root, p))
  .filter((p) => filters.length === 0 || filters.some((f) => p.includes(f)))
  .sort()
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
// A whole run takes 3–4 minutes here. A process that hangs (a deadlock below JavaScript, where
// no test timeout can reach) must fail the run in bounded time rather than hold CI for its limit.
const LIMIT_MS = Number(process.env.TEST_RUN_LIMIT_MS ?? 25 * 60_000)
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' }, timeout: LIMIT_MS, killSignal: 'SIGTERM' },
)
if (r.error?.code === 'ETIMEDOUT') {
  console.error(`[test] the run took longer than ${LIMIT_MS / 60_000} minutes and was stopped: a test process hung`)
  process.exit(1)
}
process.exit(r.status ?? 1)
