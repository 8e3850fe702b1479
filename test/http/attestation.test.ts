/**
 * CONTRACT "Tokens": acr `phrh` when the passkey is device-bound (not backup-eligible) and its
 * attestation was verified against a trusted root (ATTESTATION_ROOTS); `phr` otherwise.
 * In its own file: @simplewebauthn/server keeps trusted roots process-wide.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { loadConfig } from '../../shared/config.js'
import { getTestAttestationRootPem, SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { decodeJwt, signIn, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'

let azurite: Azurite
let svc: TestService
let n = 0
const uniq = () => `att${process.pid}n${++n}`

before(async () => {
  azurite = await startAzurite()
  svc = await startService({
    connectionString: azurite.connectionString,
    env: { ATTESTATION: 'direct', ATTESTATION_ROOTS: await getTestAttestationRootPem() },
  })
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

describe('acr from attestation (ATTESTATION_ROOTS)', () => {
  it('registration options ask for direct attestation', async () => {
    const r = await fetch(`${svc.url}/api/webauthn/registration/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: uniq() }) })
    assert.equal((await r.json()).attestation, 'direct')
  })

  it('device-bound passkey with an attestation chain to a configured root → phrh, at sign-up and sign-in', async () => {
    const auth = new SoftAuthenticator({ attestation: 'packed-full' })
    const up = await signUp(svc.url, auth, uniq())
    assert.equal(decodeJwt(up.tokens.access_token).payload.acr, 'phrh')
    const s = await signIn(svc.url, auth)
    assert.equal(decodeJwt(s.body.access_token).payload.acr, 'phrh')
    assert.deepEqual(decodeJwt(s.body.access_token).payload.amr, ['hwk', 'user', 'mfa'])
  })

  it('self attestation, no attestation, or a synced passkey → phr', async () => {
    for (const opts of [{ attestation: 'packed-self' as const }, { attestation: 'none' as const }, { attestation: 'packed-full' as const, backupEligible: true }]) {
      const up = await signUp(svc.url, new SoftAuthenticator(opts), uniq())
      assert.equal(decodeJwt(up.tokens.access_token).payload.acr, 'phr', JSON.stringify(opts))
    }
  })
})

describe('ATTESTATION_ROOTS setting', () => {
  it('accepts concatenated PEM (or \\n-escaped), refuses anything else naming the setting', async () => {
    const pem = await getTestAttestationRootPem()
    assert.equal(loadConfig({ ATTESTATION_ROOTS: pem + '\n' + pem }, { local: true }).attestationRoots.length, 2)
    assert.equal(loadConfig({ ATTESTATION_ROOTS: pem.replace(/\n/g, '\\n') }, { local: true }).attestationRoots.length, 1)
    assert.deepEqual(loadConfig({}, { local: true }).attestationRoots, [])
    assert.throws(() => loadConfig({ ATTESTATION_ROOTS: 'not a certificate' }, { local: true }), /ATTESTATION_ROOTS/)
    assert.throws(() => loadConfig({ ATTESTATION_ROOTS: pem + 'junk' }, { local: true }), /ATTESTATION_ROOTS/)
  })
})
