/**
 * Generates the OpenAPI document's `components.schemas` from the wire schemas (shared/schemas/),
 * so the document is never written by hand: `node --import tsx scripts/openapi.ts [--check]`.
 * Run by scripts/build.mjs; the output is committed (shared/openapi/components.generated.json)
 * and test/openapi.test.ts fails when it is stale. The converter stays out of the bundles.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { toJsonSchemaDefs } from '@valibot/to-json-schema'
import { COMPONENTS } from '../shared/schemas/index.js'

export const OUTPUT = new URL('../shared/openapi/components.generated.json', import.meta.url)

type Json = Record<string, any>

/** The components as JSON Schema 2020-12 (OpenAPI 3.1), in the forms API Management imports. */
export function generateComponents(): Json {
  const defs = toJsonSchemaDefs(COMPONENTS, {
    target: 'draft-2020-12',
    // Requests as clients send them (before trimming and defaults).
    typeMode: 'input',
    // Normalisations (trim, lower case, NFC) and cross-field checks have no JSON Schema form.
    ignoreActions: ['trim', 'to_lower_case', 'normalize', 'transform', 'check'],
    overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
    overrideSchema: ({ valibotSchema, jsonSchema }) => {
      // Members we do not name are allowed on loose objects (metadata, WebAuthn extensions).
      if (valibotSchema.type === 'loose_object') return { ...jsonSchema, additionalProperties: true }
      return undefined
    },
  }) as Json
  for (const schema of Object.values(defs)) simplify(schema)
  // RFC 6749's grants, by grant_type: oneOf with a discriminator (APIM and generators read it).
  const grants = defs.TokenRequest.oneOf as Json[]
  defs.TokenRequest.discriminator = {
    propertyName: 'grant_type',
    mapping: Object.fromEntries(grants.map((g) => [defs[refName(g)].properties.grant_type.enum[0], g.$ref])),
  }
  return defs
}

const refName = (s: Json) => String(s.$ref).slice('#/components/schemas/'.length)

/** `anyOf: [{ type: X, … }, { type: 'null' }]` → `{ type: [X, 'null'], … }`, as people write it. */
function simplify(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(simplify)
  if (node === null || typeof node !== 'object') return
  const s = node as Json
  delete s.$schema
  const any = s.anyOf as Json[] | undefined
  if (any?.length === 2) {
    const other = any.find((x) => x.type !== 'null')
    if (any.some((x) => x.type === 'null') && other && typeof other.type === 'string') {
      delete s.anyOf
      Object.assign(s, other, { type: [other.type, 'null'] })
    }
  }
  for (const v of Object.values(s)) simplify(v)
}

export function render(): string {
  return `${JSON.stringify(generateComponents(), null, 2)}\n`
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } })
  const text = render()
  const current = existsSync(OUTPUT) ? readFileSync(OUTPUT, 'utf8') : undefined
  if (values.check) {
    if (current !== text) {
      console.error('shared/openapi/components.generated.json is stale: run npm run build')
      process.exit(1)
    }
  } else if (current !== text) writeFileSync(OUTPUT, text) // unchanged: keep its mtime

}
