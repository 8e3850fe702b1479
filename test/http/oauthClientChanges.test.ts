/**
 * Listing, changing and deleting OAuth clients over HTTP against a real Azurite (CONTRACT v2
 * "Users and clients": GET /api/manage/clients, PATCH and DELETE /api/manage/clients/{clientId}):
 * each field of a PATCH where it takes effect (authorizer, /authorize, private_key_jwt, scopes),
 * the refusals, and a deletion's reach: client_credentials, refresh, introspection, the authorizer
 * (at once here, within AUTHZ_CACHE_TTL on another instance), and the audit log.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { odata, TableClient } from '@azure/data-tables'
import { Authorizer } from '../../shared/authz/decide.js'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, form, post, signUp } from '../helpers/client.js'
import { keyPair } from '../helpers/keys.js'
import { startService, type TestService } from '../helpers/service.js'
import { JWT_BEARER, adminToken, clientAssertion, hostedSignIn, openAuthorize, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
let admin: string
let bob: { access: string; id: string }
const bobKey = new SoftAuthenticator()
const k1 = keyPair('ec', { namedCurve: 'P-256' })
const k2 = keyPair('ec', { namedCurve: 'P-256' })
const jwk1 = { ...k1.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
const jwk2 = { ...k2.publicKey.export({ format: 'jwk' }), kid: 'k2', alg: 'ES256' }
const CB = 'https://app.example/cb'

const patch = (id: string, body: unknown, token = admin) => call(svc.url, 'PATCH', `/api/manage/clients/${id}`, body, bearer(token))
const get = (path: string, token = admin) => call(svc.url, 'GET', path, undefined, bearer(token))
const check = (token: string, method: string, path: string) => post(svc.url, '/api/authz/check', { method, path }, bearer(token))
const credentials = async (clientId: string, key = k1.privateKey, kid = 'k1', extra: Record<string, string> = {}) =>
  form(svc.url, '/api/oauth2/token', {
    grant_type: 'client_credentials',
    client_assertion_type: JWT_BEARER,
    client_assertion: await clientAssertion({ clientId, key, kid, aud: svc.config.issuer }),
    ...extra,
  })
const machineClient = async (body: Record<string, unknown> = {}) =>
  (await registerClient(svc.url, admin, { name: 'job', jwks: { keys: [jwk1] }, roles: ['reader'], ...body })).client_id
const authorizeUrl = (clientId: string, redirectUri = CB) => {
  const verifier = randomBytes(32).toString('base64url')
  const q = new URLSearchParams({
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    scope: 'openid',
  })
  return { url: `${svc.url}/api/oauth2/authorize?${q}`, verifier }
}

/** A resource server allowed to introspect every token. */
let inspector: string
const introspect = async (token: string) =>
  form(svc.url, '/api/oauth2/introspect', {
    token,
    client_assertion_type: JWT_BEARER,
    client_assertion: await clientAssertion({ clientId: inspector, key: k1.privateKey, kid: 'k1', aud: svc.config.issuer }),
  })

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, port: await freePort(), env: { BOOTSTRAP_ADMINS: 'root-admin', SCOPES: 'orders.read,orders.write' } })
  admin = await adminToken(svc.url, new SoftAuthenticator(), 'root-admin')
  const up = await signUp(svc.url, bobKey, 'bob')
  bob = { access: up.tokens.access_token, id: up.user.id }
  for (const [role, permissions] of Object.entries({
    reader: [{ methods: ['GET'], path: '/orders/*' }],
    writer: [{ methods: ['POST'], path: '/orders' }],
    introspect: [],
  }))
    assert.equal((await call(svc.url, 'PUT', `/api/manage/roles/${role}`, { permissions }, bearer(admin))).status, 200)
  assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${bob.id}/roles/reader`, undefined, bearer(admin))).status, 200)
  inspector = await machineClient({ name: 'resource server', roles: ['introspect'] })
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('GET /api/manage/clients', () => {
  it('lists every client as GET of one shows it, oldest first, without secrets or private members', async () => {
    const machine = await machineClient({ name: 'lister', scopes: ['orders.read'] })
    const spa = (await registerClient(svc.url, admin, { name: 'spa', redirect_uris: [CB] })).client_id
    const r = await get('/api/manage/clients')
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('cache-control'), 'no-store')
    assert.equal(r.body.next, undefined)
    const ids = r.body.clients.map((c: { client_id: string }) => c.client_id)
    assert.ok(ids.indexOf(inspector) < ids.indexOf(machine) && ids.indexOf(machine) < ids.indexOf(spa), 'oldest first')
    const times = r.body.clients.map((c: { createdAt: string }) => c.createdAt)
    assert.deepEqual(times, [...times].sort())
    for (const id of [machine, spa]) assert.deepEqual(r.body.clients.find((c: { client_id: string }) => c.client_id === id), (await get(`/api/manage/clients/${id}`)).body)
    for (const c of r.body.clients) {
      assert.equal(c.client_secret, undefined)
      assert.equal(c.etag, undefined)
      for (const key of c.jwks?.keys ?? []) for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(key[m], undefined)
    }
    assert.equal((await get('/api/manage/clients?cursor=nonsense')).status, 400)
    // Clients registered before the list existed (no pointer, no marker) are listed all the same.
    const table = TableClient.fromConnectionString(azurite.connectionString, `${svc.config.tablePrefix}roles`, { allowInsecureConnection: true })
    let dropped = 0
    for await (const row of table.listEntities({ queryOptions: { filter: odata`PartitionKey eq 'clients'` } })) {
      await table.deleteEntity(row.partitionKey!, row.rowKey!)
      dropped++
    }
    assert.equal(dropped, ids.length + 1, 'a pointer per client and the marker')
    const again = (await get('/api/manage/clients')).body.clients.map((c: { client_id: string }) => c.client_id)
    assert.deepEqual(again, ids)
    assert.equal((await get('/api/manage/clients', bob.access)).status, 403)
  })
})

describe('PATCH /api/manage/clients/{clientId}', () => {
  it('roles: the authorizer decides with the new roles at once', async () => {
    const id = await machineClient()
    const token = (await credentials(id)).body.access_token
    assert.equal((await check(token, 'GET', '/orders/1')).body.allow, true)
    assert.equal((await check(token, 'POST', '/orders')).body.status, 403)
    const r = await patch(id, { roles: ['writer'] })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(r.body.roles, ['writer'])
    assert.deepEqual(r.body, (await get(`/api/manage/clients/${id}`)).body)
    assert.equal((await check(token, 'POST', '/orders')).body.allow, true)
    assert.equal((await check(token, 'GET', '/orders/1')).body.status, 403)
  })

  it('name and scopes: shown, and client_credentials grants the new scopes only', async () => {
    const id = await machineClient({ scopes: ['orders.read'] })
    const r = await patch(id, { name: 'renamed job', scopes: ['orders.write'] })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.name, 'renamed job')
    assert.deepEqual(r.body.scopes, ['orders.write'])
    assert.equal((await credentials(id, k1.privateKey, 'k1', { scope: 'orders.write' })).status, 200)
    assert.equal((await credentials(id, k1.privateKey, 'k1', { scope: 'orders.read' })).body.error, 'invalid_scope')
  })

  it('jwks: an assertion signed by the old key is refused, one by the new key accepted', async () => {
    const id = await machineClient()
    assert.equal((await credentials(id)).status, 200)
    const r = await patch(id, { jwks: { keys: [jwk2] } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(r.body.jwks.keys.map((k: { kid: string }) => k.kid), ['k2'])
    const old = await credentials(id)
    assert.equal(old.status, 401)
    assert.equal(old.body.error, 'invalid_client')
    assert.equal((await credentials(id, k2.privateKey, 'k2')).status, 200)
  })

  it('redirect_uris: the old URI is refused at /authorize, the new one accepted', async () => {
    const id = (await registerClient(svc.url, admin, { name: 'app', redirect_uris: [CB] })).client_id
    assert.equal((await openAuthorize(authorizeUrl(id).url)).status, 200)
    const r = await patch(id, { redirect_uris: ['https://app.example/new'] })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(r.body.redirect_uris, ['https://app.example/new'])
    assert.equal((await openAuthorize(authorizeUrl(id).url)).status, 400)
    assert.equal((await openAuthorize(authorizeUrl(id, 'https://app.example/new').url)).status, 200)
  })

  it('refusals: kind change, unknown field, jwks with jwks_uri, bad values, undefined role, unknown client, non-admin', async () => {
    const machine = await machineClient()
    const spa = (await registerClient(svc.url, admin, { name: 'spa', redirect_uris: [CB] })).client_id
    const cases: [string, Record<string, unknown>, number, RegExp][] = [
      [spa, { jwks: { keys: [jwk1] } }, 400, /public client cannot get jwks/],
      [spa, { jwks_uri: 'https://keys.example/jwks' }, 400, /public client cannot get jwks/],
      [machine, { redirect_uris: [CB] }, 400, /confidential client cannot get redirect_uris/],
      [machine, { name: 'x', client_secret: 'hunter2' }, 400, /Unknown fields: client_secret/],
      [machine, { jwks: { keys: [jwk2] }, jwks_uri: 'https://keys.example/jwks' }, 400, /not both/],
      [machine, { jwks: { keys: [k1.privateKey.export({ format: 'jwk' })] } }, 400, /private member "d"/],
      [spa, { redirect_uris: ['http://app.example/cb'] }, 400, /https/],
      [machine, { scopes: ['payroll.admin'] }, 400, /not grantable/],
      [machine, {}, 400, /Nothing to change/],
      [machine, { roles: ['nosuchrole'] }, 404, /No role nosuchrole/],
    ]
    for (const [id, body, status, detail] of cases) {
      const r = await patch(id, body)
      assert.equal(r.status, status, JSON.stringify(body))
      assert.match(r.body.detail, detail, JSON.stringify(body))
    }
    // Nothing of the refused changes was applied.
    const still = (await get(`/api/manage/clients/${machine}`)).body
    assert.deepEqual([still.name, still.roles, still.jwks.keys[0].kid], ['job', ['reader'], 'k1'])
    assert.equal((await patch('AAAAAAAAAAAAAAAAAAAAAA', { name: 'x' })).status, 404)
    assert.equal((await patch(machine, { name: 'x' }, bob.access)).status, 403)
  })
})

describe('DELETE /api/manage/clients/{clientId}', () => {
  it('a machine client: client_credentials invalid_client, its token inactive and refused by the authorizer, GET 404', async () => {
    const id = await machineClient()
    const token = (await credentials(id)).body.access_token
    assert.equal((await check(token, 'GET', '/orders/1')).body.allow, true)
    assert.equal((await introspect(token)).body.active, true)
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/clients/${id}`, undefined, bearer(bob.access))).status, 403)
    const d = await call(svc.url, 'DELETE', `/api/manage/clients/${id}`, undefined, bearer(admin))
    assert.equal(d.status, 204)
    const refused = await credentials(id)
    assert.equal(refused.status, 401)
    assert.equal(refused.body.error, 'invalid_client')
    assert.deepEqual((await introspect(token)).body, { active: false })
    assert.equal((await check(token, 'GET', '/orders/1')).body.status, 401)
    assert.equal((await get(`/api/manage/clients/${id}`)).status, 404)
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/clients/${id}`, undefined, bearer(admin))).status, 404)
    const listed = (await get('/api/manage/clients')).body.clients.map((c: { client_id: string }) => c.client_id)
    assert.ok(!listed.includes(id))
  })

  it('a public client: the refresh token it holds stops, its access token is inactive and refused by the authorizer, and its session is no longer listed as live', async () => {
    const id = (await registerClient(svc.url, admin, { name: 'app', redirect_uris: [CB] })).client_id
    const listed = async () => ((await call(svc.url, 'GET', '/api/me/sessions', undefined, bearer(bob.access))).body as { clientId: string }[]).map((s) => s.clientId)
    const { url, verifier } = authorizeUrl(id)
    const code = (await hostedSignIn(svc.url, url, bobKey)).searchParams.get('code')!
    const t = await form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: CB, client_id: id })
    assert.equal(t.status, 200, JSON.stringify(t.body))
    const { access_token: access, refresh_token: refresh } = t.body
    assert.equal((await check(access, 'GET', '/orders/1')).body.allow, true)
    assert.equal((await introspect(access)).body.active, true)
    assert.ok((await listed()).includes(id), 'the session of the app is listed while the app exists')
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/clients/${id}`, undefined, bearer(admin))).status, 204)
    assert.ok(!(await listed()).includes(id), "a deleted app's session is not listed as live")
    // With the deleted client's id the client is unknown (RFC 6749 §5.2); without it the token
    // belongs to another client. Either way the refresh token is dead.
    const withId = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: refresh, client_id: id })
    assert.equal(withId.body.error, 'invalid_client')
    const without = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: refresh })
    assert.equal(without.body.error, 'invalid_grant')
    assert.deepEqual((await introspect(access)).body, { active: false })
    assert.deepEqual((await introspect(refresh)).body, { active: false })
    const decision = await check(access, 'GET', '/orders/1')
    assert.equal(decision.body.status, 401)
    // Bob's own first-party session is untouched.
    assert.equal((await check(bob.access, 'GET', '/orders/1')).body.allow, true)
  })

  it('another instance: the authorizer refuses a deleted client\'s tokens within AUTHZ_CACHE_TTL', async () => {
    const id = (await registerClient(svc.url, admin, { name: 'app', redirect_uris: [CB] })).client_id
    const { url, verifier } = authorizeUrl(id)
    const code = (await hostedSignIn(svc.url, url, bobKey)).searchParams.get('code')!
    const access = (await form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: CB, client_id: id })).body.access_token
    const clock = new ManualClock(Date.now())
    const other = new Authorizer({ config: svc.config, store: svc.store, clock, accessTokens: svc.core.tokens })
    const req = { method: 'GET', path: '/orders/1' }
    assert.equal((await other.decide(access, req)).allow, true)
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/clients/${id}`, undefined, bearer(admin))).status, 204)
    // Until its cache expires, the other instance still knows the client as registered.
    assert.equal((await other.decide(access, req)).allow, true)
    clock.advance(svc.config.authzCacheTtl * 1000 + 1000)
    const d = await other.decide(access, req)
    assert.equal(d.status, 401)
    assert.equal(d.reason, 'client no longer registered')
  })
})

describe('audit: client.changed and client.deleted', () => {
  it('names the changed fields, never key material', async () => {
    const id = await machineClient()
    assert.equal((await patch(id, { jwks: { keys: [jwk2] }, roles: ['writer'], name: 'job' })).status, 200)
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/clients/${id}`, undefined, bearer(admin))).status, 204)
    const events = (await get('/api/manage/audit?limit=1000')).body.filter((e: { target: { clientId?: string } }) => e.target.clientId === id)
    const changed = events.find((e: { type: string }) => e.type === 'client.changed')
    assert.ok(changed, 'client.changed')
    // name was given unchanged: not a change.
    assert.deepEqual(changed.detail.changed, ['jwks', 'roles'])
    assert.deepEqual(changed.detail.roles, ['writer'])
    assert.doesNotMatch(JSON.stringify(changed), new RegExp(jwk2.x as string))
    assert.equal(changed.actor.userId !== undefined || changed.actor.username !== undefined, true)
    const deleted = events.find((e: { type: string }) => e.type === 'client.deleted')
    assert.ok(deleted, 'client.deleted')
    assert.equal(deleted.detail.name, 'job')
  })
})

describe('introspection of a disabled account (defence in depth)', () => {
  it("a disabled account's access token is inactive even while its session row is still live", async () => {
    assert.equal((await introspect(bob.access)).body.active, true)
    // The flag without the revocation (as if that had failed midway): introspection refuses all the same.
    const user = (await svc.store.getUser(bob.id))!
    await svc.store.updateUser({ ...user, disabledAt: Date.now() })
    try {
      assert.deepEqual((await introspect(bob.access)).body, { active: false })
    } finally {
      const { disabledAt: _, ...enabled } = (await svc.store.getUser(bob.id))!
      await svc.store.updateUser(enabled)
    }
    assert.equal((await introspect(bob.access)).body.active, true)
  })
})
