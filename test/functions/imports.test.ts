/** Where runtime-specific code may be imported from (STYLE.md §2 items 9 and 10). */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f))
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/g)].map((m) => m[1]!)
}

describe('runtime boundaries', () => {
  it('functions/ imports nothing from local/ (what both runtimes need is in shared/ or runtime/node/)', () => {
    for (const file of sources('functions'))
      for (const spec of imports(file))
        assert.doesNotMatch(spec, /(^|\/)local\//, `${relative(root, join(root, file))} imports ${spec}`)
  })

  it('shared/ imports nothing from runtime/node/, local/ or functions/', () => {
    for (const file of sources('shared'))
      for (const spec of imports(file))
        assert.doesNotMatch(spec, /(^|\/)(runtime|local|functions)\//, `${file} imports ${spec}`)
  })
})
