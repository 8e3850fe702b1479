/**
 * OpenID Connect Discovery 1.0 §3 / RFC 8414 §2 against the app itself: every endpoint and
 * capability the metadata lists exists and works, and nothing the app serves is missing. A member
 * added to shared/oauth/discovery.ts without a check here fails the last test.
 */
import { DPOP_ALGS } from '../../shared/oauth/dpop.js'
import assert from 'node:assert/strict'
import { randomBytes, type KeyObject } from 'node:crypto'
import { keyPair } from '../helpers/keys.js'
import { readdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { createApp } from '../../shared/app.js'
import { loadConfig } from '../../shared/config.js'
import { GRANT_TYPES } from '../../shared/oauth/token.js'
import { ID_TOKEN_CLAIMS } from '../../shared/oauth/discovery.js'
import { createMemoryStore } from '../../shared/store/memory.js'

const config = loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, { local: true })
const store = createMemoryStore()
const app = createApp({ config, store, logError: () => {} })
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

const get = (path: string) => app.request(path)
const local = (url: string) => {
  assert.ok(url.startsWith(config.issuer), `${url} is under the issuer`)
  return `/api${url.slice(config.issuer.length)}`
}
const form = (path: string, params: Record<string, string>, headers: Record<string, string> = {}) =>
  app.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(params).toString() })

/** Keys per algorithm, all registered on one machine client. */
const KEYS: Record<string, { privateKey: KeyObject; publicKey: KeyObject }> = {
  RS256: keyPair('rsa', { modulusLength: 2048 }),
  PS256: keyPair('rsa', { modulusLength: 2048 }),
  ES256: keyPair('ec', { namedCurve: 'P-256' }),
  EdDSA: keyPair('ed25519'),
}

const machineId = 'machineAAAAAAAAAAAAAAA'
const publicId = 'publicAAAAAAAAAAAAAAAA'
const redirectUri = 'https://app.example/cb'
await store.createClient(
  {
    id: machineId,
    name: 'machine',
    kind: 'confidential',
    jwks: { keys: Object.entries(KEYS).map(([alg, k]) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: alg, alg })) },
    redirectUris: [],
    createdAt: Date.now(),
  },
  { id: machineId, username: '', displayName: 'machine', roles: [], createdAt: Date.now() },
)
await store.createClient(
  { id: publicId, name: 'public', kind: 'public', redirectUris: [redirectUri], createdAt: Date.now() },
  { id: publicId, username: '', displayName: 'public', roles: [], createdAt: Date.now() },
)

function assertion(alg: string, aud: string = config.issuer) {
  return new SignJWT({ jti: randomBytes(12).toString('hex') })
    .setProtectedHeader({ alg, kid: alg })
    .setIssuer(machineId)
    .setSubject(machineId)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(KEYS[alg]!.privateKey)
}

const authorize = (extra: Record<string, string>) =>
  get(
    '/api/oauth2/authorize?' +
      new URLSearchParams({
        client_id: publicId,
        redirect_uri: redirectUri,
        response_type: 'code',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        state: 'st',
        ...extra,
      }),
  )
const redirectError = async (res: Response) => {
  assert.equal(res.status, 302, await res.clone().text())
  const to = new URL(res.headers.get('location')!)
  assert.equal(`${to.origin}${to.pathname}`, redirectUri)
  return to.searchParams
}

const meta = (await (await app.request('/api/.well-known/openid-configuration')).json()) as Record<string, any>
const checked = new Set<string>()
const check = (...members: string[]) => members.forEach((m) => checked.add(m))

describe('Discovery cross-checked against the routes and grants', () => {
  it('issuer; both well-known documents are the same', async () => {
    check('issuer')
    assert.equal(meta.issuer, config.issuer)
    assert.deepEqual(await (await app.request('/api/.well-known/oauth-authorization-server')).json(), meta)
  })

  it('RFC 8414 §3: the well-known part inserted before the issuer\'s path (/.well-known/oauth-authorization-server/api) answers the same; and §5\'s OpenID form', async () => {
    const path = new URL(config.issuer).pathname
    assert.equal(path, '/api')
    for (const wellKnown of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      // What a client builds from the issuer (RFC 8414 §3.1): origin + well-known + path.
      const url: URL = new URL(`${wellKnown}${path}`, config.issuer)
      const res: Response = await app.request(url.pathname)
      assert.equal(res.status, 200, url.pathname)
      assert.equal(res.headers.get('cache-control'), 'public, max-age=3600')
      assert.deepEqual(await res.json(), meta, url.pathname)
    }
    // Only the issuer's own path.
    assert.equal((await app.request('/.well-known/oauth-authorization-server/other')).status, 404)
  })

  it('every *_endpoint and jwks_uri is served here; every OAuth route of the app is listed', async () => {
    check('authorization_endpoint', 'token_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'jwks_uri')
    const endpoints = Object.entries(meta).filter(([k]) => k.endsWith('_endpoint') || k === 'jwks_uri')
    for (const [k, url] of endpoints) {
      const path = local(url)
      const res = k === 'authorization_endpoint' || k === 'jwks_uri' ? await app.request(path) : await form(path, {})
      assert.notEqual(res.status, 404, `${k} ${url} is routed`)
      assert.ok(res.status < 500, `${k} answers`)
    }
    const jwks = (await (await app.request(local(meta.jwks_uri))).json()) as { keys: { alg: string }[] }
    assert.ok(jwks.keys.length > 0)
    // The app's OAuth endpoints (minus the hosted page's own helpers, and middleware such as rate limits) are all advertised.
    const listed = new Set(endpoints.map(([, u]) => local(u)))
    const routes = new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => r.path).filter((p) => p.startsWith('/api/oauth2/') && !p.startsWith('/api/oauth2/authorize/')))
    for (const p of routes) assert.ok(listed.has(p), `${p} is in the metadata`)
  })

  it('grant_types_supported = the grant files = what the token endpoint dispatches', async () => {
    check('grant_types_supported')
    const files = readdirSync(new URL('../../shared/oauth/grants/', import.meta.url))
      .filter((f) => f.endsWith('.ts') && !['index.ts', 'types.ts'].includes(f))
      .map((f) => f.slice(0, -3))
    // One file per grant, named after its grant_type (a URN's last part: ciba.ts).
    assert.deepEqual([...meta.grant_types_supported].map((g: string) => g.split(':').pop()).sort(), [...files].sort())
    assert.deepEqual([...meta.grant_types_supported].sort(), [...GRANT_TYPES].sort())
    for (const g of meta.grant_types_supported) {
      const body = (await (await form('/api/oauth2/token', { grant_type: g })).json()) as { error: string }
      assert.notEqual(body.error, 'unsupported_grant_type', g)
    }
    for (const g of ['password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer']) {
      const body = (await (await form('/api/oauth2/token', { grant_type: g })).json()) as { error: string }
      assert.equal(body.error, 'unsupported_grant_type', g)
    }
  })

  it('token_endpoint_auth_methods_supported (none, private_key_jwt) and every signing alg work; secrets do not', async () => {
    check('token_endpoint_auth_methods_supported', 'token_endpoint_auth_signing_alg_values_supported')
    assert.deepEqual([...meta.token_endpoint_auth_methods_supported].sort(), ['none', 'private_key_jwt'])
    assert.deepEqual([...meta.token_endpoint_auth_signing_alg_values_supported].sort(), Object.keys(KEYS).sort())
    for (const alg of meta.token_endpoint_auth_signing_alg_values_supported) {
      for (const aud of [meta.issuer, meta.token_endpoint]) {
        const res = await form('/api/oauth2/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: await assertion(alg, aud) })
        assert.equal(res.status, 200, `${alg} aud ${aud}: ${await res.text()}`)
      }
    }
    // none: a public client is identified by client_id (the error is about the code, not the client).
    const none = (await (await form('/api/oauth2/token', { grant_type: 'authorization_code', client_id: publicId, code: 'x', redirect_uri: redirectUri })).json()) as { error: string }
    assert.equal(none.error, 'invalid_grant')
    const basic = await form('/api/oauth2/token', { grant_type: 'client_credentials' }, { authorization: `Basic ${btoa(`${machineId}:secret`)}` })
    assert.equal(basic.status, 401)
    assert.equal(((await basic.json()) as { error: string }).error, 'invalid_client')
  })

  it('introspection and revocation auth methods and algs', async () => {
    check('introspection_endpoint_auth_methods_supported', 'introspection_endpoint_auth_signing_alg_values_supported')
    check('revocation_endpoint_auth_methods_supported', 'revocation_endpoint_auth_signing_alg_values_supported')
    assert.deepEqual(meta.introspection_endpoint_auth_methods_supported, ['private_key_jwt'])
    assert.deepEqual([...meta.revocation_endpoint_auth_methods_supported].sort(), ['none', 'private_key_jwt'])
    for (const alg of meta.introspection_endpoint_auth_signing_alg_values_supported) {
      const res = await form(local(meta.introspection_endpoint), { token: 'x', client_assertion_type: JWT_BEARER, client_assertion: await assertion(alg, meta.introspection_endpoint) })
      assert.deepEqual(await res.json(), { active: false }, alg)
    }
    assert.equal((await form(local(meta.introspection_endpoint), { token: 'x', client_id: publicId })).status, 401, 'none is not accepted for introspection')
    for (const alg of meta.revocation_endpoint_auth_signing_alg_values_supported) {
      const res = await form(local(meta.revocation_endpoint), { token: 'x', client_assertion_type: JWT_BEARER, client_assertion: await assertion(alg) })
      assert.equal(res.status, 200, alg)
    }
    assert.equal((await form(local(meta.revocation_endpoint), { token: 'x', client_id: publicId })).status, 200)
  })

  it('response_types_supported [code], response_modes_supported [query], code_challenge_methods_supported [S256]', async () => {
    check('response_types_supported', 'response_modes_supported', 'code_challenge_methods_supported')
    assert.deepEqual(meta.response_types_supported, ['code'])
    assert.deepEqual(meta.response_modes_supported, ['query'])
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256'])
    assert.equal((await authorize({ response_mode: 'query' })).status, 200)
    for (const t of ['token', 'id_token', 'code id_token'])
      assert.equal((await redirectError(await authorize({ response_type: t }))).get('error'), 'unsupported_response_type', t)
    assert.equal((await redirectError(await authorize({ response_mode: 'fragment' }))).get('error'), 'invalid_request')
    assert.equal((await redirectError(await authorize({ code_challenge_method: 'plain' }))).get('error'), 'invalid_request')
  })

  it('scopes, prompt values, request objects, RFC 9207 iss', async () => {
    check('scopes_supported', 'prompt_values_supported', 'request_parameter_supported', 'request_uri_parameter_supported')
    check('claims_parameter_supported', 'authorization_response_iss_parameter_supported')
    for (const scope of meta.scopes_supported) assert.equal((await authorize({ scope })).status, 200, scope)
    for (const prompt of meta.prompt_values_supported) {
      const res = await authorize({ prompt })
      if (prompt === 'none') assert.equal((await redirectError(res)).get('error'), 'login_required')
      else assert.equal(res.status, 200, prompt)
    }
    assert.equal(meta.request_parameter_supported, false)
    assert.equal((await redirectError(await authorize({ request: 'eyJ...' }))).get('error'), 'request_not_supported')
    assert.equal(meta.request_uri_parameter_supported, false)
    assert.equal((await redirectError(await authorize({ request_uri: 'urn:x' }))).get('error'), 'request_uri_not_supported')
    assert.equal(meta.claims_parameter_supported, false)
    assert.equal(meta.authorization_response_iss_parameter_supported, true)
    assert.equal((await redirectError(await authorize({ response_type: 'token' }))).get('iss'), config.issuer)
  })

  it('ID token: signing algs are the JWKS keys\' algs; claims, subject types and acr values are the documented ones', async () => {
    check('id_token_signing_alg_values_supported', 'claims_supported', 'subject_types_supported', 'acr_values_supported')
    const jwks = (await (await app.request(local(meta.jwks_uri))).json()) as { keys: { alg: string }[] }
    for (const k of jwks.keys) assert.ok(meta.id_token_signing_alg_values_supported.includes(k.alg))
    assert.deepEqual(meta.claims_supported, [...ID_TOKEN_CLAIMS]) // test/http/oauth.test.ts checks a real ID token against it
    assert.deepEqual(meta.subject_types_supported, ['public'])
    assert.deepEqual(meta.acr_values_supported, ['phr', 'phrh'])
  })

  it('OpenID CIBA §4 (poll mode) and RFC 9396 §10: what bc-authorize takes', async () => {
    check(
      'backchannel_authentication_endpoint',
      'backchannel_token_delivery_modes_supported',
      'backchannel_user_code_parameter_supported',
      'backchannel_authentication_request_signing_alg_values_supported',
      'authorization_details_types_supported',
    )
    assert.ok(meta.grant_types_supported.includes('urn:openid:params:grant-type:ciba'))
    assert.deepEqual(meta.backchannel_token_delivery_modes_supported, ['poll'])
    assert.equal(meta.backchannel_user_code_parameter_supported, false)
    assert.equal(meta.backchannel_authentication_request_signing_alg_values_supported, undefined, 'omitted: signed requests are not supported (CIBA Core §4)')
    assert.deepEqual(meta.authorization_details_types_supported, ['api_request'])
    const agentId = 'agentAAAAAAAAAAAAAAAAA'
    await store.createClient(
      { id: agentId, name: 'agent', kind: 'confidential', agent: true, jwks: { keys: [{ ...KEYS.ES256!.publicKey.export({ format: 'jwk' }), kid: 'ES256', alg: 'ES256' }] }, redirectUris: [], createdAt: Date.now() },
      { id: agentId, username: '', displayName: 'agent', roles: [], createdAt: Date.now() },
    )
    const ask = async (extra: Record<string, string>) => {
      const jwt = await new SignJWT({ jti: randomBytes(12).toString('hex') }).setProtectedHeader({ alg: 'ES256', kid: 'ES256' }).setIssuer(agentId).setSubject(agentId).setAudience(config.issuer).setIssuedAt().setExpirationTime('1m').sign(KEYS.ES256!.privateKey)
      const res = await form(local(meta.backchannel_authentication_endpoint), { client_assertion_type: JWT_BEARER, client_assertion: jwt, login_hint: 'nobody', scope: 'openid', binding_message: 'hi', ...extra })
      return (await res.json()) as { error: string }
    }
    // A signed request object, a user code or another delivery mode are refused; only api_request details are understood.
    assert.equal((await ask({ client_notification_token: 'x' })).error, 'invalid_request')
    assert.equal((await ask({ id_token_hint: 'x' })).error, 'invalid_request')
    assert.equal((await ask({ authorization_details: '[{"type":"payment_initiation"}]' })).error, 'invalid_authorization_details')
    assert.equal((await ask({ authorization_details: '[{"type":"api_request","method":"GET","path":"/x"}]' })).error, 'unknown_user_id')
  })

  it('RFC 9449 §5.1: DPoP proof algorithms, asymmetric only, the ones the proof checks accept', () => {
    check('dpop_signing_alg_values_supported')
    assert.deepEqual(meta.dpop_signing_alg_values_supported, [...DPOP_ALGS])
    for (const alg of meta.dpop_signing_alg_values_supported) assert.doesNotMatch(alg, /^(none|HS)/i)
  })

  it('every metadata member has a check above', () => {
    const unchecked = Object.keys(meta).filter((k) => !checked.has(k))
    assert.deepEqual(unchecked, [], `add checks for: ${unchecked.join(', ')}`)
  })
})
