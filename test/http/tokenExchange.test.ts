/**
 * CONTRACT v2 "Agents acting for people" → "Token exchange (RFC 8693)" over HTTP against a real
 * Azurite, two service instances: an agent holding a person's access token exchanges it at
 * POST /api/oauth2/token (grant_type urn:ietf:params:oauth:grant-type:token-exchange) for a
 * delegated access token, only while that person has a standing delegation to this agent, with a
 * scope no wider; the request's rules (RFC 8693 §2.1, §2.2.2), the subject token's, the issued
 * token's claims (§2.2.1, §4.1 `act`), the authorizer's decisions, the audit trail.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { SignJWT } from 'jose'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { agentKit } from '../helpers/agents.js'
import { bearer, call, decodeJwt, form, signUp } from '../helpers/client.js'
import { keyPair } from '../helpers/keys.js'
import { startService, type TestService } from '../helpers/service.js'
import { hostedSignIn, registerClient } from '../oauth/helpers.js'

const TX = 'urn:ietf:params:oauth:grant-type:token-exchange'
const AT = 'urn:ietf:params:oauth:token-type:access_token'

let azurite: Azurite
let svc: TestService
/** A second instance on the same tables and KEK (another Functions instance). */
let other: TestService
const clock = new ManualClock(Date.now())
const adminKey = new SoftAuthenticator()
const keys = keyPair('ec', { namedCurve: 'P-256' })
const jwk = { ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
/** The assistant: an agent with reader, registered for orders.read and orders.write. */
let agent: string
/** Another agent (same roles). */
let otherAgent: string
/** A machine client with keys that is not an agent. */
let machine: string

const kit = agentKit({ service: () => svc, clock, key: keys.privateKey, kid: 'k1', adminKey, agent: () => agent, prefix: 'tx' })
const { admin, auth, person, signedIn, delegated, check, audit } = kit

/** POST /api/oauth2/token with the token-exchange grant, as `clientId` (with its assertion). */
async function exchange(subjectToken: string, extra: Record<string, string> = {}, clientId = agent, base = svc.url) {
  return form(base, '/api/oauth2/token', { grant_type: TX, subject_token: subjectToken, subject_token_type: AT, ...(await auth(clientId)), ...extra })
}

/** A person with `roles` and a standing delegation to `clientId`; their own fresh token. */
async function standing(roles = ['reader'], clientId = agent, extra: Record<string, string> = {}) {
  const p = await person(roles)
  const d = await delegated(p, extra, clientId)
  return { p, d, sid: decodeJwt(d.access_token).payload.sid as string, own: await signedIn(p) }
}

const refused = (r: { status: number; body: any }, error: string, what: string) => {
  assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`)
  assert.equal(r.body.error, error, `${what}: ${JSON.stringify(r.body)}`)
  assert.equal(r.body.access_token, undefined, what)
}

before(async () => {
  azurite = await startAzurite()
  const env = { BOOTSTRAP_ADMINS: 'tx-admin', SCOPES: 'orders.read,orders.write', AUDIENCES: 'api://default,api://orders', REFRESH_TOKEN_TTL: '3600' }
  svc = await startService({ connectionString: azurite.connectionString, clock, env })
  other = await startService({
    connectionString: azurite.connectionString,
    clock,
    env: { ...env, ISSUER: svc.config.issuer, TABLE_PREFIX: svc.config.tablePrefix, KEY_ENCRYPTION_KEY: Buffer.from(svc.config.keyEncryptionKey!).toString('base64') },
  })
  await signUp(svc.url, adminKey, 'tx-admin')
  const token = await admin()
  const roles: Record<string, unknown[]> = {
    reader: [{ methods: ['GET'], path: '/orders/**' }],
    auditor: [{ methods: ['GET'], path: '/ledger/**' }],
  }
  for (const [role, permissions] of Object.entries(roles))
    assert.equal((await call(svc.url, 'PUT', `/api/manage/roles/${role}`, { permissions }, bearer(token))).status, 200)
  const body = { jwks: { keys: [jwk] }, roles: ['reader'], scopes: ['orders.read', 'orders.write'] }
  agent = (await registerClient(svc.url, token, { name: 'Assistant', ...body, agent: true })).client_id
  otherAgent = (await registerClient(svc.url, token, { name: 'Other assistant', ...body, agent: true })).client_id
  machine = (await registerClient(svc.url, token, { name: 'Batch', ...body })).client_id
})
after(async () => {
  await other?.close()
  await svc?.close()
  await azurite?.stop()
})

describe('RFC 8693 §2.1–2.2: the exchange under a standing delegation', () => {
  it('discovery lists the grant in grant_types_supported', async () => {
    const meta = await call(svc.url, 'GET', '/api/.well-known/openid-configuration')
    assert.ok(meta.body.grant_types_supported.includes(TX))
  })

  it("200: issued_token_type access_token, Bearer, the delegation's scope, no refresh or ID token; the token is the delegation's (sub, client_id, act, sid) with the approval's auth_time/amr/acr", async () => {
    const p = await person(['reader'])
    const d = await delegated(p)
    const approval = decodeJwt(d.access_token).payload
    // The person signs in later: the subject token's auth_time is not the approval's.
    clock.advance(90_000)
    const own = await signedIn(p)
    const subject = decodeJwt(own).payload
    assert.ok(subject.auth_time > approval.auth_time)

    const r = await exchange(own)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.headers.get('cache-control'), 'no-store')
    assert.equal(r.body.issued_token_type, AT)
    assert.equal(r.body.token_type, 'Bearer')
    assert.equal(r.body.expires_in, svc.config.accessTokenTtl)
    assert.equal(r.body.scope, 'openid orders.read', "default: the delegation's scope")
    assert.equal(r.body.refresh_token, undefined, 'no refresh token')
    assert.equal(r.body.id_token, undefined)
    const { header, payload: claims } = decodeJwt(r.body.access_token)
    assert.equal(header.typ, 'at+jwt')
    assert.equal(claims.iss, svc.config.issuer)
    assert.equal(claims.sub, p.id)
    assert.equal(claims.client_id, agent)
    assert.deepEqual(claims.act, { sub: agent })
    assert.equal(claims.sid, approval.sid, "bound to the delegation's session")
    assert.notEqual(claims.sid, subject.sid)
    assert.equal(claims.aud, 'api://default')
    assert.equal(claims.scope, 'openid orders.read')
    assert.deepEqual([claims.auth_time, claims.amr, claims.acr], [approval.auth_time, approval.amr, approval.acr], "the approval's, not the sign-in's")
    assert.deepEqual(claims.roles, ['reader'])
    assert.equal(claims.authorization_details, undefined)
    // Not single use: the agent may exchange again (nothing is consumed or written).
    const again = await exchange(own)
    assert.equal(again.status, 200)
    assert.notEqual(decodeJwt(again.body.access_token).payload.jti, claims.jti)
  })

  it('only agents: a machine client that is not one → unauthorized_client; no client authentication → 401 invalid_client', async () => {
    const { own } = await standing()
    refused(await exchange(own, {}, machine), 'unauthorized_client', 'machine client')
    const bare = await form(svc.url, '/api/oauth2/token', { grant_type: TX, subject_token: own, subject_token_type: AT, client_id: agent })
    assert.equal(bare.status, 401)
    assert.equal(bare.body.error, 'invalid_client')
  })

  it('RFC 8693 §2.2.2 the request itself: subject_token / subject_token_type missing or unsupported, requested_token_type other than access_token, actor_token → invalid_request', async () => {
    const { own } = await standing()
    const cases: [Record<string, string>, string][] = [
      [{ subject_token: '' }, 'no subject_token'],
      [{ subject_token_type: '' }, 'no subject_token_type'],
      [{ subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }, 'jwt'],
      [{ subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }, 'refresh_token'],
      [{ subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }, 'id_token'],
      [{ subject_token_type: 'access_token' }, 'not the URN'],
      [{ requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }, 'requested refresh_token'],
      [{ actor_token: own, actor_token_type: AT }, 'actor_token'],
      [{ actor_token: own }, 'actor_token without its type'],
      [{ actor_token_type: AT }, 'actor_token_type alone'],
    ]
    for (const [extra, what] of cases) refused(await exchange(own, extra), 'invalid_request', what)
    // requested_token_type access_token is what is issued anyway.
    assert.equal((await exchange(own, { requested_token_type: AT })).status, 200)
  })
})

describe('Scope no wider than the delegation; audience one of AUDIENCES', () => {
  it('a narrower scope is granted; a wider one, or a scope the delegation lacks → invalid_scope', async () => {
    const { own } = await standing()
    const narrow = await exchange(own, { scope: 'orders.read' })
    assert.equal(narrow.status, 200, JSON.stringify(narrow.body))
    assert.equal(narrow.body.scope, 'orders.read')
    assert.equal(decodeJwt(narrow.body.access_token).payload.scope, 'orders.read')
    // orders.write is registered for the agent, but the person did not delegate it.
    refused(await exchange(own, { scope: 'openid orders.read orders.write' }), 'invalid_scope', 'wider')
    refused(await exchange(own, { scope: 'orders.write' }), 'invalid_scope', 'other scope')
    refused(await exchange(own, { scope: 'profile' }), 'invalid_scope', 'profile not delegated')
    refused(await exchange(own, { scope: 'orders.read\u0000' }), 'invalid_scope', 'malformed scope')
  })

  it("a delegated scope the agent may no longer be granted (its registration narrowed since) → invalid_scope", async () => {
    const narrowing = (await registerClient(svc.url, await admin(), { name: 'Narrowing', jwks: { keys: [jwk] }, roles: ['reader'], scopes: ['orders.read', 'orders.write'], agent: true })).client_id
    const { own } = await standing(['reader'], narrowing)
    assert.equal((await exchange(own, {}, narrowing)).status, 200)
    assert.equal((await call(svc.url, 'PATCH', `/api/manage/clients/${narrowing}`, { scopes: ['orders.write'] }, bearer(await admin()))).status, 200)
    refused(await exchange(own, {}, narrowing), 'invalid_scope', 'orders.read no longer registered')
    assert.equal((await exchange(own, { scope: 'openid' }, narrowing)).body.scope, 'openid', 'what is still grantable')
  })

  it('with two standing delegations, the scope picks the one that covers it; none covering both → invalid_scope', async () => {
    const p = await person(['reader'])
    const read = decodeJwt((await delegated(p, { scope: 'openid orders.read' })).access_token).payload.sid
    const write = decodeJwt((await delegated(p, { scope: 'orders.write' })).access_token).payload.sid
    const own = await signedIn(p)
    const r1 = await exchange(own, { scope: 'orders.read' })
    assert.equal(decodeJwt(r1.body.access_token).payload.sid, read)
    const r2 = await exchange(own, { scope: 'orders.write' })
    assert.equal(decodeJwt(r2.body.access_token).payload.sid, write)
    refused(await exchange(own, { scope: 'orders.read orders.write' }), 'invalid_scope', 'no one delegation covers both')
  })

  it("audience (or resource) picks a configured audience; an unknown one, or the two differing → invalid_target; default the delegation's", async () => {
    const { own } = await standing()
    const r = await exchange(own, { audience: 'api://orders' })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(decodeJwt(r.body.access_token).payload.aud, 'api://orders')
    assert.equal(decodeJwt((await exchange(own, { resource: 'api://orders' })).body.access_token).payload.aud, 'api://orders')
    assert.equal((await exchange(own, { audience: 'api://orders', resource: 'api://orders' })).status, 200)
    refused(await exchange(own, { audience: 'https://elsewhere.example' }), 'invalid_target', 'unknown audience')
    refused(await exchange(own, { resource: 'https://elsewhere.example' }), 'invalid_target', 'unknown resource')
    refused(await exchange(own, { audience: 'api://orders', resource: 'api://default' }), 'invalid_target', 'audience ≠ resource')
  })
})

describe("The subject token: a live access token of ours for a person; otherwise invalid_grant", () => {
  it('garbage, a forged signature, another issuer, an expired token → invalid_grant', async () => {
    const { own } = await standing()
    const { header, payload } = decodeJwt(own)
    refused(await exchange('not-a-token'), 'invalid_grant', 'garbage')
    const forger = keyPair('rsa', { modulusLength: 2048 })
    const forged = await new SignJWT(payload).setProtectedHeader({ alg: header.alg, kid: header.kid, typ: 'at+jwt' }).sign(forger.privateKey)
    refused(await exchange(forged), 'invalid_grant', 'forged signature')
    const key = await svc.core.keyRing.signingKey()
    const foreign = await new SignJWT({ ...payload, iss: 'https://elsewhere.example/api' }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey)
    refused(await exchange(foreign), 'invalid_grant', 'another issuer')
    const skip = (svc.config.accessTokenTtl + 31) * 1000
    clock.advance(skip)
    try {
      refused(await exchange(own), 'invalid_grant', 'expired')
    } finally {
      clock.advance(-skip)
    }
  })

  it("a delegated token (act) as subject → invalid_grant: the delegation's own token, and an exchanged one (no nested act)", async () => {
    const { d, own } = await standing()
    refused(await exchange(d.access_token), 'invalid_grant', "the delegation's token")
    const exchanged = (await exchange(own)).body.access_token
    refused(await exchange(exchanged), 'invalid_grant', 'an exchanged token')
  })

  it("a client's own token (client_credentials) → invalid_grant", async () => {
    const cc = await form(svc.url, '/api/oauth2/token', { grant_type: 'client_credentials', ...(await auth(machine)) })
    assert.equal(cc.status, 200, JSON.stringify(cc.body))
    refused(await exchange(cc.body.access_token), 'invalid_grant', 'client_credentials token')
  })

  it('the subject token\'s session revoked (signed out) → invalid_grant, while the delegation lives', async () => {
    const { p, own } = await standing()
    const sid = decodeJwt(own).payload.sid
    assert.equal((await call(svc.url, 'DELETE', `/api/me/sessions/${sid}`, undefined, bearer(await signedIn(p)))).status, 204)
    refused(await exchange(own), 'invalid_grant', 'revoked session')
    assert.equal((await exchange(await signedIn(p))).status, 200, 'a live token of the person still works')
  })

  it("a token of a third-party app that was deleted since → invalid_grant (as introspection says inactive)", async () => {
    const { p } = await standing()
    const cb = 'https://app.example/cb'
    const app = (await registerClient(svc.url, await admin(), { name: 'app', redirect_uris: [cb] })).client_id
    const verifier = randomBytes(32).toString('base64url')
    const q = new URLSearchParams({ client_id: app, redirect_uri: cb, response_type: 'code', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', scope: 'openid' })
    const code = (await hostedSignIn(svc.url, `${svc.url}/api/oauth2/authorize?${q}`, p.auth)).searchParams.get('code')!
    const t = await form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: cb, client_id: app })
    assert.equal(t.status, 200, JSON.stringify(t.body))
    assert.equal((await exchange(t.body.access_token)).status, 200, "an app's token of the person is a subject token too")
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/clients/${app}`, undefined, bearer(await admin()))).status, 204)
    refused(await exchange(t.body.access_token), 'invalid_grant', 'deleted app')
  })

  it('a disabled person → invalid_grant, even before the revocation of their sessions lands', async () => {
    const { p, own } = await standing()
    assert.equal((await exchange(own)).status, 200)
    // The first step of disabling (shared/admin/disable.ts), before its sessions are revoked.
    await svc.store.updateUser({ ...(await svc.store.getUser(p.id))!, disabledAt: clock.now() })
    refused(await exchange(own), 'invalid_grant', 'disabled, sessions still live')
    // Through the API: disabled, and its sessions (the delegation's too) revoked.
    const q = await standing()
    assert.equal((await call(svc.url, 'PATCH', `/api/manage/users/${q.p.id}`, { disabled: true }, bearer(await admin()))).status, 200)
    refused(await exchange(q.own), 'invalid_grant', 'disabled')
  })

  it('a deleted person → invalid_grant', async () => {
    const { p, own } = await standing()
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/users/${p.id}`, undefined, bearer(await admin()))).status, 204)
    refused(await exchange(own), 'invalid_grant', 'deleted person')
  })
})

describe('Only under a live standing delegation of that person to this agent; otherwise invalid_grant', () => {
  it('no delegation at all; one to another agent only; a per-action approval only → invalid_grant', async () => {
    const nobody = await person(['reader'])
    refused(await exchange(await signedIn(nobody)), 'invalid_grant', 'no delegation')
    const { own: toOther } = await standing(['reader'], otherAgent)
    refused(await exchange(toOther), 'invalid_grant', 'delegated to another agent')
    assert.equal((await exchange(toOther, {}, otherAgent)).status, 200, 'that agent may')
    const perAction = await person(['reader'])
    await delegated(perAction, { authorization_details: JSON.stringify([{ type: 'api_request', method: 'GET', path: '/orders/1' }]) })
    refused(await exchange(await signedIn(perAction)), 'invalid_grant', 'per-action approval only')
  })

  it('the delegation revoked (deleted) by the person → invalid_grant', async () => {
    const { p, sid, own } = await standing()
    assert.equal((await exchange(own)).status, 200)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/delegations/${sid}`, undefined, bearer(await signedIn(p)))).status, 204)
    refused(await exchange(own), 'invalid_grant', 'revoked delegation')
  })

  it('the delegation expired (REFRESH_TOKEN_TTL) → invalid_grant, for a fresh token of the person', async () => {
    const { p } = await standing()
    const skip = svc.config.refreshTokenTtl * 1000 + 1000
    clock.advance(skip)
    try {
      refused(await exchange(await signedIn(p)), 'invalid_grant', 'expired delegation')
    } finally {
      clock.advance(-skip)
    }
  })
})

describe('The authorizer treats the exchanged token as any delegated token', () => {
  it("allowed where person ∩ agent allow (actor named); the agent's missing role → 403; signing out of the subject session does not stop it; revoking the delegation: 401 at once here, within AUTHZ_CACHE_TTL on another instance", async () => {
    const { p, sid, own } = await standing(['reader', 'auditor'])
    const t = (await exchange(own)).body.access_token as string
    const allowed = await check(t, 'GET', '/orders/7')
    assert.deepEqual([allowed.body.allow, allowed.body.sub, allowed.body.actor], [true, p.id, agent], JSON.stringify(allowed.body))
    const ledger = await check(t, 'GET', '/ledger/1')
    assert.equal(ledger.body.status, 403, 'the agent lacks auditor')
    assert.match(ledger.body.reason, /agent/)
    assert.equal((await check(own, 'GET', '/ledger/1')).body.allow, true, "the person's own token is allowed")
    assert.equal((await check(t, 'GET', '/orders/1', other.url)).body.allow, true) // cached on `other`

    // Bound to the delegation, not to the subject token's session.
    assert.equal((await call(svc.url, 'DELETE', `/api/me/sessions/${decodeJwt(own).payload.sid}`, undefined, bearer(await signedIn(p)))).status, 204)
    assert.equal((await check(t, 'GET', '/orders/2')).body.allow, true)

    assert.equal((await call(svc.url, 'DELETE', `/api/me/delegations/${sid}`, undefined, bearer(await signedIn(p)))).status, 204)
    const here = await check(t, 'GET', '/orders/1')
    assert.deepEqual([here.body.allow, here.body.status], [false, 401], 'at once on this instance')
    assert.equal((await check(t, 'GET', '/orders/1', other.url)).body.allow, true, 'stale within the bound')
    clock.advance((svc.config.authzCacheTtl + 1) * 1000)
    try {
      assert.equal((await check(t, 'GET', '/orders/1', other.url)).body.status, 401, 'after AUTHZ_CACHE_TTL')
    } finally {
      clock.advance(-(svc.config.authzCacheTtl + 1) * 1000)
    }
  })

  it('an exchange racing the revocation of the delegation: whatever it got is refused once the revocation is done', async () => {
    for (let round = 0; round < 3; round++) {
      const { p, sid, own } = await standing()
      const token = await signedIn(p)
      const [r] = await Promise.all([exchange(own, {}, agent, round % 2 ? other.url : svc.url), call(svc.url, 'DELETE', `/api/me/delegations/${sid}`, undefined, bearer(token))])
      if (r.status !== 200) {
        refused(r, 'invalid_grant', 'lost the race')
        continue
      }
      const d = await check(r.body.access_token, 'GET', '/orders/1')
      assert.deepEqual([d.body.allow, d.body.status], [false, 401], JSON.stringify(d.body))
    }
  })
})

describe('Audit (docs/audit.md): token.issued with the token-exchange grant, the agent as actor, the person as target', () => {
  it('token.issued names the grant, the agent, the person and the delegation; no token in the event; refusals are token.failed', async () => {
    const { p, sid, own } = await standing()
    const r = await exchange(own)
    assert.equal(r.status, 200)
    const issued = (await audit('token.issued')).filter((e) => e.target.userId === p.id && e.detail.grant === TX)
    assert.equal(issued.length, 1)
    const [ev] = issued
    assert.deepEqual(ev.actor, { clientId: agent })
    assert.equal(ev.target.sessionId, sid)
    assert.equal(ev.outcome, 'success')
    assert.equal(ev.detail.scope, 'openid orders.read')
    const text = JSON.stringify(ev)
    for (const secret of [own, r.body.access_token, own.split('.')[2]!, r.body.access_token.split('.')[2]!])
      assert.ok(!text.includes(secret), 'no token (or signature) in the event')

    refused(await exchange(own, {}, machine), 'unauthorized_client', 'machine')
    const failed = (await audit('token.failed')).filter((e) => e.detail.grant === TX && e.detail.error === 'unauthorized_client')
    assert.ok(failed.length >= 1)
    assert.ok(!JSON.stringify(failed).includes(own), 'no subject token in token.failed')
  })
})
