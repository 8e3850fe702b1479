/**
 * What a deployment package must and must not hold (.funcignore), for both readers of that file:
 * Core Tools (test/functions/registration.test.ts) and azd (test/infra/package.test.ts).
 */
// @ts-expect-error plain ESM without types
import { BESIDE } from '../../scripts/build.mjs'

/** Shipped: host.json, package.json, the bundle and its map, and every file beside it. */
export function shippedFiles(main: string): string[] {
  const dir = main.slice(0, main.lastIndexOf('/'))
  return ['host.json', 'package.json', main, `${main}.map`, ...(BESIDE as { file: string }[]).map((b) => `${dir}/${b.file}`)]
}

/** Left out: sources, tests, local settings and keys, dependencies, tooling. */
export const LEFT_OUT = [
  'functions/index.ts',
  'shared/app.ts',
  'runtime/node/kek.ts',
  'local/server.ts',
  'local.settings.json',
  'local.settings.sample.json',
  'test/functions/registration.test.ts',
  'scripts/build.mjs',
  'node_modules/hono/package.json',
  '.azurite/key-encryption-key',
  '.azurite/azurite.log',
  'dist/local/server.mjs',
  'infra/main.bicep',
  'azure.yaml',
  '.azure/dev/.env',
  'tsconfig.json',
  'package-lock.json',
  '.git/HEAD',
  '.gitignore',
  'README.md',
]
