/**
 * Machine clients end to end over HTTP against a real Azurite: registration (CONTRACT
 * "Administration": POST /api/manage/clients), client_credentials with private_key_jwt (RFC 7523
 * §3, OIDC Core §9), the authorizer treating a client like a user, introspection (RFC 7662) and
 * revocation (RFC 7009) with client authentication, a jwks_uri client, and openid-client's
 * PrivateKeyJwt against all of it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { keyPair } from '../helpers/keys.js'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { importJWK } from 'jose'
import * as oidc from 'openid-client'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, post, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { JWT_BEARER, adminToken, clientAssertion, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
let admin: string
let alice: { access: string; refresh: string; id: string }
let machine: string
let tokenEndpoint: string
const keys = keyPair('ec', { namedCurve: 'P-256' })
const jwk = { ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }

const put = (path: string, body: unknown) => call(svc.url, 'PUT', path, body, bearer(admin))
const check = (token: string, method: string, path: string) => post(svc.url, '/api/authz/check', { method, path }, bearer(token))
const assertionFor = (extra: Partial<Parameters<typeof clientAssertion>[0]> = {}) =>
  clientAssertion({ clientId: machine, key: keys.privateKey, kid: 'k1', aud: svc.config.issuer, ...extra })
const credentials = async (assertion: string, extra: Record<string, string> = {}) =>
  form(svc.url, '/api/oauth2/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion, ...extra })

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, port: await freePort(), env: { BOOTSTRAP_ADMINS: 'root-admin', SCOPES: 'orders.read,orders.write' } })
  tokenEndpoint = `${svc.config.issuer}/oauth2/token`
  admin = await adminToken(svc.url, new SoftAuthenticator(), 'root-admin')
  const a = await signUp(svc.url, new SoftAuthenticator(), 'alice')
  alice = { access: a.tokens.access_token, refresh: a.tokens.refresh_token, id: a.user.id }
  assert.equal((await put('/api/manage/roles/reader', { permissions: [{ methods: ['GET'], path: '/orders/*' }] })).status, 200)
  assert.equal((await put('/api/manage/roles/writer', { permissions: [{ methods: ['POST'], path: '/orders' }] })).status, 200)
  assert.equal((await put('/api/manage/roles/introspect', { permissions: [] })).status, 200)
  machine = (await registerClient(svc.url, admin, { name: 'billing job', jwks: { keys: [jwk] }, roles: ['reader'], scopes: ['orders.read'] })).client_id
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('POST /api/manage/clients', () => {
  it('registers a machine client: public keys, roles, private_key_jwt; GET reads it back', async () => {
    const r = await post(svc.url, '/api/manage/clients', { name: 'exporter', jwks: { keys: [jwk] }, roles: ['reader'] }, bearer(admin))
    assert.equal(r.status, 201)
    assert.match(r.body.client_id, /^[A-Za-z0-9_-]{22}$/)
    assert.equal(r.body.token_endpoint_auth_method, 'private_key_jwt')
    assert.deepEqual(r.body.grant_types, ['client_credentials'])
    assert.deepEqual(r.body.roles, ['reader'])
    assert.equal(r.body.jwks.keys[0].d, undefined)
    assert.equal(r.body.client_secret, undefined)
    assert.equal(r.headers.get('cache-control'), 'no-store')
    const g = await call(svc.url, 'GET', `/api/manage/clients/${r.body.client_id}`, undefined, bearer(admin))
    assert.deepEqual(g.body, r.body)
  })

  it('registers a public client for the code flow: none, redirect URIs', async () => {
    const r = await post(svc.url, '/api/manage/clients', { name: 'spa', redirect_uris: ['https://spa.example/cb'] }, bearer(admin))
    assert.equal(r.status, 201)
    assert.equal(r.body.token_endpoint_auth_method, 'none')
    assert.deepEqual(r.body.grant_types, ['authorization_code', 'refresh_token'])
    assert.deepEqual(r.body.redirect_uris, ['https://spa.example/cb'])
  })

  it('admins only; private keys, secrets, bad redirect URIs and undefined roles are refused', async () => {
    assert.equal((await post(svc.url, '/api/manage/clients', { name: 'x', redirect_uris: ['https://a.example/cb'] })).status, 401)
    const notAdmin = await post(svc.url, '/api/manage/clients', { name: 'x', redirect_uris: ['https://a.example/cb'] }, bearer(alice.access))
    assert.equal(notAdmin.status, 403)
    assert.equal(notAdmin.body.code, 'forbidden')
    const bad: [Record<string, unknown>, number, RegExp][] = [
      [{ name: 'x', jwks: { keys: [keys.privateKey.export({ format: 'jwk' })] } }, 400, /private member "d"/],
      [{ name: 'x', redirect_uris: ['https://a.example/cb'], client_secret: 'hunter2' }, 400, /client_secret/],
      [{ name: 'x', redirect_uris: ['http://a.example/cb'] }, 400, /https/],
      [{ name: 'x', redirect_uris: ['https://a.example/cb#frag'] }, 400, /fragment/],
      [{ name: 'x', jwks_uri: 'http://keys.example/jwks' }, 400, /https/],
      [{ name: 'x', jwks: { keys: [jwk] }, roles: ['nosuchrole'] }, 404, /No role nosuchrole/],
    ]
    for (const [body, status, detail] of bad) {
      const r = await post(svc.url, '/api/manage/clients', body, bearer(admin))
      assert.equal(r.status, status, JSON.stringify(body))
      assert.match(r.body.detail, detail)
    }
  })
})

describe('client_credentials with private_key_jwt (RFC 7523 §3, RFC 6749 §4.4)', () => {
  it('a valid assertion → a token whose sub and client_id are the client; no refresh or ID token', async () => {
    const r = await credentials(await assertionFor())
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.token_type, 'Bearer')
    assert.equal(r.body.expires_in, 600)
    assert.equal(r.body.refresh_token, undefined)
    assert.equal(r.body.id_token, undefined)
    assert.equal(r.headers.get('cache-control'), 'no-store')
    const { header, payload } = decodeJwt(r.body.access_token)
    assert.equal(header.typ, 'at+jwt')
    assert.equal(payload.sub, machine)
    assert.equal(payload.client_id, machine)
    assert.equal(payload.aud, 'api://default')
    assert.deepEqual(payload.roles, ['reader'])
    assert.ok(payload.sid && payload.jti)
    for (const k of ['auth_time', 'amr', 'acr']) assert.equal(payload[k], undefined, `no ${k}: no end-user authenticated`)
    // The token endpoint URL is an accepted audience too; scope is carried.
    const scoped = await credentials(await assertionFor({ aud: tokenEndpoint }), { scope: 'orders.read' })
    assert.equal(scoped.status, 200)
    assert.equal(decodeJwt(scoped.body.access_token).payload.scope, 'orders.read')
    // CONTRACT v2: scopes are granted, not echoed. One in SCOPES but not registered for this
    // client, and one in neither, are refused (RFC 6749 §5.2 invalid_scope).
    for (const scope of ['orders.write', 'payroll.admin', 'admin', 'orders.read admin']) {
      const refused = await credentials(await assertionFor(), { scope })
      assert.equal(refused.status, 400, scope)
      assert.equal(refused.body.error, 'invalid_scope', scope)
    }
    const bad = await credentials(await assertionFor(), { resource: 'api://other' })
    assert.equal(bad.body.error, 'invalid_target')
  })

  it('a machine client token cannot register a passkey or use account self-service → 403', async () => {
    const r = await credentials(await assertionFor())
    const token = r.body.access_token
    const reg = await post(svc.url, '/api/webauthn/registration/options', {}, bearer(token))
    assert.equal(reg.status, 403)
    assert.equal(reg.body.code, 'forbidden')
    const verify = await post(svc.url, '/api/webauthn/registration/verify', { credential: {} }, bearer(token))
    assert.equal(verify.status, 403)
    for (const path of ['/api/me', '/api/me/credentials']) {
      const me = await call(svc.url, 'GET', path, undefined, bearer(token))
      assert.equal(me.status, 403, path)
    }
  })

  it('the authorizer allows per the client\'s live roles (granted via PUT /api/manage/users/{clientId}/roles/{role})', async () => {
    const token = (await credentials(await assertionFor())).body.access_token
    const read = await check(token, 'GET', '/orders/42')
    assert.equal(read.body.allow, true)
    assert.equal(read.body.sub, machine)
    assert.deepEqual(read.body.roles, ['reader'])
    assert.equal((await check(token, 'POST', '/orders')).body.status, 403)
    const granted = await put(`/api/manage/users/${machine}/roles/writer`, undefined)
    assert.equal(granted.status, 200)
    assert.deepEqual(granted.body.roles, ['reader', 'writer'])
    assert.equal((await check(token, 'POST', '/orders')).body.allow, true)
    await call(svc.url, 'DELETE', `/api/manage/users/${machine}/roles/writer`, undefined, bearer(admin))
    assert.equal((await check(token, 'POST', '/orders')).body.status, 403)
  })

  it('forged, expired, too long-lived, replayed, wrong audience, alg none/HS256 → 401 invalid_client', async () => {
    const other = keyPair('ec', { namedCurve: 'P-256' })
    const replayed = await assertionFor()
    assert.equal((await credentials(replayed)).status, 200)
    const now = Math.floor(Date.now() / 1000)
    const unsigned = (claims: object, alg: string) =>
      `${Buffer.from(JSON.stringify({ alg, kid: 'k1' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${alg === 'none' ? '' : 'c2lnbmF0dXJl'}`
    const base = { iss: machine, sub: machine, aud: svc.config.issuer, exp: now + 60, jti: randomBytes(8).toString('hex') }
    const cases: Record<string, string> = {
      forged: await assertionFor({ key: other.privateKey }),
      expired: await assertionFor({ claims: { exp: now - 120, iat: now - 180 } }),
      'exp too far ahead': await assertionFor({ expiresIn: 600 }),
      'no exp': await assertionFor({ claims: { exp: undefined } }),
      'no jti': await assertionFor({ claims: { jti: undefined } }),
      replayed,
      'wrong audience': await assertionFor({ aud: 'https://evil.example/token' }),
      'iss is not sub': await assertionFor({ claims: { iss: 'someone-else' } }),
      'unknown client': await clientAssertion({ clientId: 'AAAAAAAAAAAAAAAAAAAAAA', key: keys.privateKey, kid: 'k1', aud: svc.config.issuer }),
      'alg none': unsigned(base, 'none'),
      'alg HS256': unsigned(base, 'HS256'),
      'not a JWT': 'garbage',
    }
    for (const [name, assertion] of Object.entries(cases)) {
      const r = await credentials(assertion)
      assert.equal(r.status, 401, `${name}: ${JSON.stringify(r.body)}`)
      assert.equal(r.body.error, 'invalid_client', name)
      assert.ok(r.headers.get('www-authenticate'), name)
    }
    // The same jti in a fresh, validly signed assertion is a replay too.
    const jti = 'fixed-jti-' + randomBytes(4).toString('hex')
    assert.equal((await credentials(await assertionFor({ claims: { jti } }))).status, 200)
    assert.equal((await credentials(await assertionFor({ claims: { jti } }))).body.error, 'invalid_client')
  })

  it('CONTRACT v2 client assertions: aud is one value, the issuer or the endpoint called (a list of audiences is refused)', async () => {
    const issuer = svc.config.issuer
    const refused: Record<string, string | string[]> = {
      'issuer and another server': [issuer, 'https://other-as.example'],
      'another server first': ['https://other-as.example', issuer],
      'issuer twice': [issuer, issuer],
      'empty list': [],
      'another endpoint of ours (introspection, at the token endpoint)': `${issuer}/oauth2/introspect`,
    }
    for (const [name, aud] of Object.entries(refused)) {
      const r = await credentials(await assertionFor({ aud }))
      assert.equal(r.status, 401, name)
      assert.equal(r.body.error, 'invalid_client', name)
      assert.match(r.body.error_description, /aud/, name)
    }
    assert.equal((await credentials(await assertionFor({ aud: [issuer] }))).status, 200, 'an array of exactly one')
    assert.equal((await credentials(await assertionFor({ aud: `${issuer}/oauth2/token` }))).status, 200, 'the token endpoint')
    // At the introspection endpoint, "the endpoint called" is the introspection endpoint.
    const own = (await credentials(await assertionFor())).body.access_token
    const at = (aud: string) => assertionFor({ aud }).then((a) => form(svc.url, '/api/oauth2/introspect', { token: own, client_assertion_type: JWT_BEARER, client_assertion: a }))
    assert.equal((await at(`${issuer}/oauth2/introspect`)).status, 200)
    assert.equal((await at(`${issuer}/oauth2/token`)).status, 401)
  })

  it('no assertion at all, a bare client_id, a wrong assertion type, or a client secret → 401 invalid_client', async () => {
    const cases: [Record<string, string>, Record<string, string>][] = [
      [{ grant_type: 'client_credentials' }, {}],
      [{ grant_type: 'client_credentials', client_id: machine }, {}],
      [{ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer', client_assertion: 'x' }, {}],
      [{ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER }, {}],
      [{ grant_type: 'client_credentials', client_id: machine, client_secret: 's' }, {}],
      [{ grant_type: 'client_credentials' }, { authorization: `Basic ${Buffer.from(`${machine}:s`).toString('base64')}` }],
    ]
    for (const [params, headers] of cases) {
      const r = await form(svc.url, '/api/oauth2/token', params, headers)
      assert.equal(r.status, 401, JSON.stringify(params))
      assert.equal(r.body.error, 'invalid_client')
    }
    const mismatch = await credentials(await assertionFor(), { client_id: 'AAAAAAAAAAAAAAAAAAAAAA' })
    assert.equal(mismatch.body.error, 'invalid_client')
  })
})

describe('RFC 7662 introspection and RFC 7009 revocation with client authentication', () => {
  const introspect = async (token: string, auth?: Record<string, string>) =>
    form(svc.url, '/api/oauth2/introspect', { token, ...(auth ?? { client_assertion_type: JWT_BEARER, client_assertion: await assertionFor() }) })

  it('needs private_key_jwt; a client sees its own tokens, and others as inactive', async () => {
    assert.equal((await form(svc.url, '/api/oauth2/introspect', { token: alice.access })).status, 401)
    const bearerOnly = await form(svc.url, '/api/oauth2/introspect', { token: alice.access }, bearer(alice.access))
    assert.equal(bearerOnly.status, 401)
    assert.equal(bearerOnly.body.error, 'invalid_client')
    const own = (await credentials(await assertionFor())).body.access_token
    const mine = await introspect(own)
    assert.equal(mine.status, 200)
    assert.equal(mine.body.active, true)
    assert.equal(mine.body.client_id, machine)
    assert.equal(mine.body.sub, machine)
    assert.equal(mine.body.token_type, 'Bearer')
    assert.deepEqual((await introspect(alice.access)).body, { active: false })
    assert.deepEqual((await introspect(alice.refresh)).body, { active: false })
    assert.deepEqual((await introspect('garbage')).body, { active: false })
  })

  it('a client with role introspect sees every token, access and refresh', async () => {
    const other = (await registerClient(svc.url, admin, { name: 'resource server', jwks: { keys: [jwk] }, roles: ['introspect'] })).client_id
    const auth = async () => ({ client_assertion_type: JWT_BEARER, client_assertion: await assertionFor({ clientId: other }) })
    const at = await introspect(alice.access, await auth())
    assert.equal(at.body.active, true)
    assert.equal(at.body.sub, alice.id)
    assert.equal(at.body.client_id, 'passkey-web')
    const rt = await introspect(alice.refresh, await auth())
    assert.equal(rt.body.active, true)
    assert.equal(rt.body.token_type, 'refresh_token')
    assert.equal(rt.body.sub, alice.id)
  })

  it('a machine client revokes its own access token: the authorizer then answers 401', async () => {
    const token = (await credentials(await assertionFor())).body.access_token
    assert.equal((await check(token, 'GET', '/orders/1')).body.allow, true)
    const foreign = await form(svc.url, '/api/oauth2/revoke', { token: alice.access, client_assertion_type: JWT_BEARER, client_assertion: await assertionFor() })
    assert.equal(foreign.status, 400, 'not issued to this client')
    const unauthenticated = await form(svc.url, '/api/oauth2/revoke', { token, client_id: machine })
    assert.equal(unauthenticated.status, 401, 'a confidential client must authenticate')
    const r = await form(svc.url, '/api/oauth2/revoke', { token, client_assertion_type: JWT_BEARER, client_assertion: await assertionFor() })
    assert.equal(r.status, 200)
    const denied = await check(token, 'GET', '/orders/1')
    assert.equal(denied.body.status, 401)
    assert.deepEqual((await introspect(token)).body, { active: false })
  })
})

describe('A jwks_uri client', () => {
  let server: Server
  let jwksUrl: string
  const remote = keyPair('rsa', { modulusLength: 2048 })
  before(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/jwks.json' ? 200 : 404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ keys: [{ ...remote.publicKey.export({ format: 'jwk' }), kid: 'r1', use: 'sig' }] }))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
  })
  after(() => new Promise<void>((r) => server.close(() => r())))

  it('authenticates with keys fetched from jwks_uri (RS256 and PS256)', async () => {
    const id = (await registerClient(svc.url, admin, { name: 'remote keys', jwks_uri: jwksUrl })).client_id
    for (const alg of ['RS256', 'PS256']) {
      const a = await clientAssertion({ clientId: id, key: remote.privateKey, alg, kid: 'r1', aud: svc.config.issuer })
      const r = await form(svc.url, '/api/oauth2/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: a })
      assert.equal(r.status, 200, `${alg}: ${JSON.stringify(r.body)}`)
      assert.equal(decodeJwt(r.body.access_token).payload.sub, id)
    }
    const wrongKey = await clientAssertion({ clientId: id, key: keys.privateKey, alg: 'ES256', kid: 'r1', aud: svc.config.issuer })
    const r = await form(svc.url, '/api/oauth2/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: wrongKey })
    assert.equal(r.body.error, 'invalid_client')
  })
})

describe('openid-client PrivateKeyJwt: client_credentials, introspection, revocation', () => {
  it('works through discovery', async () => {
    const key = await importJWK(keys.privateKey.export({ format: 'jwk' }), 'ES256')
    const config = await oidc.discovery(new URL(svc.config.issuer), machine, { token_endpoint_auth_method: 'private_key_jwt' }, oidc.PrivateKeyJwt({ key: key as CryptoKey, kid: 'k1' }), {
      execute: [oidc.allowInsecureRequests],
    })
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'orders.read' })
    assert.equal(tokens.refresh_token, undefined)
    assert.equal(decodeJwt(tokens.access_token).payload.sub, machine)
    const intro = await oidc.tokenIntrospection(config, tokens.access_token)
    assert.equal(intro.active, true)
    assert.equal(intro.client_id, machine)
    await oidc.tokenRevocation(config, tokens.access_token)
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false)
  })
})
