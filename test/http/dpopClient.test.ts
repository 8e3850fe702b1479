/**
 * CONTRACT v2 "DPoP" end to end with independent clients: openid-client v6 (its own DPoP
 * implementation: getDPoPHandle, randomDPoPKeyPair) drives a machine client (client_credentials
 * with private_key_jwt) against the service and calls the sample API through the dev gateway with
 * a proof; the same bound token lifted and replayed without the key gets 401 at the gateway.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { exportJWK, importJWK } from 'jose'
import * as oidc from 'openid-client'
import { startGateway, type Gateway } from '../../local/gateway.js'
import { startEchoBackend } from '../../local/echo.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, form } from '../helpers/client.js'
import { DPoPKey } from '../helpers/dpop.js'
import { keyPair } from '../helpers/keys.js'
import { startService, type TestService } from '../helpers/service.js'
import { JWT_BEARER, adminToken, clientAssertion, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
let gw: Gateway
let echo: { url: string; close(): Promise<void> }
let machine: string
const keys = keyPair('ec', { namedCurve: 'P-256' })

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, port: await freePort(), env: { BOOTSTRAP_ADMINS: 'dpop-root' } })
  const admin = await adminToken(svc.url, new SoftAuthenticator(), 'dpop-root')
  assert.equal((await call(svc.url, 'PUT', '/api/manage/roles/reader', { permissions: [{ methods: ['GET'], path: '/orders/**' }] }, bearer(admin))).status, 200)
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  machine = (await registerClient(svc.url, admin, { name: 'dpop machine', jwks: { keys: [jwk] }, roles: ['reader'] })).client_id
  echo = await startEchoBackend({ port: 0 })
  gw = await startGateway({
    port: 0,
    issuer: svc.config.issuer,
    discoveryUrl: `${svc.url}/api/.well-known/openid-configuration`,
    audiences: [...svc.config.audiences],
    authzUrl: `${svc.url}/api/authz/check`,
    backendUrl: echo.url,
    log: () => {},
  })
})
after(async () => {
  await gw?.close()
  await echo?.close()
  await svc?.close()
  await azurite?.stop()
})

describe('openid-client with DPoP (RFC 9449): a machine client through the dev gateway', () => {
  it('client_credentials with a DPoP handle → a DPoP token bound to its key; the gateway allows its calls with proofs', async () => {
    const key = await importJWK(keys.privateKey.export({ format: 'jwk' }), 'ES256')
    const config = await oidc.discovery(new URL(svc.config.issuer), machine, { token_endpoint_auth_method: 'private_key_jwt' }, oidc.PrivateKeyJwt({ key: key as CryptoKey, kid: 'k1' }), {
      execute: [oidc.allowInsecureRequests],
    })
    assert.ok(config.serverMetadata().dpop_signing_alg_values_supported?.includes('ES256'))
    const pair = await oidc.randomDPoPKeyPair('ES256')
    const DPoP = oidc.getDPoPHandle(config, pair)
    const tokens = await oidc.clientCredentialsGrant(config, {}, { DPoP })
    assert.equal(tokens.token_type, 'dpop')
    const { payload } = decodeJwt(tokens.access_token)
    assert.equal(payload.sub, machine)
    assert.equal(typeof payload.cnf?.jkt, 'string')

    const url = new URL(`${gw.url}/sample/orders/42`)
    for (let i = 0; i < 2; i++) {
      const res = await oidc.fetchProtectedResource(config, tokens.access_token, url, 'GET', undefined, undefined, { DPoP })
      assert.equal(res.status, 200, await res.clone().text())
      const echoed = (await res.json()) as { userId: string }
      assert.equal(echoed.userId, machine)
    }

    // The same token lifted and replayed: as Bearer, as DPoP without a proof, with a proof by another key.
    const asBearer = await call(gw.url, 'GET', '/sample/orders/42', undefined, bearer(tokens.access_token))
    assert.equal(asBearer.status, 401)
    assert.match(asBearer.headers.get('www-authenticate') ?? '', /^DPoP error="invalid_dpop_proof"/)
    const noProof = await call(gw.url, 'GET', '/sample/orders/42', undefined, { authorization: `DPoP ${tokens.access_token}` })
    assert.equal(noProof.status, 401)
    const thief = await DPoPKey.generate()
    const stolen = await call(gw.url, 'GET', '/sample/orders/42', undefined, {
      authorization: `DPoP ${tokens.access_token}`,
      dpop: await thief.proof({ htm: 'GET', htu: url.href, accessToken: tokens.access_token }),
    })
    assert.equal(stolen.status, 401)
    assert.match(stolen.headers.get('www-authenticate') ?? '', /another key/)
  })

  it('a proof captured from one call and replayed at the gateway → 401 (jti seen); a proof for another URL → 401 (htu)', async () => {
    const dpopKey = await DPoPKey.generate()
    const r = await form(svc.url, '/api/oauth2/token', {
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER,
      client_assertion: await clientAssertion({ clientId: machine, key: keys.privateKey, kid: 'k1', aud: svc.config.issuer }),
    }, { dpop: await dpopKey.proof({ htm: 'POST', htu: `${svc.config.issuer}/oauth2/token` }) })
    assert.equal(r.body.token_type, 'DPoP', JSON.stringify(r.body))
    const token = r.body.access_token as string
    const url = `${gw.url}/sample/orders/7`
    const headers = { authorization: `DPoP ${token}`, dpop: await dpopKey.proof({ htm: 'GET', htu: url, accessToken: token }) }
    assert.equal((await call(gw.url, 'GET', '/sample/orders/7', undefined, headers)).status, 200)
    const replay = await call(gw.url, 'GET', '/sample/orders/7', undefined, headers)
    assert.equal(replay.status, 401)
    assert.match(replay.headers.get('www-authenticate') ?? '', /already used/)
    const elsewhere = await call(gw.url, 'GET', '/sample/orders/8', undefined, { authorization: `DPoP ${token}`, dpop: await dpopKey.proof({ htm: 'GET', htu: url, accessToken: token }) })
    assert.equal(elsewhere.status, 401)
    assert.match(elsewhere.headers.get('www-authenticate') ?? '', /htu/)
  })
})
