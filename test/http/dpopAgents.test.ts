/**
 * CONTRACT v2 "DPoP" for agents (RFC 9449 with OpenID CIBA and RFC 8693): the CIBA poll with a
 * proof binds the delegation's tokens, its refresh token then needs a proof by the agent's key;
 * a token exchange with a proof binds the exchanged token to that request's key only.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { agentKit, CIBA } from '../helpers/agents.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form, signUp } from '../helpers/client.js'
import { DPoPKey } from '../helpers/dpop.js'
import { keyPair } from '../helpers/keys.js'
import { startService, type TestService } from '../helpers/service.js'
import { registerClient } from '../oauth/helpers.js'
import { ManualClock } from '../../shared/util/clock.js'

const TX = 'urn:ietf:params:oauth:grant-type:token-exchange'
const AT = 'urn:ietf:params:oauth:token-type:access_token'
let azurite: Azurite
let svc: TestService
let agent: string
const clock = new ManualClock(Date.now())
const adminKey = new SoftAuthenticator()
const keys = keyPair('ec', { namedCurve: 'P-256' })
const kit = agentKit({ service: () => svc, clock, key: keys.privateKey, kid: 'k1', adminKey, agent: () => agent, prefix: 'dpa' })
const tokenUrl = () => `${svc.config.issuer}/oauth2/token`

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'dpa-admin', SCOPES: 'orders.read' } })
  await signUp(svc.url, adminKey, 'dpa-admin')
  const token = await kit.admin()
  assert.equal((await call(svc.url, 'PUT', '/api/manage/roles/reader', { permissions: [{ methods: ['GET'], path: '/orders/**' }] }, bearer(token))).status, 200)
  const jwk = { ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
  agent = (await registerClient(svc.url, token, { name: 'Assistant', jwks: { keys: [jwk] }, roles: ['reader'], scopes: ['orders.read'], agent: true })).client_id
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('agents with DPoP', () => {
  it('CIBA poll with a proof: DPoP tokens bound to the key; the refresh token needs a proof by it', async () => {
    const key = await DPoPKey.generate()
    const p = await kit.person()
    const asked = await kit.ask(p.username)
    assert.equal(asked.status, 200, JSON.stringify(asked.body))
    assert.equal((await kit.approve(p, await kit.requestId(p))).status, 204)
    const r = await form(svc.url, '/api/oauth2/token', { grant_type: CIBA, auth_req_id: asked.body.auth_req_id, ...(await kit.auth(agent)) }, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(r.body.access_token).payload.cnf, { jkt: key.jkt })
    const refresh = async (headers: Record<string, string>) => form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: r.body.refresh_token, ...(await kit.auth(agent)) }, headers)
    assert.equal((await refresh({})).body.error, 'invalid_dpop_proof')
    const ok = await refresh({ dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.token_type, 'DPoP')
  })

  it("token exchange with a proof: the exchanged token is bound to that request's key; without one, Bearer even under a bound delegation", async () => {
    const key = await DPoPKey.generate()
    const p = await kit.person()
    const asked = await kit.ask(p.username)
    assert.equal((await kit.approve(p, await kit.requestId(p))).status, 204)
    const polled = await form(svc.url, '/api/oauth2/token', { grant_type: CIBA, auth_req_id: asked.body.auth_req_id, ...(await kit.auth(agent)) }, { dpop: await key.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(polled.body.token_type, 'DPoP')
    const own = await kit.signedIn(p)
    const exchange = async (headers: Record<string, string>) => form(svc.url, '/api/oauth2/token', { grant_type: TX, subject_token: own, subject_token_type: AT, ...(await kit.auth(agent)) }, headers)
    const other = await DPoPKey.generate()
    const bound = await exchange({ dpop: await other.proof({ htm: 'POST', htu: tokenUrl() }) })
    assert.equal(bound.status, 200, JSON.stringify(bound.body))
    assert.equal(bound.body.token_type, 'DPoP')
    assert.deepEqual(decodeJwt(bound.body.access_token).payload.cnf, { jkt: other.jkt })
    const plain = await exchange({})
    assert.equal(plain.status, 200, JSON.stringify(plain.body))
    assert.equal(plain.body.token_type, 'Bearer')
    assert.equal(decodeJwt(plain.body.access_token).payload.cnf, undefined)
  })
})
