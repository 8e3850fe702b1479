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
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
)
process.exit(r.status ?? 1)
