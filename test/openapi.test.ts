/**
 * shared/openapi/: the OpenAPI 3.1 document of the service's own API (paths tables by area; components generated from shared/schemas).
 *
 * Checks that it is well-formed for API Management (refs resolve, operationIds unique and already in
 * APIM's normalised form, body schemas referenced), that it documents every CONTRACT.md route, and
 * — most important — that it matches the routes the app really has: every route of `createApp` is
 * documented, and every documented operation is implemented or listed in NOT_YET_IMPLEMENTED;
 * implemented operations answer with documented statuses, media types and (in a signed-in walk
 * through sign-up, self-service, tokens, administration and the authorizer) body schemas.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { keyPair } from './helpers/keys.js'
import { SignJWT } from 'jose'
import { readdirSync, readFileSync } from 'node:fs'
import { OUTPUT, render as renderComponents } from '../scripts/openapi.js'
import { COMPONENTS } from '../shared/schemas/index.js'
import { describe, it } from 'node:test'
import { createApp } from '../shared/app.js'
import { loadConfig } from '../shared/config.js'
import { ERROR_STATUS } from '../shared/errors.js'
import { openApiDocument } from '../shared/openapi.js'
import { createMemoryStore } from '../shared/store/memory.js'
import { SoftAuthenticator } from './helpers/authenticator.js'

// ---------------------------------------------------------------------------------------------
// What CONTRACT.md names (paths relative to the /api base), plus the document's own route.

const CONTRACT_ROUTES = [
  'GET /health',
  'POST /webauthn/registration/options',
  'POST /webauthn/registration/verify',
  'POST /webauthn/authentication/options',
  'POST /webauthn/authentication/verify',
  'GET /.well-known/openid-configuration',
  'GET /.well-known/oauth-authorization-server',
  'GET /.well-known/jwks.json',
  'POST /oauth2/token',
  'GET /oauth2/authorize',
  'POST /oauth2/introspect',
  'POST /oauth2/revoke',
  'POST /authz/check',
  'GET /me',
  'DELETE /me',
  'GET /me/credentials',
  'PATCH /me/credentials/{id}',
  'DELETE /me/credentials/{id}',
  'GET /me/sessions',
  'POST /oauth2/bc-authorize',
  'GET /me/approvals',
  'POST /me/approvals/{id}/options',
  'POST /me/approvals/{id}/verify',
  'DELETE /me/approvals/{id}',
  'GET /me/delegations',
  'DELETE /me/delegations/{id}',
  'DELETE /me/sessions',
  'DELETE /me/sessions/{id}',
  'PUT /manage/roles/{role}',
  'GET /manage/roles',
  'DELETE /manage/roles/{role}',
  'PUT /manage/users/{userId}/roles/{role}',
  'DELETE /manage/users/{userId}/roles/{role}',
  'GET /manage/users',
  'DELETE /manage/users/{userId}',
  'DELETE /manage/credentials/{id}',
  'GET /manage/users/{userId}/sessions',
  'DELETE /manage/users/{userId}/sessions',
  'POST /manage/clients',
  'GET /manage/keys',
  'POST /manage/keys/rotate',
  'DELETE /manage/keys/{kid}',
  'GET /manage/audit',
  'POST /manage/invitations',
  'GET /manage/invitations',
  'DELETE /manage/invitations/{id}',
  'POST /manage/users/{userId}/recovery',
]

/** CONTRACT "Errors" codes. */
const CONTRACT_CODES = [
  'challenge_unknown',
  'challenge_expired',
  'origin_mismatch',
  'rp_id_mismatch',
  'user_presence_required',
  'user_verification_required',
  'signature_invalid',
  'counter_regression',
  'credential_unknown',
  'credential_revoked',
  'invalid_request',
  'payload_too_large',
  'unsupported_media_type',
  'unauthorized',
  'forbidden',
  'username_taken',
  'storage_unavailable',
  'invitation_invalid',
  'recovery_invalid',
]

/**
 * Documented operations the app does not serve yet (being added). Remove an entry once its route
 * exists; the coverage test says which entries are stale.
 */
const NOT_YET_IMPLEMENTED = new Set<string>([])

/** Page routes that are not part of the API. */
const PAGE_ROUTES = new Set(['/', '/api/ui', '/api/ui/', '/assets/app.js', '/assets/app.css', '/api/ui/assets/app.js', '/api/ui/assets/app.css'])

/**
 * RFC 8414 §3's path-inserted metadata URLs (shared/routes/wellKnown.ts issuerWellKnownRoutes):
 * outside /api, so outside this document's server; the same answer as the documented
 * /.well-known/oauth-authorization-server and /.well-known/openid-configuration.
 */
const ISSUER_WELL_KNOWN = new Set(['/.well-known/oauth-authorization-server/api', '/.well-known/openid-configuration/api'])

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const

// ---------------------------------------------------------------------------------------------
// The real app and the document.

const config = loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, { local: true })
const store = createMemoryStore()
const app = createApp({ config, store, logError: () => {} })

type Json = Record<string, any>
const doc = openApiDocument(config) as Json

interface Operation {
  key: string
  method: string
  path: string
  op: Json
  pathItem: Json
}

function operations(d: Json): Operation[] {
  const out: Operation[] = []
  for (const [path, item] of Object.entries(d.paths as Json)) {
    for (const m of HTTP_METHODS) {
      if (item[m]) out.push({ key: `${m.toUpperCase()} ${path}`, method: m.toUpperCase(), path, op: item[m], pathItem: item })
    }
  }
  return out
}
const ops = operations(doc)

/** Hono route path → OpenAPI path relative to /api (`:id` and `:id{re}` → `{id}`). */
function toTemplate(honoPath: string): string | undefined {
  let p = honoPath.length > 1 ? honoPath.replace(/\/+$/, '') : honoPath
  if (PAGE_ROUTES.has(p) || ISSUER_WELL_KNOWN.has(p)) return undefined
  p = p.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?\??/g, '{$1}')
  return p.startsWith('/api/') ? p.slice(4) : p === '/api' ? '/' : p
}

/** `{name}` → `{}`: templates that route the same, whatever their parameter names. */
const shape = (key: string) => key.replace(/\{[^}]+\}/g, '{}')

interface AppRoute {
  key: string
  raw: string
}

function appRoutes(): AppRoute[] {
  const seen = new Map<string, AppRoute>()
  for (const r of app.routes) {
    if (r.method === 'ALL') continue // middleware (app.use) and catch-alls
    const t = toTemplate(r.path)
    if (t === undefined) continue
    const key = `${r.method.toUpperCase()} ${t}`
    if (!seen.has(key)) seen.set(key, { key, raw: `${r.method} ${r.path}` })
  }
  return [...seen.values()]
}

function resolvePointer(root: Json, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local $refs are allowed (APIM does not resolve external ones): ${ref}`)
  let cur: unknown = root
  for (const raw of ref.slice(2).split('/')) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~')
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined
    cur = (cur as Json)[part]
  }
  return cur
}

function walk(value: unknown, visit: (v: Json, at: string) => void, at = '#'): void {
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, visit, `${at}/${i}`))
  else if (value !== null && typeof value === 'object') {
    visit(value as Json, at)
    for (const [k, v] of Object.entries(value)) walk(v, visit, `${at}/${k}`)
  }
}

/**
 * A small JSON Schema check for the keywords this document uses. Strict on purpose: an object
 * property the schema does not name is an error (the document is behind the code).
 */
function conform(node: Json, value: unknown, at: string, errors: string[]): void {
  const s = deref(node)
  if (s.oneOf) {
    const matches = (s.oneOf as Json[]).filter((sub) => {
      const e: string[] = []
      conform(sub, value, at, e)
      return e.length === 0
    })
    if (matches.length !== 1) errors.push(`${at}: matches ${matches.length} of oneOf`)
    return
  }
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value)
  const typeOk = (t: string) =>
    t === 'integer' ? Number.isInteger(value)
    : t === 'number' ? typeof value === 'number'
    : t === 'array' ? Array.isArray(value)
    : t === 'object' ? isObject
    : t === 'null' ? value === null
    : typeof value === t
  if (s.type !== undefined) {
    const types = ([] as string[]).concat(s.type)
    if (!types.some(typeOk)) {
      errors.push(`${at}: expected ${types.join('|')}, got ${JSON.stringify(value)?.slice(0, 80)}`)
      return
    }
  }
  if (s.enum && !(s.enum as unknown[]).includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in enum ${JSON.stringify(s.enum)}`)
  if (typeof value === 'string') {
    if (s.pattern && !new RegExp(s.pattern, 'u').test(value)) errors.push(`${at}: ${JSON.stringify(value.slice(0, 80))} does not match ${s.pattern}`)
    if (s.format === 'date-time' && !/^\d{4}-\d\d-\d\dT.*(Z|[+-]\d\d:\d\d)$/.test(value)) errors.push(`${at}: not a date-time: ${value}`)
  }
  if (Array.isArray(value) && s.items) value.forEach((v, i) => conform(s.items, v, `${at}[${i}]`, errors))
  if (isObject && s.properties) {
    const obj = value as Json
    for (const r of s.required ?? []) if (!(r in obj)) errors.push(`${at}: required property ${r} missing`)
    for (const [k, v] of Object.entries(obj)) {
      if (s.properties[k]) conform(s.properties[k], v, `${at}.${k}`, errors)
      else if (s.additionalProperties !== true) errors.push(`${at}.${k}: property not in the document`)
    }
  }
}

function deref(v: Json): Json {
  let cur = v
  for (let i = 0; i < 10 && typeof cur?.$ref === 'string'; i++) cur = resolvePointer(doc, cur.$ref) as Json
  return cur
}

// ---------------------------------------------------------------------------------------------

describe('openApiDocument: shape', () => {
  it('is OpenAPI 3.1.0 with the issuer as its server', () => {
    assert.equal(doc.openapi, '3.1.0')
    assert.equal(typeof doc.info?.title, 'string')
    assert.equal(typeof doc.info?.version, 'string')
    assert.deepEqual(
      doc.servers.map((s: Json) => s.url),
      [config.issuer],
    )
    const other = loadConfig(
      { ISSUER: 'https://id.example.com/api', RP_ID: 'example.com', ALLOWED_ORIGINS: 'https://id.example.com' },
      { local: true },
    )
    assert.equal((openApiDocument(other) as Json).servers[0].url, 'https://id.example.com/api')
  })

  it('is plain JSON (survives a JSON round trip unchanged)', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc)
  })

  it('every $ref resolves, and only to this document', () => {
    const refs: string[] = []
    walk(doc, (v, at) => {
      if ('$ref' in v) {
        assert.equal(typeof v.$ref, 'string', `${at}: $ref must be a string`)
        refs.push(v.$ref)
        assert.notEqual(resolvePointer(doc, v.$ref), undefined, `${at}: $ref ${v.$ref} does not resolve`)
      }
    })
    // Discriminator mappings are references too.
    walk(doc, (v, at) => {
      if (v.discriminator?.mapping)
        for (const target of Object.values(v.discriminator.mapping as Record<string, string>))
          assert.notEqual(resolvePointer(doc, target), undefined, `${at}: discriminator mapping ${target} does not resolve`)
    })
    assert.ok(refs.length > 50)
  })

  it('has no unused component schemas', () => {
    const used = new Set<string>()
    walk(doc, (v) => {
      if (typeof v.$ref === 'string') used.add(v.$ref)
      if (v.discriminator?.mapping) for (const t of Object.values(v.discriminator.mapping as Record<string, string>)) used.add(t)
    })
    const unused = Object.keys(doc.components.schemas).filter((n) => !used.has(`#/components/schemas/${n}`))
    assert.deepEqual(unused, [])
  })

  it('has no recursive schemas (APIM refuses them)', () => {
    const schemas = doc.components.schemas as Record<string, Json>
    const edges = (name: string) => {
      const out = new Set<string>()
      walk(schemas[name], (v) => {
        const m = typeof v.$ref === 'string' ? /^#\/components\/schemas\/(.+)$/.exec(v.$ref) : null
        if (m) out.add(m[1]!)
      })
      return out
    }
    const visiting = new Set<string>()
    const done = new Set<string>()
    const visit = (n: string, trail: string[]) => {
      if (done.has(n)) return
      assert.ok(!visiting.has(n), `recursive schema: ${[...trail, n].join(' → ')}`)
      visiting.add(n)
      for (const e of edges(n)) visit(e, [...trail, n])
      visiting.delete(n)
      done.add(n)
    }
    for (const n of Object.keys(schemas)) visit(n, [])
  })

  it('operationIds exist, are unique, and are already in APIM normalised form', () => {
    const ids = new Map<string, string>()
    for (const { key, op } of ops) {
      assert.equal(typeof op.operationId, 'string', `${key}: operationId missing`)
      const id = op.operationId as string
      assert.match(id, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, `${key}: operationId ${id} is not lower-case letters, digits and hyphens`)
      assert.ok(id.length <= 76, `${key}: operationId ${id} is longer than APIM's 76 characters`)
      assert.ok(!ids.has(id.toLowerCase()), `operationId ${id} used by both ${ids.get(id.toLowerCase())} and ${key}`)
      ids.set(id.toLowerCase(), key)
    }
  })

  it('every operation has a summary, tags, and described responses', () => {
    const tags = new Set((doc.tags as Json[]).map((t) => t.name))
    for (const { key, op } of ops) {
      assert.ok(typeof op.summary === 'string' && op.summary.length > 0 && op.summary.length <= 300, `${key}: summary`)
      assert.ok(Array.isArray(op.tags) && op.tags.length > 0, `${key}: tags`)
      for (const t of op.tags) assert.ok(tags.has(t), `${key}: tag ${t} not declared`)
      const codes = Object.keys(op.responses ?? {})
      assert.ok(codes.some((c) => /^2\d\d$/.test(c) || c === '302'), `${key}: no success response`)
      for (const c of codes) {
        assert.match(c, /^[1-5]\d\d$/, `${key}: response key ${c}`)
        assert.equal(typeof deref(op.responses[c]).description, 'string', `${key} ${c}: description`)
      }
    }
  })

  it('request and response bodies reference component schemas (APIM: no inline body schemas)', () => {
    for (const { key, op } of ops) {
      const bodies: [string, Json][] = []
      if (op.requestBody) bodies.push(['request', deref(op.requestBody)])
      for (const [c, r] of Object.entries(op.responses as Json)) bodies.push([c, deref(r)])
      for (const [where, b] of bodies)
        for (const [type, media] of Object.entries((b.content ?? {}) as Json))
          assert.equal(typeof media.schema?.$ref, 'string', `${key} ${where} ${type}: schema must be a $ref`)
      if (['GET', 'HEAD', 'DELETE'].includes(key.split(' ')[0]!)) assert.equal(op.requestBody, undefined, `${key}: body on ${key.split(' ')[0]}`)
    }
  })

  it('4xx/5xx bodies are problem+json, except RFC 6749 errors of the OAuth endpoints', () => {
    const oauthJson = new Set(['POST /oauth2/token', 'POST /oauth2/revoke', 'POST /oauth2/introspect', 'POST /oauth2/bc-authorize'])
    for (const { key, op } of ops) {
      for (const [c, r] of Object.entries(op.responses as Json)) {
        if (Number(c) < 400) continue
        const content = deref(r).content as Json | undefined
        assert.ok(content, `${key} ${c}: error response without a body schema`)
        const [type] = Object.keys(content)
        // RFC 6749 §4.1.2.1: a bad client or redirect URI at the authorization endpoint is an
        // error page for the person in the browser (never a redirect).
        if (key === 'GET /oauth2/authorize' && c === '400' && type === 'text/html') continue
        const target = content[type!].schema.$ref
        if (type === 'application/problem+json') assert.equal(target, '#/components/schemas/Problem', `${key} ${c}`)
        else {
          assert.ok(oauthJson.has(key), `${key} ${c}: ${type} is not problem+json`)
          assert.equal(type, 'application/json')
          assert.equal(target, '#/components/schemas/OAuthError', `${key} ${c}`)
        }
      }
    }
  })

  it('path parameters match the templates; parameter names are unique per URL template (APIM)', () => {
    for (const { key, path, op, pathItem } of ops) {
      const params = [...(pathItem.parameters ?? []), ...(op.parameters ?? [])].map(deref)
      const inPath = new Set([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!))
      const declared = params.filter((p) => p.in === 'path')
      assert.deepEqual(new Set(declared.map((p) => p.name)), inPath, `${key}: path parameters`)
      for (const p of declared) assert.equal(p.required, true, `${key}: path parameter ${p.name} must be required`)
      const templateNames = params.filter((p) => p.in === 'path' || (p.in === 'query' && p.required)).map((p) => p.name.toLowerCase())
      assert.equal(new Set(templateNames).size, templateNames.length, `${key}: duplicate template parameter names`)
      for (const p of params) assert.ok(p.schema, `${key}: parameter ${p.name} without a schema`)
    }
  })

  it('declares the bearer and function-key schemes; every operation states its security with them', () => {
    const schemes = doc.components.securitySchemes as Json
    assert.deepEqual(schemes.bearer, { ...schemes.bearer, type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    assert.deepEqual(schemes.functionKey, { ...schemes.functionKey, type: 'apiKey', in: 'header', name: 'x-functions-key' })
    for (const { key, op } of ops) {
      assert.ok(Array.isArray(op.security), `${key}: security must be stated (\`[]\` for public operations)`)
      for (const req of op.security) for (const name of Object.keys(req)) assert.ok(schemes[name], `${key}: unknown scheme ${name}`)
    }
  })

  it('the authorizer takes the function key and a bearer token', () => {
    const check = doc.paths['/authz/check'].post
    assert.ok(check.security.some((r: Json) => 'functionKey' in r && 'bearer' in r))
    assert.ok(check.security.every((r: Json) => 'functionKey' in r), 'every alternative needs the function key')
    assert.equal(check.requestBody.content['application/json'].schema.$ref, '#/components/schemas/AuthzRequest')
    const decision = doc.components.schemas.AuthzDecision
    assert.deepEqual(decision.properties.status.enum, [200, 401, 403])
    assert.deepEqual(new Set(decision.required), new Set(['allow', 'status', 'reason', 'roles', 'scopes', 'ttl']))
    assert.ok(decision.properties.sub)
    assert.ok(decision.properties.actor, 'CONTRACT v2: a delegated token\'s agent')
    const permission = doc.components.schemas.Permission
    assert.deepEqual(new Set(Object.keys(permission.properties)), new Set(['methods', 'path', 'apiId', 'acr', 'maxAge', 'delegation']))
    assert.deepEqual(permission.properties.delegation.enum, ['allow', 'approve', 'deny'])
    // CONTRACT v2 Step-up: the members of a 401 step-up answer.
    for (const m of ['error', 'acr_values', 'max_age', 'wwwAuthenticate']) assert.ok(decision.properties[m], `AuthzDecision.${m}`)
    assert.deepEqual(permission.required, ['methods', 'path'])
  })

  it('self-service and administration need a bearer token; administration answers 403', () => {
    for (const { key, op } of ops) {
      if (!/ \/(me|manage)(\/|$)/.test(key)) continue
      assert.deepEqual(op.security, [{ bearer: [] }], `${key}: security`)
      assert.ok(op.responses['401'], `${key}: 401`)
      if (key.includes(' /manage')) assert.ok(op.responses['403'], `${key}: 403`)
      assert.ok(op.responses['503'], `${key}: 503`)
    }
  })

  it('JSON bodies can be refused for size (413) and type (415)', () => {
    for (const { key, op } of ops) {
      const body = op.requestBody && deref(op.requestBody)
      if (!body?.content?.['application/json']) continue
      assert.ok(op.responses['400'] && op.responses['413'] && op.responses['415'], `${key}: 400/413/415`)
    }
  })

  it('the token endpoint takes a form with the five grants and their parameters', () => {
    const token = doc.paths['/oauth2/token'].post
    const content = token.requestBody.content
    assert.deepEqual(Object.keys(content), ['application/x-www-form-urlencoded'])
    const union = deref(content['application/x-www-form-urlencoded'].schema)
    const grants = (union.oneOf as Json[]).map(deref)
    const byGrant = new Map(grants.map((g) => [g.properties.grant_type.enum[0], g]))
    assert.deepEqual(new Set(byGrant.keys()), new Set(['refresh_token', 'authorization_code', 'client_credentials', 'urn:openid:params:grant-type:ciba', 'urn:ietf:params:oauth:grant-type:token-exchange']))
    assert.ok(byGrant.get('urn:openid:params:grant-type:ciba')!.required.includes('auth_req_id'))
    // RFC 8693 §2.1: subject_token and its type are required, the one type being access_token.
    const tx = byGrant.get('urn:ietf:params:oauth:grant-type:token-exchange')!
    for (const p of ['subject_token', 'subject_token_type', 'client_assertion', 'client_assertion_type'])
      assert.ok(tx.required.includes(p), `token-exchange: ${p}`)
    assert.deepEqual(tx.properties.subject_token_type.enum, ['urn:ietf:params:oauth:token-type:access_token'])
    assert.equal(tx.properties.actor_token, undefined, 'actor_token is refused, so not documented as a parameter')
    assert.ok(byGrant.get('refresh_token')!.required.includes('refresh_token'))
    for (const p of ['code', 'redirect_uri', 'code_verifier', 'client_id'])
      assert.ok(byGrant.get('authorization_code')!.required.includes(p), `authorization_code: ${p}`)
    const cc = byGrant.get('client_credentials')!
    assert.deepEqual(cc.properties.client_assertion_type.enum, ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'])
    assert.ok(cc.required.includes('client_assertion') && cc.required.includes('client_assertion_type'))
    assert.equal(token.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/TokenResponse')
  })

  it('the authorization endpoint documents the PKCE code-flow parameters', () => {
    const params = (doc.paths['/oauth2/authorize'].get.parameters as Json[]).map(deref)
    const names = new Set(params.filter((p) => p.in === 'query').map((p) => p.name))
    for (const n of ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method'])
      assert.ok(names.has(n), `authorize: ${n}`)
    assert.deepEqual(params.find((p) => p.name === 'code_challenge_method')!.schema.enum, ['S256'])
  })

  it('Problem.code lists the contract codes and every ERROR_STATUS code', () => {
    const codes = new Set(doc.components.schemas.Problem.properties.code.enum as string[])
    for (const c of [...CONTRACT_CODES, ...Object.keys(ERROR_STATUS)]) assert.ok(codes.has(c), `Problem.code lacks ${c}`)
    assert.deepEqual(new Set(doc.components.schemas.Problem.required), new Set(['type', 'title', 'status', 'code']))
  })

  it('has the component schemas clients and gateways rely on', () => {
    const s = doc.components.schemas as Json
    for (const n of [
      'Problem', 'OAuthError', 'TokenResponse', 'PublicKeyCredentialCreationOptionsJSON', 'PublicKeyCredentialRequestOptionsJSON',
      'RegistrationResponseJSON', 'AuthenticationResponseJSON', 'Credential', 'Me', 'Permission', 'Role', 'AuthzRequest',
      'AuthzDecision', 'SigningKey', 'AuditEvent', 'ClientRegistration',
    ])
      assert.ok(s[n], `schema ${n}`)
    assert.deepEqual(
      new Set(Object.keys(s.Credential.properties)),
      new Set(['id', 'label', 'createdAt', 'lastUsedAt', 'aaguid', 'backupEligible', 'backedUp', 'transports', 'deviceBound', 'authenticatorName', 'authenticator', 'flagged']),
    )
    for (const st of ['next', 'active', 'retired']) assert.ok(s.SigningKey.properties.state.enum.includes(st))
    // RFC 9449 §5: DPoP when the request carried a proof.
    assert.deepEqual(new Set(s.TokenResponse.properties.token_type.enum), new Set(['Bearer', 'DPoP']))
  })

  it('every contract route is documented with its method', () => {
    const documented = new Set(ops.map((o) => o.key))
    const missing = CONTRACT_ROUTES.filter((r) => !documented.has(r))
    assert.deepEqual(missing, [], `contract routes missing from the document: ${missing.join(', ')}`)
  })

  it('shared/openapi.ts and shared/openapi/ are runtime-agnostic (no node: imports)', () => {
    const files = ['openapi.ts', 'openapi/index.ts', 'openapi/build.ts', 'openapi/components.ts', ...readdirSync(new URL('../shared/openapi/paths/', import.meta.url)).map((f) => `openapi/paths/${f}`)]
    for (const f of files) assert.doesNotMatch(readFileSync(new URL(`../shared/${f}`, import.meta.url), 'utf8'), /from ['"]node:|require\(/, f)
  })

  it('components.schemas are generated from shared/schemas (one shape in one place), and the generated file is current', () => {
    assert.deepEqual(Object.keys(doc.components.schemas).sort(), Object.keys(COMPONENTS).sort())
    // Rendered again from the schemas: byte for byte what is committed (npm run build rewrites it).
    assert.equal(readFileSync(OUTPUT, 'utf8'), renderComponents(), 'shared/openapi/components.generated.json is stale: run npm run build')
    // The settings' part: a sign-in may ask for exactly the configured audiences.
    assert.deepEqual(doc.components.schemas.AuthenticationVerifyRequest.properties.audience.enum, config.audiences)
  })
})

describe('openApiDocument: matches the app', () => {
  const routes = appRoutes()
  const documented = new Map(ops.map((o) => [shape(o.key), o]))
  const implemented = new Map(routes.map((r) => [shape(r.key), r]))

  it('every route of the app is documented', (t) => {
    const undocumented = routes.filter((r) => !documented.has(shape(r.key)))
    assert.deepEqual(
      undocumented.map((r) => r.raw),
      [],
      `routes served by createApp but missing from the paths tables in shared/openapi/paths/: ${undocumented.map((r) => r.raw).join(', ')}`,
    )
    t.diagnostic(`${routes.length} app routes, all documented`)
  })

  it('documented path parameter names are the app\'s', () => {
    const mismatched = routes
      .filter((r) => documented.has(shape(r.key)) && documented.get(shape(r.key))!.key !== r.key)
      .map((r) => `${r.raw} is documented as ${documented.get(shape(r.key))!.key}`)
    assert.deepEqual(mismatched, [])
  })

  it('every documented operation is implemented or listed in NOT_YET_IMPLEMENTED', (t) => {
    const pending = ops.filter((o) => !implemented.has(shape(o.key)))
    const unlisted = pending.filter((o) => !NOT_YET_IMPLEMENTED.has(o.key))
    const listed = pending.filter((o) => NOT_YET_IMPLEMENTED.has(o.key))
    if (listed.length) t.diagnostic(`documented, not implemented yet (${listed.length}): ${listed.map((o) => o.key).join(', ')}`)
    const stale = [...NOT_YET_IMPLEMENTED].filter((k) => implemented.has(shape(k)))
    if (stale.length) t.diagnostic(`implemented now, remove from NOT_YET_IMPLEMENTED: ${stale.join(', ')}`)
    const unknown = [...NOT_YET_IMPLEMENTED].filter((k) => !documented.has(shape(k)))
    assert.deepEqual(unknown, [], 'NOT_YET_IMPLEMENTED names operations the document does not have')
    assert.deepEqual(
      unlisted.map((o) => o.key),
      [],
      `documented but neither implemented nor listed in NOT_YET_IMPLEMENTED: ${unlisted.map((o) => o.key).join(', ')}`,
    )
  })

  it('implemented operations answer bare requests with documented statuses and media types', async () => {
    const fill = (path: string) => path.replace(/\{[^}]+\}/g, 'AAAA')
    const implementedOps = ops.filter((o) => implemented.has(shape(o.key)))
    for (const down of [false, true]) {
      store.down = down
      try {
        for (const o of implementedOps) {
          const res = await app.request(`/api${fill(o.path)}`, { method: o.method })
          const status = String(res.status)
          const documentedResponse = o.op.responses[status]
          assert.ok(documentedResponse, `${o.key} (storage ${down ? 'down' : 'up'}) answered ${status}, documented: ${Object.keys(o.op.responses).join(', ')}`)
          const content = deref(documentedResponse).content as Json | undefined
          const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim()
          if (content && type) assert.ok(content[type], `${o.key} ${status}: content-type ${type}, documented: ${Object.keys(content).join(', ')}`)
          await res.body?.cancel()
        }
      } finally {
        store.down = false
      }
    }
  })

  it('GET /api/openapi.json serves openApiDocument(config)', async () => {
    const res = await app.request('/api/openapi.json')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(await res.json(), JSON.parse(JSON.stringify(openApiDocument(config))))
  })
})

describe('openApiDocument: real responses of a signed-in walk conform to it', () => {
  const walkConfig = loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BOOTSTRAP_ADMINS: 'ada' }, { local: true })
  const walkApp = createApp({ config: walkConfig, store: createMemoryStore(), logError: () => {} })
  const walkDoc = openApiDocument(walkConfig) as Json
  const origin = walkConfig.allowedOrigins[0]!

  /**
   * Calls the app and checks the answer against the operation `METHOD template`: the status is
   * documented, the content type is the documented one, and the body conforms to its schema.
   */
  async function call(
    key: string,
    opts: { params?: Record<string, string>; json?: unknown; form?: Record<string, string>; token?: string; query?: string } = {},
  ): Promise<{ status: number; body: any }> {
    const [method, template] = key.split(' ') as [string, string]
    const op = walkDoc.paths[template]?.[method.toLowerCase()]
    assert.ok(op, `${key} is not documented`)
    const path = template.replace(/\{([^}]+)\}/g, (_, n: string) => encodeURIComponent(opts.params?.[n] ?? 'x'))
    const headers: Record<string, string> = {}
    let body: string | undefined
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.json)
    }
    if (opts.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(opts.form).toString()
    }
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    const res = await walkApp.request(`/api${path}${opts.query ?? ''}`, { method, headers, body }, { remoteAddr: '127.0.0.1' })
    const text = await res.text()
    const documented = op.responses[String(res.status)]
    assert.ok(documented, `${key} answered ${res.status} (${text.slice(0, 200)}); documented: ${Object.keys(op.responses).join(', ')}`)
    const content = deref(documented).content as Json | undefined
    if (!content) {
      assert.equal(text, '', `${key} ${res.status}: documented without a body`)
      return { status: res.status, body: undefined }
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim()
    assert.ok(content[type], `${key} ${res.status}: content-type ${type}, documented: ${Object.keys(content).join(', ')}`)
    if (type === 'text/html' || type === 'text/javascript') return { status: res.status, body: text }
    const parsed = JSON.parse(text)
    const errors: string[] = []
    conform(content[type].schema, parsed, `${key} ${res.status}`, errors)
    assert.deepEqual(errors, [], `${key} ${res.status} body: ${text.slice(0, 400)}`)
    return { status: res.status, body: parsed }
  }

  it('sign-up, self-service, tokens, administration and the authorizer', async () => {
    assert.equal((await call('GET /health')).status, 200)
    await call('GET /.well-known/openid-configuration')
    await call('GET /.well-known/oauth-authorization-server')
    await call('GET /.well-known/jwks.json')

    // Sign-up (bootstrap admin), and the same username again.
    const laptop = new SoftAuthenticator()
    const o1 = await call('POST /webauthn/registration/options', { json: { username: 'ada', displayName: 'Ada L.' } })
    assert.equal(o1.status, 200)
    const v1 = await call('POST /webauthn/registration/verify', {
      json: { credential: await laptop.createCredential(o1.body, { origin }), label: 'laptop' },
    })
    assert.equal(v1.status, 201)
    assert.ok(v1.body.tokens)
    const userId: string = v1.body.user.id
    const cred1: string = v1.body.credential.id
    let access: string = v1.body.tokens.access_token
    assert.equal((await call('POST /webauthn/registration/options', { json: { username: 'ada' } })).status, 409)

    // A second passkey for the signed-in account.
    const phone = new SoftAuthenticator()
    const o2 = await call('POST /webauthn/registration/options', { json: {}, token: access })
    const v2 = await call('POST /webauthn/registration/verify', {
      json: { credential: await phone.createCredential(o2.body, { origin }) },
      token: access,
    })
    assert.equal(v2.status, 201)
    const cred2: string = v2.body.credential.id

    assert.equal((await call('GET /me', { token: access })).body.username, 'ada')
    assert.equal((await call('GET /me')).status, 401)
    assert.equal((await call('GET /me/credentials', { token: access })).body.length, 2)
    assert.equal((await call('PATCH /me/credentials/{id}', { params: { id: cred2 }, json: { label: 'phone' }, token: access })).status, 200)
    assert.equal((await call('PATCH /me/credentials/{id}', { params: { id: 'nope' }, json: { label: 'x' }, token: access })).status, 404)

    // Sign-in, usernameless and by name, then refresh and introspection.
    const a1 = await call('POST /webauthn/authentication/options', { json: {} })
    assert.deepEqual(a1.body.allowCredentials ?? [], [])
    const a2 = await call('POST /webauthn/authentication/options', { json: { username: 'ada' } })
    const signedIn = await call('POST /webauthn/authentication/verify', {
      json: { credential: await laptop.getAssertion(a2.body, { origin }) },
    })
    assert.equal(signedIn.status, 200)
    access = signedIn.body.access_token
    assert.equal((await call('POST /webauthn/authentication/verify', { json: { credential: { id: 'x' } } })).status, 400)
    const refreshed = await call('POST /oauth2/token', {
      form: { grant_type: 'refresh_token', refresh_token: signedIn.body.refresh_token },
    })
    assert.equal(refreshed.status, 200)
    assert.equal((await call('POST /oauth2/token', { form: { grant_type: 'password' } })).status, 400)

    // Sessions: the sign-up's and the sign-in's (refreshed), then signed out everywhere else.
    const current = refreshed.body.access_token as string
    const sessions = await call('GET /me/sessions', { token: current })
    assert.deepEqual(sessions.body.map((s: Json) => s.current).sort(), [false, true])
    assert.equal((await call('GET /manage/users/{userId}/sessions', { params: { userId }, token: current })).body.length, 2)
    assert.equal((await call('GET /manage/users/{userId}/sessions', { params: { userId: 'nope' }, token: current })).status, 404)
    assert.equal((await call('DELETE /me/sessions/{id}', { params: { id: 'nope' }, token: current })).status, 404)
    assert.equal((await call('DELETE /me/sessions', { token: current })).status, 204)
    assert.equal((await call('GET /me/sessions', { token: current })).body.length, 1)

    // Administration and the authorizer.
    const admin = refreshed.body.access_token as string
    const permissions = [{ methods: ['GET'], path: '/orders/*', acr: 'phr' }]
    assert.equal((await call('PUT /manage/roles/{role}', { params: { role: 'reader' }, json: { permissions }, token: admin })).status, 200)
    assert.ok((await call('GET /manage/roles', { token: admin })).body.some((r: Json) => r.name === 'reader'))
    const users = await call('GET /manage/users', { query: '?username=ada', token: admin })
    assert.equal(users.body[0].id, userId)
    assert.ok((await call('PUT /manage/users/{userId}/roles/{role}', { params: { userId, role: 'reader' }, token: admin })).body.roles.includes('reader'))
    const allowed = await call('POST /authz/check', { json: { method: 'GET', path: '/orders/42' }, token: admin })
    assert.equal(allowed.body.allow, true)
    const anonymous = await call('POST /authz/check', { json: { method: 'GET', path: '/orders/42' } })
    assert.equal(anonymous.body.status, 401)
    assert.equal((await call('POST /authz/check', { json: { path: 'nope' } })).status, 400)
    await call('DELETE /manage/users/{userId}/roles/{role}', { params: { userId, role: 'reader' }, token: admin })
    assert.equal((await call('DELETE /manage/roles/{role}', { params: { role: 'reader' }, token: admin })).status, 204)
    assert.equal((await call('DELETE /manage/roles/{role}', { params: { role: 'reader' }, token: admin })).status, 404)

    // Invitations and recovery (CONTRACT v2 "People and sessions"): invite, list, enrol, revoke; recover.
    const invited = await call('POST /manage/invitations', { json: { username: 'grace', displayName: 'Grace H.', ttl: 3600 }, token: admin })
    assert.equal(invited.status, 201)
    assert.equal((await call('POST /manage/invitations', { json: { username: 'ada' }, token: admin })).status, 409)
    assert.equal((await call('POST /manage/invitations', { json: { username: 'x1y', ttl: 1 }, token: admin })).status, 400)
    assert.equal((await call('POST /manage/invitations', { json: { username: 'x1y', roles: ['nope'] }, token: admin })).status, 404)
    assert.equal((await call('GET /manage/invitations', { token: admin })).body.length, 1)
    const io = await call('POST /webauthn/registration/options', { json: { invitation: invited.body.token } })
    assert.equal(io.status, 200)
    const key = new SoftAuthenticator()
    const iv = await call('POST /webauthn/registration/verify', { json: { credential: await key.createCredential(io.body, { origin }) } })
    assert.equal(iv.status, 201)
    assert.ok(iv.body.tokens)
    assert.equal((await call('POST /webauthn/registration/options', { json: { invitation: invited.body.token } })).status, 400)
    const other = await call('POST /manage/invitations', { json: { username: 'linus' }, token: admin })
    assert.equal((await call('DELETE /manage/invitations/{id}', { params: { id: other.body.id }, token: admin })).status, 204)
    assert.equal((await call('DELETE /manage/invitations/{id}', { params: { id: other.body.id }, token: admin })).status, 404)
    const rec = await call('POST /manage/users/{userId}/recovery', { params: { userId: iv.body.user.id }, json: {}, token: admin })
    assert.equal(rec.status, 201)
    assert.equal((await call('POST /manage/users/{userId}/recovery', { params: { userId: 'nope' }, token: admin })).status, 404)
    assert.equal((await call('POST /manage/users/{userId}/recovery', { params: { userId }, json: { ttl: 'soon' }, token: admin })).status, 400)
    const ro = await call('POST /webauthn/registration/options', { json: { recovery: rec.body.token } })
    assert.equal(ro.status, 200)
    const rv = await call('POST /webauthn/registration/verify', { json: { credential: await new SoftAuthenticator().createCredential(ro.body, { origin }) } })
    assert.equal(rv.status, 201)
    assert.equal((await call('POST /webauthn/registration/options', { json: { recovery: rec.body.token } })).status, 400)

    // OAuth clients: a machine client (private_key_jwt, client_credentials, introspection) and a
    // public client (authorization code + PKCE through the hosted page).
    const { publicKey, privateKey } = keyPair('ec', { namedCurve: 'P-256' })
    const machine = await call('POST /manage/clients', {
      json: { name: 'billing job', jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }] } },
      token: admin,
    })
    assert.equal(machine.status, 201)
    const machineId: string = machine.body.client_id
    assert.equal((await call('GET /manage/clients/{clientId}', { params: { clientId: machineId }, token: admin })).body.client_id, machineId)
    assert.equal((await call('GET /manage/clients/{clientId}', { params: { clientId: 'nope' }, token: admin })).status, 404)
    assert.equal((await call('POST /manage/clients', { json: { name: 'x', redirect_uris: ['http://evil.example/cb'] }, token: admin })).status, 400)
    const assertion = () =>
      new SignJWT({ jti: randomBytes(16).toString('hex') })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(machineId)
        .setSubject(machineId)
        .setAudience(walkConfig.issuer)
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey)
    const clientAuth = async () => ({ client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion() })
    const cc = await call('POST /oauth2/token', { form: { grant_type: 'client_credentials', ...(await clientAuth()) } })
    assert.equal(cc.status, 200)
    assert.equal(cc.body.refresh_token, undefined)
    const intro = await call('POST /oauth2/introspect', { form: { token: cc.body.access_token, ...(await clientAuth()) } })
    assert.equal(intro.body.active, true)
    assert.equal(intro.body.client_id, machineId)
    assert.deepEqual((await call('POST /oauth2/introspect', { form: { token: admin, ...(await clientAuth()) } })).body, { active: false })
    assert.equal((await call('POST /oauth2/introspect', { form: { token: admin } })).status, 401)

    const redirectUri = 'https://app.example/cb'
    const spa = await call('POST /manage/clients', { json: { name: 'portal', redirect_uris: [redirectUri] }, token: admin })
    assert.equal(spa.status, 201)
    const verifier = randomBytes(32).toString('base64url')
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    const authorizeQuery = (extra: Record<string, string>) =>
      '?' + new URLSearchParams({ client_id: spa.body.client_id, redirect_uri: redirectUri, state: 's1', code_challenge: challenge, code_challenge_method: 'S256', ...extra })
    assert.equal((await call('GET /oauth2/authorize', { query: authorizeQuery({ response_type: 'token' }) })).status, 302)
    assert.equal((await call('GET /oauth2/authorize', { query: '?client_id=nope' })).status, 400)
    const page = await call('GET /oauth2/authorize', { query: authorizeQuery({ response_type: 'code', scope: 'openid' }) })
    assert.equal(page.status, 200)
    assert.match((await call('GET /oauth2/authorize/app.js')).body, /navigator\.credentials\.get/)
    const handle = /name="authorization-request" content="([^"]+)"/.exec(page.body)![1]!
    const bound = await call('POST /oauth2/authorize/options', { json: { request: handle } })
    assert.equal(bound.status, 200)
    const done = await call('POST /oauth2/authorize/complete', {
      json: { request: bound.body.request, credential: await laptop.getAssertion(bound.body.options, { origin }) },
    })
    assert.equal(done.status, 200)
    const code = new URL(done.body.redirect_to).searchParams.get('code')!
    const exchanged = await call('POST /oauth2/token', {
      form: { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: spa.body.client_id, code_verifier: verifier },
    })
    assert.equal(exchanged.status, 200)
    assert.ok(exchanged.body.id_token)
    assert.equal((await call('POST /oauth2/revoke', { form: { token: exchanged.body.refresh_token, client_id: spa.body.client_id } })).status, 200)

    // Signing keys: list, rotate now (the admin's token keeps working), revoke the new next key.
    const keys = await call('GET /manage/keys', { token: admin })
    assert.deepEqual(keys.body.map((k: Json) => k.state).sort(), ['active', 'next'])
    const rotated = await call('POST /manage/keys/rotate', { token: admin })
    assert.deepEqual(rotated.body.map((k: Json) => k.state).sort(), ['active', 'next', 'retired'])
    const next = rotated.body.find((k: Json) => k.state === 'next').kid as string
    assert.equal((await call('DELETE /manage/keys/{kid}', { params: { kid: next }, token: admin })).status, 204)
    assert.equal((await call('DELETE /manage/keys/{kid}', { params: { kid: 'nope' }, token: admin })).status, 404)

    // Deleting an account (CONTRACT v2): then its audit events show their personal fields erased.
    const bob = new SoftAuthenticator()
    const ob = await call('POST /webauthn/registration/options', { json: { username: 'bob' } })
    const vb = await call('POST /webauthn/registration/verify', { json: { credential: await bob.createCredential(ob.body, { origin }) } })
    assert.equal((await call('DELETE /manage/users/{userId}', { params: { userId: vb.body.user.id }, token: admin })).status, 204)
    assert.equal((await call('DELETE /manage/users/{userId}', { params: { userId: vb.body.user.id }, token: admin })).status, 404)
    assert.equal((await call('DELETE /manage/users/{userId}', { params: { userId }, token: admin })).status, 409)
    // A person deletes their own account (signed up just now).
    const cy = new SoftAuthenticator()
    const oc = await call('POST /webauthn/registration/options', { json: { username: 'cyd' } })
    assert.equal(oc.status, 200, JSON.stringify(oc.body))
    const vc = await call('POST /webauthn/registration/verify', { json: { credential: await cy.createCredential(oc.body, { origin }) } })
    assert.equal((await call('DELETE /me', { token: vc.body.tokens.access_token })).status, 204)
    assert.equal((await call('DELETE /me', { token: vc.body.tokens.access_token })).status, 401)

    // The audit log of all of the above, in pages.
    const audit = await call('GET /manage/audit', { query: '?limit=1000', token: admin })
    assert.ok(audit.body.length > 10)
    assert.ok(audit.body.some((e: Json) => e.target.userId === vb.body.user.id && e.erased?.includes('target.username')))
    assert.equal((await call('GET /manage/audit', { query: `?since=${audit.body[2].id}&limit=2`, token: admin })).body[0].seq, 4)
    assert.equal((await call('GET /manage/audit', { query: '?since=nope', token: admin })).status, 400)

    // Revoking one passkey leaves the other as the last usable one.
    assert.equal((await call('DELETE /manage/credentials/{id}', { params: { id: cred2 }, token: admin })).status, 204)
    assert.equal((await call('DELETE /me/credentials/{id}', { params: { id: cred1 }, token: admin })).status, 409)
    assert.equal((await call('POST /oauth2/revoke', { form: { token: refreshed.body.refresh_token } })).status, 200)
    assert.equal((await call('GET /me', { token: admin })).status, 401)

  })
})
