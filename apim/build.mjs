// Writes the APIM policies (apim/policy.xml, apim/policy-managed-identity.xml) from their one
// template, apim/render.ts. scripts/build.mjs runs it under plain Node, which cannot import
// TypeScript: esbuild bundles the template in memory and the bundle is imported as a data: URL.
//
// The XML is committed (APIM imports it as is); test/gateway/render.test.ts renders it again
// through tsx and fails when a committed file is stale.
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { writeGenerated } from '../scripts/write-generated.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

/** apim/render.ts, loaded once. */
async function loadRenderer() {
  const out = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['apim/render.ts'],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    logLevel: 'silent',
  })
  return import('data:text/javascript;base64,' + Buffer.from(out.outputFiles[0].text).toString('base64'))
}

/**
 * Writes each policy file whose content changed. Returns `[{ path, changed }]`.
 * @param {{ quiet?: boolean }} [opts]
 */
export async function writePolicies({ quiet = false } = {}) {
  const { POLICY_FILES, renderPolicy } = await loadRenderer()
  return Object.keys(POLICY_FILES).map((file) =>
    writeGenerated(root, file, renderPolicy(file), { label: 'APIM policy', quiet }),
  )
}
