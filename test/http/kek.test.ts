/**
 * A KEY_ENCRYPTION_KEY that cannot open the stored signing keys (two local servers sharing one
 * Azurite, each with its own generated key): a clear error naming the setting, at startup, in
 * /api/health and on every request that signs — never a 500 per request.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { startLocalServer } from '../../local/server.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { call, form, post, signUp } from '../helpers/client.js'
import { keyPair } from '../helpers/keys.js'
import { JWT_BEARER } from '../../shared/oauth/clientAssertion.js'
import { clientAssertion } from '../oauth/helpers.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'

let azurite: Azurite
let first: TestService
let second: TestService
const TABLE_PREFIX = `kek${process.pid}`

before(async () => {
  azurite = await startAzurite()
  first = await startService({ connectionString: azurite.connectionString, env: { TABLE_PREFIX, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } })
  // The first server made and stored the signing keys with its key.
  await signUp(first.url, new SoftAuthenticator(), `kekfirst${process.pid}`)
  second = await startService({ connectionString: azurite.connectionString, env: { TABLE_PREFIX, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } })
})
after(async () => {
  await second?.close()
  await first?.close()
  await azurite?.stop()
})

describe('KEY_ENCRYPTION_KEY that does not open the stored signing keys', () => {
  it('/api/health answers 503 with a problem naming KEY_ENCRYPTION_KEY', async () => {
    const h = await call(second.url, 'GET', '/api/health')
    assert.equal(h.status, 503)
    assert.equal(h.headers.get('content-type'), 'application/problem+json')
    assert.equal(h.body.code, 'misconfigured')
    assert.match(h.body.detail, /KEY_ENCRYPTION_KEY cannot decrypt the stored signing key/)
    assert.equal((await call(first.url, 'GET', '/api/health')).status, 200, 'the server with the right key is healthy')
  })

  it('a sign-up that would sign tokens answers 503 misconfigured (not 500), and no account is left half-made', async () => {
    const username = `kekuser${process.pid}`
    const o = await post(second.url, '/api/webauthn/registration/options', { username })
    assert.equal(o.status, 200)
    const credential = await new SoftAuthenticator().createCredential(o.body, { origin: ORIGIN })
    const v = await post(second.url, '/api/webauthn/registration/verify', { credential })
    assert.equal(v.status, 503)
    assert.equal(v.body.code, 'misconfigured')
    assert.match(v.body.detail, /KEY_ENCRYPTION_KEY/)
    assert.equal(await second.store.findUserIdByUsername(username), undefined, 'no account was created')
  })

  it('the misconfigured server writes nothing sealed or chained with its own key: the audit chain still verifies', async () => {
    // A refused ceremony on it (400) is an audited event it would chain with its own HMAC key.
    const o = await post(second.url, '/api/webauthn/authentication/options', {})
    const credential = await new SoftAuthenticator().getAssertion(o.body, { origin: ORIGIN }).catch(() => undefined)
    const refused = await post(second.url, '/api/webauthn/authentication/verify', { credential: credential ?? { id: 'AAAA', type: 'public-key', response: { clientDataJSON: 'AAAA' } } })
    assert.equal(refused.status, 400)
    const { verifyAuditChain } = await import('../../shared/audit/verify.js')
    const { deriveAuditKey } = await import('../../shared/audit/chain.js')
    const r = await verifyAuditChain({ store: first.store, key: await deriveAuditKey(first.config.keyEncryptionKey!) })
    assert.equal(r.ok, true, JSON.stringify(r.problem))
    // Nor does its key rotation add keys the others could not open.
    await assert.rejects(second.core.keyRing.rotate(), (e: Error) => e.name === 'KeyEncryptionKeyMismatch')
  })

  it('client_credentials on it: 503 temporarily_unavailable naming the setting, with Retry-After, and no session stored', async () => {
    // A machine client registered (in the shared tables) while the right key was in use.
    const keys = keyPair('ec', { namedCurve: 'P-256' })
    const id = `kekclient${process.pid}`.replace(/[^A-Za-z0-9]/g, '')
    const jwk = { ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
    await first.store.createClient(
      { id, name: 'kek job', kind: 'confidential', jwks: { keys: [jwk] }, redirectUris: [], createdAt: Date.now() },
      { id, username: '', displayName: 'kek job', roles: [], createdAt: Date.now() },
    )
    const assertion = await clientAssertion({ clientId: id, key: keys.privateKey, kid: 'k1', aud: second.config.issuer })
    const r = await form(second.url, '/api/oauth2/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion })
    assert.equal(r.status, 503)
    assert.equal(r.body.error, 'temporarily_unavailable')
    assert.match(r.body.error_description, /KEY_ENCRYPTION_KEY/)
    assert.ok(r.headers.get('retry-after'))
    assert.deepEqual(await second.store.listSessions(id), [], 'no session without a token')
  })

  it('the local server refuses to start, with the message naming the setting', async () => {
    const port = await freePort()
    await assert.rejects(
      startLocalServer({
        env: { PORT: String(port), TABLES_CONNECTION_STRING: azurite.connectionString, TABLE_PREFIX, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
        gateway: false,
      }),
      (e: Error) => e.name === 'KeyEncryptionKeyMismatch' && /KEY_ENCRYPTION_KEY cannot decrypt/.test(e.message),
    )
  })
})
