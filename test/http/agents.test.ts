/**
 * CONTRACT v2 "Agents acting for people" over HTTP against a real Azurite: agents registered
 * with `"agent": true`; the agent asks (OpenID CIBA Core §7, poll mode), the person approves with
 * a passkey bound to that very request, or denies; the agent polls (§10–11: authorization_pending,
 * slow_down, access_denied, expired_token, the token once); the delegated token's claims (RFC 8693
 * §4.1 `act`); the authorizer's decisions (person ∩ agent ∩ live delegation, `delegation: deny`,
 * RFC 9396 approval per action used once across instances); standing delegations listed and
 * revoked; the audit trail.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { startGateway, type Gateway } from '../../local/gateway.js'
import { startEchoBackend } from '../../local/echo.js'
import { bearer, call, decodeJwt, form, post, signUp } from '../helpers/client.js'
import { keyPair } from '../helpers/keys.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'
import { registerClient } from '../oauth/helpers.js'
import { CIBA, agentKit } from '../helpers/agents.js'

let azurite: Azurite
let svc: TestService
/** A second instance on the same tables and KEK (another Functions instance). */
let other: TestService
const clock = new ManualClock(Date.now())
const adminKey = new SoftAuthenticator()
const keys = keyPair('ec', { namedCurve: 'P-256' })
const jwk = { ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
/** The assistant: agent with reader, writer (approve per action), vault (delegation deny). */
let agent: string
/** An agent without the reader role. */
let narrowAgent: string
/** A machine client that is not an agent. */
let machine: string
let gw: Gateway | undefined
let echo: { url: string; close(): Promise<void> } | undefined

const { admin, auth, ask, poll, person, signedIn, approvals, requestId, options, verify, approve, delegated, check, audit } = agentKit({
  service: () => svc,
  clock,
  key: keys.privateKey,
  kid: 'k1',
  adminKey,
  agent: () => agent,
  prefix: 'agt',
})

before(async () => {
  azurite = await startAzurite()
  const env = { BOOTSTRAP_ADMINS: 'agents-admin', SCOPES: 'orders.read,orders.write' }
  // On a port of its own: the issuer's discovery URLs point here (the dev gateway reads them).
  svc = await startService({ connectionString: azurite.connectionString, clock, env, port: await freePort() })
  other = await startService({
    connectionString: azurite.connectionString,
    clock,
    env: { ...env, ISSUER: svc.config.issuer, TABLE_PREFIX: svc.config.tablePrefix, KEY_ENCRYPTION_KEY: Buffer.from(svc.config.keyEncryptionKey!).toString('base64') },
  })
  await signUp(svc.url, adminKey, 'agents-admin')
  const token = await admin()
  const roles: Record<string, unknown[]> = {
    reader: [{ methods: ['GET'], path: '/orders/**' }],
    writer: [{ methods: ['POST'], path: '/orders', delegation: 'approve' }],
    vault: [{ methods: ['GET'], path: '/vault/**', delegation: 'deny' }],
    shipper: [{ methods: ['POST'], path: '/shipments', apiId: 'ship', delegation: 'approve' }],
  }
  for (const [role, permissions] of Object.entries(roles))
    assert.equal((await call(svc.url, 'PUT', `/api/manage/roles/${role}`, { permissions }, bearer(token))).status, 200)
  agent = (await registerClient(svc.url, token, { name: 'Assistant', jwks: { keys: [jwk] }, roles: ['reader', 'writer', 'vault', 'shipper'], scopes: ['orders.read', 'orders.write'], agent: true })).client_id
  narrowAgent = (await registerClient(svc.url, token, { name: 'Narrow', jwks: { keys: [jwk] }, roles: ['writer'], scopes: ['orders.read'], agent: true })).client_id
  machine = (await registerClient(svc.url, token, { name: 'Batch', jwks: { keys: [jwk] }, roles: ['reader'], scopes: ['orders.read'] })).client_id
})
after(async () => {
  await gw?.close()
  await echo?.close()
  await other?.close()
  await svc?.close()
  await azurite?.stop()
})

describe('Agents: clients registered with "agent": true (private_key_jwt only)', () => {
  it('the registration shows agent and the CIBA grant; an agent needs keys (400 without)', async () => {
    const r = await call(svc.url, 'GET', `/api/manage/clients/${agent}`, undefined, bearer(await admin()))
    assert.equal(r.status, 200)
    assert.equal(r.body.agent, true)
    assert.equal(r.body.token_endpoint_auth_method, 'private_key_jwt')
    assert.deepEqual(r.body.grant_types, [CIBA, 'refresh_token'])
    assert.equal(r.body.backchannel_token_delivery_mode, 'poll')
    const noKeys = await post(svc.url, '/api/manage/clients', { name: 'x', redirect_uris: ['https://a.example/cb'], agent: true }, bearer(await admin()))
    assert.equal(noKeys.status, 400)
    assert.equal(noKeys.body.code, 'invalid_request')
    const notBool = await post(svc.url, '/api/manage/clients', { name: 'x', jwks: { keys: [jwk] }, agent: 'yes' }, bearer(await admin()))
    assert.equal(notBool.status, 400)
    const pub = await registerClient(svc.url, await admin(), { name: 'spa', redirect_uris: ['https://spa.example/cb'] })
    const patched = await call(svc.url, 'PATCH', `/api/manage/clients/${pub.client_id}`, { agent: true }, bearer(await admin()))
    assert.equal(patched.status, 400, 'a public client cannot become an agent')
  })

  it('a permission\'s delegation is allow, approve or deny (else 400)', async () => {
    const r = await call(svc.url, 'PUT', '/api/manage/roles/odd', { permissions: [{ methods: ['GET'], path: '/x', delegation: 'maybe' }] }, bearer(await admin()))
    assert.equal(r.status, 400)
    assert.equal(r.body.code, 'invalid_request')
    const roles = await call(svc.url, 'GET', '/api/manage/roles', undefined, bearer(await admin()))
    assert.deepEqual(roles.body.find((x: any) => x.name === 'writer').permissions, [{ methods: ['POST'], path: '/orders', delegation: 'approve' }])
  })

  it('only agents may call bc-authorize (unauthorized_client); an agent may not use client_credentials', async () => {
    const p = await person()
    const r = await ask(p.username, {}, machine)
    assert.equal(r.status, 400)
    assert.equal(r.body.error, 'unauthorized_client')
    const cc = await form(svc.url, '/api/oauth2/token', { grant_type: 'client_credentials', ...(await auth(agent)) })
    assert.equal(cc.status, 400)
    assert.equal(cc.body.error, 'unauthorized_client')
    const noAuth = await form(svc.url, '/api/oauth2/bc-authorize', { login_hint: p.username, scope: 'openid', binding_message: 'x', client_id: agent })
    assert.equal(noAuth.status, 401)
    assert.equal(noAuth.body.error, 'invalid_client')
  })
})

describe('POST /api/oauth2/bc-authorize (CIBA §7)', () => {
  it('200 { auth_req_id, expires_in, interval }; requested_expiry is capped at 600 s', async () => {
    const p = await person()
    const r = await ask(p.username)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.headers.get('cache-control'), 'no-store')
    assert.equal(typeof r.body.auth_req_id, 'string')
    assert.equal(r.body.expires_in, 300)
    assert.equal(r.body.interval, 5)
    assert.doesNotMatch(r.body.auth_req_id, new RegExp(p.id), 'auth_req_id does not name the person')
    assert.equal((await ask(p.username, { requested_expiry: '3600' })).body.expires_in, 600)
    assert.equal((await ask(p.username, { requested_expiry: '60' })).body.expires_in, 60)
  })

  it('bad requests → RFC 6749 §5.2 JSON with the CIBA and RFC 9396 codes, never 5xx, nothing stored', async () => {
    const p = await person()
    const disabled = await person()
    assert.equal((await call(svc.url, 'PATCH', `/api/manage/users/${disabled.id}`, { disabled: true }, bearer(await admin()))).status, 200)
    const cases: [Record<string, string>, string][] = [
      [{ login_hint: 'nobody-here' }, 'unknown_user_id'],
      [{ login_hint: disabled.username }, 'unknown_user_id'],
      [{ login_hint: 'x'.repeat(300) }, 'unknown_user_id'],
      [{ login_hint: '' }, 'invalid_request'],
      [{ binding_message: '' }, 'invalid_request'],
      [{ binding_message: 'x'.repeat(101) }, 'invalid_binding_message'],
      [{ binding_message: 'line\nbreak' }, 'invalid_binding_message'],
      [{ scope: '' }, 'invalid_request'],
      [{ scope: 'openid payroll.admin' }, 'invalid_scope'],
      [{ login_hint_token: 'x' }, 'invalid_request'],
      [{ client_notification_token: 'x' }, 'invalid_request'],
      [{ requested_expiry: '-5' }, 'invalid_request'],
      [{ requested_expiry: 'soon' }, 'invalid_request'],
      [{ authorization_details: 'not json' }, 'invalid_authorization_details'],
      [{ authorization_details: '{}' }, 'invalid_authorization_details'],
      [{ authorization_details: '[{"type":"payment"}]' }, 'invalid_authorization_details'],
      [{ authorization_details: '[{"type":"api_request","method":"GET","path":"/orders/../admin"}]' }, 'invalid_authorization_details'],
      [{ authorization_details: '[{"type":"api_request","method":"GET","path":"/a","extra":1}]' }, 'invalid_authorization_details'],
    ]
    for (const [extra, error] of cases) {
      const r = await ask(p.username, extra)
      assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${JSON.stringify(r.body)}`)
      assert.equal(r.body.error, error, JSON.stringify(extra))
    }
    assert.equal((await approvals(p)).body.length, 0, 'no request was stored')
  })
})

describe('The person approves with a passkey; the agent polls (CIBA §10, §11)', () => {
  it('pending → slow_down → approved → the delegated token once; its claims (sub, client_id, act, auth_time/amr/acr)', async () => {
    const p = await person()
    const asked = await ask(p.username, { scope: 'openid orders.read' })
    const id = asked.body.auth_req_id as string
    const pending = await poll(id)
    assert.equal(pending.status, 400)
    assert.equal(pending.body.error, 'authorization_pending')
    const fast = await poll(id)
    assert.equal(fast.body.error, 'slow_down', 'polled again within the interval')
    clock.advance(5_000)
    assert.equal((await poll(id)).body.error, 'authorization_pending')

    const list = await approvals(p)
    assert.equal(list.status, 200)
    assert.equal(list.headers.get('cache-control'), 'no-store')
    assert.equal(list.body.length, 1)
    const [req] = list.body
    assert.deepEqual(Object.keys(req).sort(), ['bindingMessage', 'clientId', 'clientName', 'createdAt', 'expiresAt', 'id', 'scope'])
    assert.equal(req.clientId, agent)
    assert.equal(req.clientName, 'Assistant')
    assert.equal(req.bindingMessage, 'Reorder coffee?')
    assert.equal(req.scope, 'openid orders.read')

    clock.advance(2_000)
    const approvedAt = Math.floor(clock.now() / 1000)
    const o = await options(p, req.id)
    assert.equal(o.status, 200)
    assert.equal(o.body.userVerification, 'required')
    assert.deepEqual(o.body.allowCredentials.map((c: any) => c.id), p.auth.credentials().map((c) => c.id))
    const v = await verify(p, req.id, () => p.auth.getAssertion(o.body, { origin: ORIGIN }))
    assert.equal(v.status, 204, JSON.stringify(v.body))
    assert.equal((await approvals(p)).body.length, 0, 'approved: no longer pending')

    clock.advance(5_000)
    const t = await poll(id)
    assert.equal(t.status, 200, JSON.stringify(t.body))
    assert.equal(t.body.token_type, 'Bearer')
    assert.equal(typeof t.body.refresh_token, 'string', 'a standing delegation has a refresh token')
    const claims = decodeJwt(t.body.access_token).payload
    assert.equal(claims.sub, p.id)
    assert.equal(claims.client_id, agent)
    assert.deepEqual(claims.act, { sub: agent })
    assert.equal(claims.scope, 'openid orders.read')
    assert.equal(claims.auth_time, approvedAt, 'auth_time of the approving assertion')
    // What a sign-in with that passkey gets: device-bound (hwk), presence, verification.
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa'])
    assert.equal(claims.acr, 'phr')
    assert.equal(claims.authorization_details, undefined)
    assert.equal(decodeJwt(t.body.id_token).payload.aud, agent)

    // auth_req_id is single use.
    clock.advance(5_000)
    const again = await poll(id)
    assert.equal(again.status, 400)
    assert.equal(again.body.error, 'invalid_grant')
    // Another agent cannot redeem it; a made-up one is invalid.
    assert.equal((await poll(id, narrowAgent)).body.error, 'invalid_grant')
    assert.equal((await poll('garbage')).body.error, 'invalid_grant')

    // The delegated refresh token works for the agent, and keeps act.
    const refreshed = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, ...(await auth(agent)) })
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body))
    assert.deepEqual(decodeJwt(refreshed.body.access_token).payload.act, { sub: agent })
  })

  it('RFC 8707 resource at the poll: the delegated token\'s aud; not one of AUDIENCES → invalid_target (and the request stays redeemable)', async () => {
    const p = await person()
    const asked = await ask(p.username)
    const id = asked.body.auth_req_id as string
    assert.equal((await approve(p, await requestId(p))).status, 204)
    clock.advance(5_000)
    const refused = await poll(id, agent, svc.url, { resource: 'https://elsewhere.example/api' })
    assert.equal(refused.status, 400)
    assert.equal(refused.body.error, 'invalid_target')
    clock.advance(5_000)
    const resource = svc.config.audiences[1]!
    const t = await poll(id, agent, svc.url, { resource })
    assert.equal(t.status, 200, JSON.stringify(t.body))
    assert.equal(decodeJwt(t.body.access_token).payload.aud, resource)
  })

  it('two concurrent polls after approval → exactly one token response', async () => {
    for (let round = 0; round < 3; round++) {
      const p = await person()
      const asked = await ask(p.username)
      assert.equal((await approve(p, await requestId(p))).status, 204)
      const results = await Promise.all([poll(asked.body.auth_req_id), poll(asked.body.auth_req_id), poll(asked.body.auth_req_id, agent, other.url)])
      const ok = results.filter((r) => r.status === 200)
      assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.body.error ?? 'token')))
      for (const r of results.filter((x) => x.status !== 200)) assert.ok(['invalid_grant', 'slow_down'].includes(r.body.error), r.body.error)
      // Exactly one delegated session was made.
      const sessions = await call(svc.url, 'GET', '/api/me/sessions', undefined, bearer(await signedIn(p)))
      assert.equal(sessions.body.filter((s: any) => s.clientId === agent).length, 1)
    }
  })

  it('deny → access_denied; the request is gone from the list; denying twice → 404', async () => {
    const p = await person()
    const asked = await ask(p.username)
    const id = await requestId(p)
    const d = await call(svc.url, 'DELETE', `/api/me/approvals/${id}`, undefined, bearer(await signedIn(p)))
    assert.equal(d.status, 204)
    const r = await poll(asked.body.auth_req_id)
    assert.equal(r.status, 400)
    assert.equal(r.body.error, 'access_denied')
    assert.equal((await approvals(p)).body.length, 0)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/approvals/${id}`, undefined, bearer(await signedIn(p)))).status, 404)
    assert.equal((await approve(p, id)).status, 404, 'a denied request cannot be approved')
  })

  it('past expires_in → expired_token; it can no longer be approved', async () => {
    const p = await person()
    const asked = await ask(p.username, { requested_expiry: '30' })
    const id = await requestId(p)
    const o = await options(p, id)
    clock.advance(31_000)
    const r = await poll(asked.body.auth_req_id)
    assert.equal(r.status, 400)
    assert.equal(r.body.error, 'expired_token')
    assert.equal((await approvals(p)).body.length, 0)
    const v = await verify(p, id, () => p.auth.getAssertion(o.body, { origin: ORIGIN }))
    assert.equal(v.status, 404)
  })

  it('a person disabled after approving → access_denied at the poll', async () => {
    const p = await person()
    const asked = await ask(p.username)
    assert.equal((await approve(p, await requestId(p))).status, 204)
    assert.equal((await call(svc.url, 'PATCH', `/api/manage/users/${p.id}`, { disabled: true }, bearer(await admin()))).status, 200)
    const r = await poll(asked.body.auth_req_id)
    assert.equal(r.body.error, 'access_denied')
  })
})

describe('The approval is bound to that very request and person', () => {
  it("a sign-in challenge's assertion cannot approve (challenge_unknown); nor can an approval assertion sign in", async () => {
    const p = await person()
    await ask(p.username)
    const id = await requestId(p)
    const signInOptions = await post(svc.url, '/api/webauthn/authentication/options', {})
    const v = await verify(p, id, () => p.auth.getAssertion(signInOptions.body, { origin: ORIGIN }))
    assert.equal(v.status, 400)
    assert.equal(v.body.code, 'challenge_unknown')
    const o = await options(p, id)
    const approvalAssertion = await p.auth.getAssertion(o.body, { origin: ORIGIN })
    const s = await post(svc.url, '/api/webauthn/authentication/verify', { credential: approvalAssertion })
    assert.equal(s.status, 400)
    assert.equal(s.body.code, 'challenge_unknown')
    assert.equal((await approvals(p)).body.length, 1, 'still pending')
  })

  it("another request's challenge cannot approve this one (challenge_unknown)", async () => {
    const p = await person()
    await ask(p.username, { binding_message: 'first' })
    await ask(p.username, { binding_message: 'second' })
    const [first, second] = (await approvals(p)).body
    const o = await options(p, first.id)
    const token = await signedIn(p)
    const credential = await p.auth.getAssertion(o.body, { origin: ORIGIN })
    const v = await post(svc.url, `/api/me/approvals/${second.id}/verify`, { credential }, bearer(token))
    assert.equal(v.status, 400)
    assert.equal(v.body.code, 'challenge_unknown')
    // The challenge was used up by that attempt: it cannot approve its own request either.
    const again = await post(svc.url, `/api/me/approvals/${first.id}/verify`, { credential }, bearer(token))
    assert.equal(again.body.code, 'challenge_unknown')
    assert.equal((await approvals(p)).body.length, 2, 'both still pending')
  })

  it("another person's passkey → credential_unknown; another person's token → 404 / challenge_unknown", async () => {
    const alice = await person()
    const bob = await person()
    await ask(alice.username)
    const id = await requestId(alice)
    const o = await options(alice, id)
    const bobsKey = bob.auth.credentials()[0]!.id
    for (const omitUserHandle of [false, true]) {
      const fresh = await options(alice, id)
      const v = await verify(alice, id, () => bob.auth.getAssertion({ ...fresh.body, allowCredentials: [] }, { origin: ORIGIN, credentialId: bobsKey, omitUserHandle } as never))
      assert.equal(v.status, 400)
      assert.equal(v.body.code, 'credential_unknown', `omitUserHandle ${omitUserHandle}`)
    }
    // Bob cannot see, get options for, approve or deny Alice's request.
    assert.equal((await approvals(bob)).body.length, 0)
    assert.equal((await options(bob, id)).status, 404)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/approvals/${id}`, undefined, bearer(await signedIn(bob)))).status, 404)
    const v = await verify(alice, id, () => alice.auth.getAssertion(o.body, { origin: ORIGIN }), await signedIn(bob))
    assert.equal(v.body.code, 'challenge_unknown')
    assert.equal((await approvals(alice)).body.length, 1, 'still pending')
  })

  it('the approval routes need a first-party token: none → 401, a delegated (agent) token → 403', async () => {
    const p = await person()
    const t = await delegated(p)
    for (const [method, path] of [['GET', '/api/me/approvals'], ['GET', '/api/me/delegations'], ['POST', '/api/me/approvals/x/options']] as const) {
      assert.equal((await call(svc.url, method, path)).status, 401, path)
      assert.equal((await call(svc.url, method, path, method === 'POST' ? {} : undefined, bearer(t.access_token))).status, 403, path)
    }
    const bad = await post(svc.url, '/api/me/approvals/x/verify', { credential: 'nope' }, bearer(await signedIn(p)))
    assert.equal(bad.status, 400, 'a malformed body is 400, never 5xx')
  })

  it("a delegated (agent) token cannot change the person's account: DELETE /api/me, a passkey's deletion or rename → 403, and the account stays whole", async () => {
    const p = await person()
    const t = await delegated(p)
    const own = await signedIn(p)
    const [cred] = (await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(own))).body
    assert.ok(cred?.id)
    assert.equal((await call(svc.url, 'DELETE', '/api/me', undefined, bearer(t.access_token))).status, 403)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/credentials/${cred.id}`, undefined, bearer(t.access_token))).status, 403)
    assert.equal((await call(svc.url, 'PATCH', `/api/me/credentials/${cred.id}`, { label: 'agent was here' }, bearer(t.access_token))).status, 403)
    const after = await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(own))
    assert.equal(after.status, 200, 'the account still exists')
    assert.deepEqual(after.body.map((c: any) => [c.id, c.label]), [[cred.id, cred.label]], 'its passkey neither deleted nor renamed')
  })
})

describe('Authorizer decisions for delegated tokens (CONTRACT v2)', () => {
  it("allowed when the person's and the agent's roles both allow; the answer names the actor", async () => {
    const p = await person(['reader'])
    const t = await delegated(p)
    const r = await check(t.access_token, 'GET', '/orders/7')
    assert.equal(r.body.allow, true, JSON.stringify(r.body))
    assert.equal(r.body.sub, p.id)
    assert.equal(r.body.actor, agent)
    // Cacheable like any decision, once the role snapshot (made stale by the tests' moving clock
    // and refreshed in the background) is fresh again.
    let ttl = 0
    for (let i = 0; i < 20 && ttl === 0; i++) {
      ttl = (await check(t.access_token, 'GET', `/orders/${100 + i}`)).body.ttl
      if (ttl === 0) await new Promise((r) => setTimeout(r, 50))
    }
    assert.ok(ttl > 0)
  })

  it('the person lacks the role → 403; the agent lacks the role → 403', async () => {
    const noReader = await person([])
    const t1 = await delegated(noReader)
    const r1 = await check(t1.access_token, 'GET', '/orders/7')
    assert.equal(r1.body.status, 403)
    assert.match(r1.body.reason, /person/)
    const reader = await person(['reader'])
    const t2 = await delegated(reader, {}, narrowAgent)
    const r2 = await check(t2.access_token, 'GET', '/orders/7')
    assert.equal(r2.body.status, 403)
    assert.match(r2.body.reason, /agent/)
    assert.equal(r2.body.actor, narrowAgent)
    // The same person's own token is allowed: the agent's ceiling is what refuses.
    assert.equal((await check(await signedIn(reader), 'GET', '/orders/7')).body.allow, true)
  })

  it('delegation: deny → 403 for the agent, while the person\'s own token is allowed', async () => {
    const p = await person(['vault'])
    const t = await delegated(p)
    assert.equal((await check(t.access_token, 'GET', '/vault/1')).body.status, 403)
    assert.equal((await check(await signedIn(p), 'GET', '/vault/1')).body.allow, true)
  })

  it('revoking the delegation: refresh invalid_grant at once; the authorizer 401 at once here, within AUTHZ_CACHE_TTL on another instance', async () => {
    const p = await person(['reader'])
    const t = await delegated(p)
    assert.equal((await check(t.access_token, 'GET', '/orders/1', other.url)).body.allow, true) // cached on `other`
    const list = await call(svc.url, 'GET', '/api/me/delegations', undefined, bearer(await signedIn(p)))
    assert.equal(list.status, 200)
    assert.equal(list.body.length, 1)
    const [d] = list.body
    assert.equal(d.clientId, agent)
    assert.equal(d.clientName, 'Assistant')
    assert.equal(d.scope, 'openid orders.read')
    assert.equal(d.id, decodeJwt(t.access_token).payload.sid)
    const del = await call(svc.url, 'DELETE', `/api/me/delegations/${d.id}`, undefined, bearer(await signedIn(p)))
    assert.equal(del.status, 204)
    const refreshed = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token, ...(await auth(agent)) })
    assert.equal(refreshed.status, 400)
    assert.equal(refreshed.body.error, 'invalid_grant')
    assert.equal((await check(t.access_token, 'GET', '/orders/1')).body.status, 401, 'at once on this instance')
    assert.equal((await check(t.access_token, 'GET', '/orders/1', other.url)).body.allow, true, 'stale within the bound')
    clock.advance(31_000)
    try {
      assert.equal((await check(t.access_token, 'GET', '/orders/1', other.url)).body.status, 401, 'after AUTHZ_CACHE_TTL')
    } finally {
      clock.advance(-31_000)
    }
    assert.equal((await call(svc.url, 'GET', '/api/me/delegations', undefined, bearer(await signedIn(p)))).body.length, 0)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/delegations/${d.id}`, undefined, bearer(await signedIn(p)))).status, 404)
    const [ev] = (await audit('delegation.revoked')).filter((e) => e.target.sessionId === d.id)
    assert.deepEqual(ev.actor, { userId: p.id })
    assert.equal(ev.target.clientId, agent)
  })

  it("another person's delegation id, or a plain session's, is not a delegation → 404", async () => {
    const alice = await person()
    const bob = await person()
    const t = await delegated(alice)
    const sid = decodeJwt(t.access_token).payload.sid
    assert.equal((await call(svc.url, 'DELETE', `/api/me/delegations/${sid}`, undefined, bearer(await signedIn(bob)))).status, 404)
    const own = decodeJwt(await signedIn(alice)).payload.sid
    assert.equal((await call(svc.url, 'DELETE', `/api/me/delegations/${own}`, undefined, bearer(await signedIn(alice)))).status, 404)
  })
})

describe('Step-up for delegated tokens (RFC 9470, CONTRACT v2 "Step-up authentication")', () => {
  const STALE = 'Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age=10'
  /** An agent whose roles are `roles`, and a person holding `personRoles`, with a standing delegation. */
  async function setUp(personRoles: string[], roles: string[]) {
    const token = await admin()
    for (const [role, permissions] of Object.entries({
      recent: [{ methods: ['GET'], path: '/payroll/**', maxAge: 10 }],
      'recent-reader': [{ methods: ['GET'], path: '/orders/**', maxAge: 10 }],
    }))
      assert.equal((await call(svc.url, 'PUT', `/api/manage/roles/${role}`, { permissions }, bearer(token))).status, 200)
    const agentId = (await registerClient(svc.url, token, { name: 'Payroll', jwks: { keys: [jwk] }, roles, scopes: ['orders.read'], agent: true })).client_id
    const p = await person(personRoles)
    const t = await delegated(p, {}, agentId)
    return { agentId, p, t, authTime: decodeJwt(t.access_token).payload.auth_time as number }
  }

  it("maxAge counts from the approval's auth_time: fresh → allow, ttl bound at auth_time + maxAge; older → 401 insufficient_user_authentication with max_age and wwwAuthenticate; a new approval is the step-up", async () => {
    const { agentId, p, t, authTime } = await setUp(['recent'], ['recent'])
    await svc.core.authz.loadRoles() // a stale role snapshot answers with ttl 0 while it refreshes
    const fresh = await check(t.access_token, 'GET', '/payroll/1')
    assert.deepEqual([fresh.body.allow, fresh.body.status, fresh.body.actor], [true, 200, agentId], JSON.stringify(fresh.body))
    assert.equal(fresh.body.wwwAuthenticate, undefined)
    const bound = authTime + 10 - Math.floor(clock.now() / 1000)
    assert.ok(fresh.body.ttl > 0 && fresh.body.ttl <= bound && fresh.body.ttl < 30, `ttl ${fresh.body.ttl} ≤ ${bound} (AUTHZ_CACHE_TTL 30)`)

    clock.set((authTime + 10) * 1000)
    const late = await check(t.access_token, 'GET', '/payroll/1')
    assert.equal(late.status, 200)
    assert.deepEqual([late.body.allow, late.body.status, late.body.error, late.body.max_age], [false, 401, 'insufficient_user_authentication', 10], JSON.stringify(late.body))
    assert.equal('acr_values' in late.body, false, 'the acr was not short')
    assert.equal(late.body.wwwAuthenticate, STALE)
    assert.deepEqual([late.body.sub, late.body.actor], [p.id, agentId])
    // A path no permission matches is no step-up: 403 as before.
    assert.equal((await check(t.access_token, 'GET', '/elsewhere/1')).body.status, 403)
    // The step-up: the person approves again; the new token's auth_time is now.
    const again = await delegated(p, {}, agentId)
    assert.equal((await check(again.access_token, 'GET', '/payroll/1')).body.allow, true)
  })

  it("the agent's side alone: the person's permission has no maxAge, the agent's has → 401 naming the agent's role", async () => {
    const { t, authTime } = await setUp(['reader'], ['recent-reader'])
    assert.equal((await check(t.access_token, 'GET', '/orders/1')).body.allow, true)
    clock.set((authTime + 11) * 1000)
    const late = await check(t.access_token, 'GET', '/orders/2')
    assert.deepEqual([late.body.status, late.body.error, late.body.max_age, late.body.wwwAuthenticate], [401, 'insufficient_user_authentication', 10, STALE])
    assert.match(late.body.reason, /recent-reader \(agent\)/)
  })
})

describe('Approval per action (RFC 9396 api_request)', () => {
  const detail = JSON.stringify([{ type: 'api_request', method: 'post', path: '/orders' }])

  it('the person sees the action; the token has authorization_details and no refresh token', async () => {
    const p = await person(['writer'])
    await ask(p.username, { authorization_details: detail })
    const [req] = (await approvals(p)).body
    assert.deepEqual(req.authorizationDetails, [{ type: 'api_request', method: 'POST', path: '/orders' }])
    assert.equal((await approve(p, req.id)).status, 204)
  })

  it('allowed exactly once, ttl 0, across two instances; a second call → 403', async () => {
    const p = await person(['writer'])
    const t = await delegated(p, { authorization_details: detail })
    assert.equal(t.refresh_token, undefined, 'no refresh token with authorization_details')
    const claims = decodeJwt(t.access_token).payload
    assert.deepEqual(claims.authorization_details, [{ type: 'api_request', method: 'POST', path: '/orders' }])
    assert.deepEqual(claims.act, { sub: agent })
    const [first, second] = await Promise.all([check(t.access_token, 'POST', '/orders'), check(t.access_token, 'POST', '/orders', other.url)])
    const allowed = [first, second].filter((r) => r.body.allow)
    assert.equal(allowed.length, 1, JSON.stringify([first.body, second.body]))
    assert.equal(allowed[0]!.body.ttl, 0)
    assert.equal(allowed[0]!.body.actor, agent)
    const refused = [first, second].find((r) => !r.body.allow)!
    assert.equal(refused.body.status, 403)
    assert.equal(refused.body.ttl, 0)
    assert.equal((await check(t.access_token, 'POST', '/orders')).body.status, 403, 'and on every later call')
    assert.equal((await check(t.access_token, 'POST', '/orders', other.url)).body.status, 403)
    // Its session is not a standing delegation.
    assert.equal((await call(svc.url, 'GET', '/api/me/delegations', undefined, bearer(await signedIn(p)))).body.length, 0)
  })

  it('an approve permission refuses a standing token, and a token approved for another action', async () => {
    const p = await person(['writer'])
    const standing = await delegated(p)
    assert.equal((await check(standing.access_token, 'POST', '/orders')).body.status, 403)
    const other = await delegated(p, { authorization_details: JSON.stringify([{ type: 'api_request', method: 'POST', path: '/orders/9' }]) })
    const r = await check(other.access_token, 'POST', '/orders')
    assert.equal(r.body.status, 403)
    assert.equal(r.body.ttl, 0)
  })

  it('an approve permission that names an apiId needs an approved action with that apiId; one without, or with another, → 403', async () => {
    const p = await person(['shipper'])
    const approved = async (d: Record<string, string>) =>
      (await delegated(p, { authorization_details: JSON.stringify([{ type: 'api_request', method: 'POST', path: '/shipments', ...d }]) })).access_token
    const noApi = await approved({})
    const r = await check(noApi, 'POST', '/shipments', undefined, 'ship')
    assert.deepEqual([r.body.allow, r.body.status, r.body.ttl], [false, 403, 0], 'the permission names apiId ship: an approval for any API is not enough')
    const otherApi = await approved({ apiId: 'billing' })
    assert.equal((await check(otherApi, 'POST', '/shipments', undefined, 'ship')).body.status, 403, 'approved for another API')
    const ship = await approved({ apiId: 'ship' })
    assert.equal((await check(ship, 'POST', '/shipments')).body.status, 403, 'a call naming no apiId does not meet a permission that names one')
    const ok = await check(ship, 'POST', '/shipments', undefined, 'ship')
    assert.deepEqual([ok.body.allow, ok.body.ttl, ok.body.actor], [true, 0, agent])
  })
})

describe('Through the dev gateway (apim/policy.xml checks)', () => {
  it("the backend gets X-Actor-Id = the agent for a delegated token, none for the person's own; a client-sent one is stripped", async () => {
    echo = await startEchoBackend({ port: 0 })
    gw = await startGateway({
      port: 0,
      issuer: svc.config.issuer,
      discoveryUrl: `${svc.url}/api/.well-known/openid-configuration`,
      audiences: [...svc.config.audiences],
      authzUrl: `${svc.url}/api/authz/check`,
      backendUrl: echo.url,
      now: () => clock.now(),
      log: () => {},
    })
    const p = await person(['reader'])
    const t = await delegated(p)
    const viaAgent = await call(gw.url, 'GET', '/sample/orders/7', undefined, { ...bearer(t.access_token), 'x-actor-id': 'forged' })
    assert.equal(viaAgent.status, 200, JSON.stringify(viaAgent.body))
    assert.equal(viaAgent.body.userId, p.id)
    assert.equal(viaAgent.body.actorId, agent)
    const own = await call(gw.url, 'GET', '/sample/orders/7', undefined, { ...bearer(await signedIn(p)), 'x-actor-id': 'forged' })
    assert.equal(own.status, 200)
    assert.equal(own.body.actorId, null)
  })
})

describe('Audit (docs/audit.md): the agent as actor, the person as target', () => {
  it('delegation.requested, delegation.approved, token.issued (grant ciba), delegation.denied; no pending polls', async () => {
    const p = await person()
    const t = await delegated(p)
    const requested = (await audit('delegation.requested')).filter((e) => e.target.userId === p.id)
    assert.equal(requested.length, 1)
    assert.deepEqual(requested[0].actor, { clientId: agent })
    const approved = (await audit('delegation.approved')).filter((e) => e.target.userId === p.id)
    assert.equal(approved.length, 1)
    assert.equal(approved[0].target.clientId, agent)
    const issued = (await audit('token.issued')).filter((e) => e.target.userId === p.id && e.detail.grant === CIBA)
    assert.equal(issued.length, 1)
    assert.deepEqual(issued[0].actor, { clientId: agent })
    assert.equal(issued[0].target.sessionId, decodeJwt(t.access_token).payload.sid)
    await ask(p.username)
    await call(svc.url, 'DELETE', `/api/me/approvals/${await requestId(p)}`, undefined, bearer(await signedIn(p)))
    assert.equal((await audit('delegation.denied')).filter((e) => e.target.userId === p.id).length, 1)
    const failed = await audit('token.failed')
    assert.ok(!failed.some((e) => ['authorization_pending', 'slow_down'].includes(e.detail.error)), 'polls are not failures')
    const all = JSON.stringify(await audit('delegation.requested'))
    assert.doesNotMatch(all, /Reorder coffee/, 'no binding message (personal data) in the log')
  })
})

describe('Deleting the person (DELETE /api/manage/users/{userId}): their requests and delegations go with the partition', () => {
  it('a pending and an approved request → invalid_grant at the poll; the standing delegation: refresh invalid_grant, introspection inactive, the authorizer 401; nothing of them stored', async () => {
    const p = await person(['reader'])
    const standing = await delegated(p)
    const pending = await ask(p.username)
    const approved = await ask(p.username)
    const list = (await approvals(p)).body as { id: string }[]
    assert.equal(list.length, 2)
    assert.equal((await approve(p, list.at(-1)!.id)).status, 204)
    assert.equal((await check(standing.access_token, 'GET', '/orders/1')).body.allow, true)
    const introspect = async (token: string) => (await form(svc.url, '/api/oauth2/introspect', { token, ...(await auth(agent)) })).body
    assert.equal((await introspect(standing.access_token)).active, true, "the agent may introspect its own token")
    assert.equal((await svc.store.listBackchannelRequests(p.id)).length, 3)

    const d = await call(svc.url, 'DELETE', `/api/manage/users/${p.id}`, undefined, bearer(await admin()))
    assert.equal(d.status, 204, JSON.stringify(d.body))
    assert.deepEqual(await svc.store.listBackchannelRequests(p.id), [], 'the bcreq rows are erased with the partition')
    clock.advance(5_000)
    for (const asked of [pending, approved, { body: { auth_req_id: standing.authReqId } }]) {
      const r = await poll(asked.body.auth_req_id)
      assert.deepEqual([r.status, r.body.error], [400, 'invalid_grant'])
    }
    const refreshed = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: standing.refresh_token, ...(await auth(agent)) })
    assert.deepEqual([refreshed.status, refreshed.body.error], [400, 'invalid_grant'])
    assert.deepEqual(await introspect(standing.access_token), { active: false })
    for (const base of [svc.url, other.url]) {
      const r = await check(standing.access_token, 'GET', '/orders/1', base)
      assert.deepEqual([r.body.allow, r.body.status, r.body.wwwAuthenticate], [false, 401, 'Bearer error="invalid_token"'], JSON.stringify(r.body))
    }
    // The username is free: an agent asking for it now finds nobody.
    assert.equal((await ask(p.username)).body.error, 'unknown_user_id')
    const deleted = (await audit('user.deleted')).find((e) => e.target.userId === p.id)
    assert.ok(deleted, 'user.deleted recorded')
    const mine = JSON.stringify((await audit('delegation.requested')).filter((e) => e.target.userId === p.id))
    assert.doesNotMatch(mine, /Reorder coffee/, 'no binding message')
    assert.ok(!mine.includes(p.username), 'the username is not in the delegation events')
  })
})

describe('Clean-up (Table Storage has no TTL)', () => {
  it("requests expired over an hour ago are deleted when the person is next asked (etag-guarded, in the person's partition)", async () => {
    const p = await person()
    await ask(p.username, { requested_expiry: '1' })
    const id = await requestId(p)
    assert.ok(await svc.store.getBackchannelRequest(p.id, id))
    clock.advance(61 * 60_000 + 2_000)
    try {
      assert.equal((await ask(p.username)).status, 200)
      assert.equal(await svc.store.getBackchannelRequest(p.id, id), undefined)
      assert.equal((await svc.store.listBackchannelRequests(p.id)).length, 1, 'the new request only')
    } finally {
      clock.advance(-(61 * 60_000 + 2_000))
    }
  })
})
