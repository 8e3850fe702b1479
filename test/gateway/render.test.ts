/**
 * apim/policy.xml and apim/policy-managed-identity.xml are rendered from apim/render.ts and
 * committed: each committed file must be exactly what the template renders today.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { POLICY_FILES, renderPolicy, type PolicyFile } from '../../apim/render.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

describe('APIM policies rendered from apim/render.ts', () => {
  for (const file of Object.keys(POLICY_FILES) as PolicyFile[]) {
    it(`${file} should match a fresh render (run \`npm run build\` and commit it when this fails)`, () => {
      const committed = readFileSync(`${root}/${file}`, 'utf8').replace(/\r\n/g, '\n')
      assert.ok(committed === renderPolicy(file), `${file} is stale: run \`npm run build\` (or \`node scripts/build.mjs\`) and commit it`)
    })
  }
})
