import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createPublicKey, X509Certificate as NodeX509, webcrypto } from 'node:crypto'
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  SettingsService,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server'
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server'
import { isoBase64URL, isoCBOR, parseAuthenticatorData } from '@simplewebauthn/server/helpers'
import {
  COSE_ALG,
  DEFAULT_TRANSPORTS,
  getTestAttestationCertificate,
  getTestAttestationRootPem,
  SOFT_AUTHENTICATOR_AAGUID,
  SoftAuthenticator,
  type SoftAlg,
  type SoftAttestation,
} from './authenticator.js'
import { authenticationVectors, getVector, loadWebAuthnVectors, registrationVectors, VECTORS_PATH } from './vectors.js'

const RP_ID = 'localhost'
const ORIGIN = 'http://localhost:7071'
const ALGS: SoftAlg[] = ['ES256', 'RS256', 'EdDSA']
const ATTESTATIONS: SoftAttestation[] = ['none', 'packed-self', 'packed-full']

const bytes = (b64u: string) => new Uint8Array(isoBase64URL.toBuffer(b64u))
const text = (b64u: string) => Buffer.from(bytes(b64u)).toString('utf8')

async function regOptions(extra: Partial<Parameters<typeof generateRegistrationOptions>[0]> = {}) {
  return generateRegistrationOptions({
    rpName: 'Passkey Edge',
    rpID: RP_ID,
    userName: 'alice',
    attestationType: 'direct',
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    supportedAlgorithmIDs: [-7, -8, -257],
    ...extra,
  })
}

async function authOptions(allow: string[] = []) {
  return generateAuthenticationOptions({
    rpID: RP_ID,
    userVerification: 'required',
    allowCredentials: allow.map((id) => ({ id })),
  })
}

function verifyReg(
  response: RegistrationResponseJSON,
  options: PublicKeyCredentialCreationOptionsJSON,
  requireUserVerification = true,
) {
  return verifyRegistrationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    requireUserVerification,
    supportedAlgorithmIDs: [-7, -8, -257],
  })
}

function verifyAuth(
  response: AuthenticationResponseJSON,
  options: PublicKeyCredentialRequestOptionsJSON,
  credential: { id: string; publicKey: Uint8Array; counter: number },
  requireUserVerification = true,
) {
  return verifyAuthenticationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential: { id: credential.id, publicKey: new Uint8Array(credential.publicKey), counter: credential.counter },
    requireUserVerification,
  })
}

/** verified:false or a throw both count as "rejected". */
async function rejected(p: Promise<{ verified: boolean }>): Promise<boolean> {
  try {
    return !(await p).verified
  } catch {
    return true
  }
}

/** COSE_Key → SPKI DER (independently of the authenticator's code). */
function coseToSpki(cose: Uint8Array): Buffer {
  const m = isoCBOR.decodeFirst<Map<number, number | Uint8Array>>(new Uint8Array(cose))
  const b = (k: number) => Buffer.from(m.get(k) as Uint8Array<ArrayBuffer>).toString('base64url')
  const kty = m.get(1)
  const jwk =
    kty === 2
      ? { kty: 'EC', crv: 'P-256', x: b(-2), y: b(-3) }
      : kty === 1
        ? { kty: 'OKP', crv: 'Ed25519', x: b(-2) }
        : { kty: 'RSA', n: b(-1), e: b(-2) }
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' })
}

function decodeAttObj(r: RegistrationResponseJSON) {
  return isoCBOR.decodeFirst<Map<string, unknown>>(bytes(r.response.attestationObject))
}

let savedPackedRoots: string[] = []
before(() => {
  savedPackedRoots = SettingsService.getRootCertificates({ identifier: 'packed' })
})
after(() => {
  SettingsService.setRootCertificates({ identifier: 'packed', certificates: savedPackedRoots })
})

describe('SoftAuthenticator: every alg × attestation verifies with SimpleWebAuthn', () => {
  for (const alg of ALGS) {
    for (const attestation of ATTESTATIONS) {
      it(`${alg} / ${attestation}: registration, two sign-ins, counter increments`, async () => {
        const a = new SoftAuthenticator({ alg, attestation })
        const options = await regOptions()
        const reg = await a.createCredential(options, { origin: ORIGIN })

        // --- the JSON is shaped like PublicKeyCredential.toJSON()
        assert.equal(reg.type, 'public-key')
        assert.equal(reg.id, reg.rawId)
        const idLen = bytes(reg.id).length
        assert.ok(idLen >= 16 && idLen <= 32, `credential id length ${idLen}`)
        assert.equal(reg.authenticatorAttachment, 'platform')
        // generateRegistrationOptions always asks for credProps
        assert.deepEqual(options.extensions, { credProps: true })
        assert.deepEqual(reg.clientExtensionResults, { credProps: { rk: true } })
        assert.deepEqual(reg.response.transports, [...DEFAULT_TRANSPORTS])
        assert.equal(reg.response.publicKeyAlgorithm, COSE_ALG[alg])
        assert.deepEqual(JSON.parse(text(reg.response.clientDataJSON)), {
          type: 'webauthn.create',
          challenge: options.challenge,
          origin: ORIGIN,
          crossOrigin: false,
        })
        const attObj = decodeAttObj(reg)
        assert.deepEqual([...attObj.keys()], ['fmt', 'attStmt', 'authData'])
        assert.equal(attObj.get('fmt'), attestation === 'none' ? 'none' : 'packed')
        assert.deepEqual(bytes(reg.response.authenticatorData!), attObj.get('authData'))
        const parsed = parseAuthenticatorData(attObj.get('authData') as Uint8Array<ArrayBuffer>)
        assert.equal(parsed.flags.up && parsed.flags.uv && parsed.flags.at, true)
        assert.equal(parsed.flags.be || parsed.flags.bs || parsed.flags.ed, false)
        assert.equal(parsed.counter, 0)
        assert.deepEqual(Buffer.from(coseToSpki(parsed.credentialPublicKey!)), Buffer.from(bytes(reg.response.publicKey!)))

        // --- SimpleWebAuthn accepts it
        if (attestation === 'packed-full') {
          SettingsService.setRootCertificates({ identifier: 'packed', certificates: [await getTestAttestationRootPem()] })
        }
        const v = await verifyReg(reg, options).finally(() =>
          SettingsService.setRootCertificates({ identifier: 'packed', certificates: savedPackedRoots }),
        )
        assert.equal(v.verified, true)
        const info = v.registrationInfo!
        assert.equal(info.fmt, attestation === 'none' ? 'none' : 'packed')
        assert.equal(info.aaguid, SOFT_AUTHENTICATOR_AAGUID)
        assert.equal(info.credential.id, reg.id)
        assert.equal(info.userVerified, true)
        assert.equal(info.credentialDeviceType, 'singleDevice')
        assert.equal(info.credentialBackedUp, false)
        assert.equal(info.rpID, RP_ID)

        // --- the stored credential
        const [c] = a.credentials()
        assert.ok(c)
        assert.equal(c.id, reg.id)
        assert.equal(c.userHandle, options.user.id)
        assert.equal(c.rpId, RP_ID)
        assert.equal(c.counter, 0)
        assert.deepEqual(c.publicKey, new Uint8Array(info.credential.publicKey))

        // --- two sign-ins; counter 1 then 2
        let stored = { id: info.credential.id, publicKey: info.credential.publicKey, counter: info.credential.counter }
        for (const expected of [1, 2]) {
          const ao = await authOptions([reg.id])
          const asr = await a.getAssertion(ao, { origin: ORIGIN })
          assert.equal(asr.id, reg.id)
          assert.equal(asr.rawId, reg.id)
          assert.equal(asr.type, 'public-key')
          assert.equal(asr.authenticatorAttachment, 'platform')
          assert.deepEqual(asr.clientExtensionResults, {})
          assert.equal(asr.response.userHandle, options.user.id)
          assert.deepEqual(JSON.parse(text(asr.response.clientDataJSON)), {
            type: 'webauthn.get',
            challenge: ao.challenge,
            origin: ORIGIN,
            crossOrigin: false,
          })
          const av = await verifyAuth(asr, ao, stored)
          assert.equal(av.verified, true)
          assert.equal(av.authenticationInfo.newCounter, expected)
          assert.equal(av.authenticationInfo.userVerified, true)
          stored = { ...stored, counter: av.authenticationInfo.newCounter }
        }
        assert.equal(a.credential(reg.id).counter, 2)
      })
    }
  }
})

describe('SoftAuthenticator: signatures', () => {
  it('ES256 signatures are ASN.1 DER, EdDSA raw 64 bytes, RS256 256 bytes', async () => {
    for (const alg of ALGS) {
      const a = new SoftAuthenticator({ alg, attestation: 'packed-self' })
      const reg = await a.createCredential(await regOptions(), { origin: ORIGIN })
      const sig = (decodeAttObj(reg).get('attStmt') as Map<string, unknown>).get('sig') as Uint8Array
      const asr = await a.getAssertion(await authOptions(), { origin: ORIGIN })
      const asig = bytes(asr.response.signature)
      for (const s of [sig, asig]) {
        if (alg === 'ES256') {
          assert.equal(s[0], 0x30, 'DER SEQUENCE')
          assert.equal(s[1], s.length - 2)
        } else if (alg === 'EdDSA') assert.equal(s.length, 64)
        else assert.equal(s.length, 256)
      }
    }
  })

  for (const alg of ALGS) {
    it(`${alg}: a tampered signature is rejected (registration and authentication)`, async () => {
      SettingsService.setRootCertificates({ identifier: 'packed', certificates: [await getTestAttestationRootPem()] })
      try {
        for (const attestation of ['packed-self', 'packed-full'] as const) {
          const a = new SoftAuthenticator({ alg, attestation })
          const options = await regOptions()
          const bad = await a.createCredential(options, { origin: ORIGIN, tamperSignature: true })
          // a well-formed signature over other bytes: verified:false (not a parse error)
          assert.equal((await verifyReg(bad, options)).verified, false, `${attestation} registration`)
        }
      } finally {
        SettingsService.setRootCertificates({ identifier: 'packed', certificates: savedPackedRoots })
      }
      const a = new SoftAuthenticator({ alg })
      const options = await regOptions()
      const v = await verifyReg(await a.createCredential(options, { origin: ORIGIN }), options)
      const ao = await authOptions()
      const asr = await a.getAssertion(ao, { origin: ORIGIN, tamperSignature: true })
      assert.equal((await verifyAuth(asr, ao, v.registrationInfo!.credential)).verified, false)
      // and an untampered one from the same state still passes
      const ao2 = await authOptions()
      const ok = await verifyAuth(await a.getAssertion(ao2, { origin: ORIGIN }), ao2, v.registrationInfo!.credential)
      assert.equal(ok.verified, true)
    })
  }

  it("tamperSignature with attestation 'none' fails clearly (nothing to tamper)", async () => {
    const a = new SoftAuthenticator()
    await assert.rejects(a.createCredential(await regOptions(), { origin: ORIGIN, tamperSignature: true }), /tamperSignature/)
  })
})

describe('SoftAuthenticator: user presence / verification', () => {
  it('UV off is rejected when UV is required, accepted when not', async () => {
    const a = new SoftAuthenticator()
    const options = await regOptions()
    const reg = await a.createCredential(options, { origin: ORIGIN, userVerified: false })
    assert.equal(parseAuthenticatorData(bytes(reg.response.authenticatorData!)).flags.uv, false)
    await assert.rejects(verifyReg(reg, options, true), /User verification was required/)
    const v = await verifyReg(reg, options, false)
    assert.equal(v.verified, true)
    assert.equal(v.registrationInfo!.userVerified, false)

    const ao = await authOptions()
    const asr = await a.getAssertion(ao, { origin: ORIGIN, userVerified: false })
    await assert.rejects(verifyAuth(asr, ao, v.registrationInfo!.credential, true), /User verification/)
    const ao2 = await authOptions()
    const asr2 = await a.getAssertion(ao2, { origin: ORIGIN, userVerified: false })
    const av = await verifyAuth(asr2, ao2, v.registrationInfo!.credential, false)
    assert.equal(av.verified, true)
    assert.equal(av.authenticationInfo.userVerified, false)
  })

  it('UP off is rejected', async () => {
    const a = new SoftAuthenticator()
    const options = await regOptions()
    await assert.rejects(verifyReg(await a.createCredential(options, { origin: ORIGIN, userPresent: false }), options, false), /presence/i)
    const b = new SoftAuthenticator()
    const o2 = await regOptions()
    const v = await verifyReg(await b.createCredential(o2, { origin: ORIGIN }), o2)
    const ao = await authOptions()
    const asr = await b.getAssertion(ao, { origin: ORIGIN, userPresent: false })
    assert.equal(await rejected(verifyAuth(asr, ao, v.registrationInfo!.credential, false)), true)
  })

  it('overrideFlags replaces or adjusts the flags byte', async () => {
    const a = new SoftAuthenticator()
    const reg = await a.createCredential(await regOptions(), { origin: ORIGIN, overrideFlags: { uv: false, bs: true } })
    const f = parseAuthenticatorData(bytes(reg.response.authenticatorData!)).flags
    assert.equal(f.uv, false)
    assert.equal(f.bs, true)
    assert.equal(f.be, false)
    const asr = await a.getAssertion(await authOptions(), { origin: ORIGIN, overrideFlags: 0x01 })
    assert.equal(bytes(asr.response.authenticatorData)[32], 0x01)
  })
})

describe('SoftAuthenticator: counters and cloned keys', () => {
  async function registered(opts: ConstructorParameters<typeof SoftAuthenticator>[0] = {}) {
    const a = new SoftAuthenticator(opts)
    const options = await regOptions()
    const v = await verifyReg(await a.createCredential(options, { origin: ORIGIN }), options)
    const c = v.registrationInfo!.credential
    return { a, cred: { id: c.id, publicKey: c.publicKey, counter: c.counter } }
  }

  it('setCounter, counterIncrement and counterOverride control signCount', async () => {
    const { a, cred } = await registered()
    a.setCounter(cred.id, 41)
    const ao = await authOptions()
    const r1 = await verifyAuth(await a.getAssertion(ao, { origin: ORIGIN, counterIncrement: 5 }), ao, cred)
    assert.equal(r1.authenticationInfo.newCounter, 46)
    assert.equal(a.credential(cred.id).counter, 46)
    const ao2 = await authOptions()
    const asr = await a.getAssertion(ao2, { origin: ORIGIN, counterOverride: 10 })
    assert.equal(parseAuthenticatorData(bytes(asr.response.authenticatorData)).counter, 10)
    await assert.rejects(verifyAuth(asr, ao2, { ...cred, counter: 46 }), /counter/i)
  })

  it('counterIncrement 0 keeps signCount 0 (counter-less passkeys) and verifies', async () => {
    const { a, cred } = await registered()
    for (let i = 0; i < 2; i++) {
      const ao = await authOptions()
      const r = await verifyAuth(await a.getAssertion(ao, { origin: ORIGIN, counterIncrement: 0 }), ao, cred)
      assert.equal(r.verified, true)
      assert.equal(r.authenticationInfo.newCounter, 0)
    }
  })

  it('a cloned credential signs with the same key and its counter regresses', async () => {
    const { a, cred } = await registered()
    const twin = new SoftAuthenticator()
    a.cloneCredentialTo(twin, cred.id)
    assert.equal(twin.credentials().length, 1)
    assert.deepEqual(twin.credential(cred.id).publicKey, a.credential(cred.id).publicKey)

    let stored = cred
    for (let i = 0; i < 3; i++) {
      const ao = await authOptions([cred.id])
      const r = await verifyAuth(await a.getAssertion(ao, { origin: ORIGIN }), ao, stored)
      stored = { ...stored, counter: r.authenticationInfo.newCounter }
    }
    assert.equal(stored.counter, 3)
    // the clone still sits at 0: its assertion is valid but the counter went backwards
    const ao = await authOptions([cred.id])
    const cloneAssertion = await twin.getAssertion(ao, { origin: ORIGIN })
    assert.equal(parseAuthenticatorData(bytes(cloneAssertion.response.authenticatorData)).counter, 1)
    await assert.rejects(verifyAuth(cloneAssertion, ao, stored), /counter/i)
    // the same assertion against a fresh stored counter proves it was signed by the same key
    const ao2 = await authOptions()
    const fresh = await verifyAuth(await twin.getAssertion(ao2, { origin: ORIGIN }), ao2, cred)
    assert.equal(fresh.verified, true)
    // clone() copies every credential
    assert.equal(a.clone().credentials()[0]?.id, cred.id)
  })
})

describe('SoftAuthenticator: client behaviour', () => {
  it('fails clearly when pubKeyCredParams lacks its algorithm', async () => {
    const a = new SoftAuthenticator({ alg: 'EdDSA' })
    const options = await regOptions({ supportedAlgorithmIDs: [-7, -257] })
    await assert.rejects(a.createCredential(options, { origin: ORIGIN }), (e: Error) => {
      assert.equal(e.name, 'NotSupportedError')
      assert.match(e.message, /EdDSA \(-8\)/)
      return true
    })
  })

  it('honours excludeCredentials like an authenticator (InvalidStateError) unless told not to', async () => {
    const a = new SoftAuthenticator()
    const first = await a.createCredential(await regOptions(), { origin: ORIGIN })
    const again = await regOptions({ excludeCredentials: [{ id: first.id }] })
    await assert.rejects(a.createCredential(again, { origin: ORIGIN }), { name: 'InvalidStateError' })
    await a.createCredential(again, { origin: ORIGIN, ignoreExcludeCredentials: true })
    assert.equal(a.credentials().length, 2)
  })

  it('picks the first allowed credential it holds, or any for the RP ID when allowCredentials is empty', async () => {
    const a = new SoftAuthenticator()
    const c1 = await a.createCredential(await regOptions({ userName: 'one' }), { origin: ORIGIN })
    const c2 = await a.createCredential(await regOptions({ userName: 'two' }), { origin: ORIGIN })
    assert.equal((await a.getAssertion(await authOptions(['AAAAAAAAAAAAAAAAAAAAAA', c2.id, c1.id]), { origin: ORIGIN })).id, c2.id)
    assert.equal((await a.getAssertion(await authOptions(), { origin: ORIGIN })).id, c1.id)
    assert.equal((await a.getAssertion(await authOptions(), { origin: ORIGIN, credentialId: c2.id })).id, c2.id)
    await assert.rejects(a.getAssertion(await authOptions(['AAAAAAAAAAAAAAAAAAAAAA']), { origin: ORIGIN }), { name: 'NotAllowedError' })
    await assert.rejects(
      a.getAssertion({ ...(await authOptions()), rpId: 'example.com' }, { origin: 'https://example.com' }),
      { name: 'NotAllowedError' },
    )
  })

  it('omitUserHandle, omitTransports, credProps, custom transports/attachment', async () => {
    const a = new SoftAuthenticator({ transports: ['usb'], attachment: 'cross-platform' })
    const options = await regOptions()
    const reg = await a.createCredential(options, { origin: ORIGIN })
    assert.deepEqual(reg.clientExtensionResults, { credProps: { rk: true } })
    const { extensions: _omit, ...noExt } = options
    assert.deepEqual((await a.createCredential(noExt, { origin: ORIGIN })).clientExtensionResults, {})
    assert.deepEqual(reg.response.transports, ['usb'])
    assert.equal(reg.authenticatorAttachment, 'cross-platform')
    const noT = await a.createCredential(await regOptions(), { origin: ORIGIN, omitTransports: true })
    assert.equal('transports' in noT.response, false)
    const asr = await a.getAssertion(await authOptions([reg.id]), { origin: ORIGIN, omitUserHandle: true })
    assert.equal('userHandle' in asr.response, false)
  })

  it('wrong origin, type, challenge or RP ID in the response are rejected by the verifier', async () => {
    const a = new SoftAuthenticator()
    const options = await regOptions()
    const v = await verifyReg(await a.createCredential(options, { origin: ORIGIN }), options)
    const cred = v.registrationInfo!.credential
    const cases: Array<[string, Parameters<SoftAuthenticator['getAssertion']>[1], RegExp]> = [
      ['origin', { origin: 'https://evil.example' }, /origin/],
      ['type', { origin: ORIGIN, type: 'webauthn.create' }, /type/],
      ['challenge', { origin: ORIGIN, challengeOverride: 'AAAA' }, /challenge/],
      ['rpId', { origin: ORIGIN, rpId: 'evil.example' }, /RP ID/i],
    ]
    for (const [what, opts, re] of cases) {
      const ao = await authOptions()
      await assert.rejects(verifyAuth(await a.getAssertion(ao, opts), ao, cred), re, what)
    }
    const o2 = await regOptions()
    await assert.rejects(verifyReg(await a.createCredential(o2, { origin: ORIGIN, type: 'webauthn.get' }), o2), /type/)
  })

  it('crossOrigin/topOrigin/extra members are written into clientDataJSON', async () => {
    const a = new SoftAuthenticator()
    const reg = await a.createCredential(await regOptions(), {
      origin: ORIGIN,
      crossOrigin: true,
      topOrigin: 'https://top.example',
      extraClientData: { other_keys_can_be_added_here: 'x' },
    })
    const cd = JSON.parse(text(reg.response.clientDataJSON))
    assert.equal(cd.crossOrigin, true)
    assert.equal(cd.topOrigin, 'https://top.example')
    assert.equal(cd.other_keys_can_be_added_here, 'x')
  })

  it('re-encodes the challenge and user id as base64url without padding, like a browser', async () => {
    const a = new SoftAuthenticator()
    const options = await regOptions()
    const padded = { ...options, challenge: options.challenge + '=', user: { ...options.user, id: options.user.id + '=' } }
    // 32 bytes = 43 base64url chars, so one '=' is valid padding; a browser decodes it and re-encodes unpadded
    const reg = await a.createCredential(padded, { origin: ORIGIN })
    assert.equal(JSON.parse(text(reg.response.clientDataJSON)).challenge, isoBase64URL.fromBuffer(isoBase64URL.toBuffer(options.challenge)))
    assert.equal(a.credentials()[0]?.userHandle, isoBase64URL.fromBuffer(isoBase64URL.toBuffer(options.user.id)))
  })

  it('applyAttestationConveyance strips packed-full to none when the RP asked for none', async () => {
    const a = new SoftAuthenticator({ attestation: 'packed-full' })
    const options = await regOptions({ attestationType: 'none' })
    assert.equal(decodeAttObj(await a.createCredential(options, { origin: ORIGIN })).get('fmt'), 'packed')
    const stripped = await a.createCredential(options, { origin: ORIGIN, applyAttestationConveyance: true })
    assert.equal(decodeAttObj(stripped).get('fmt'), 'none')
    assert.equal((await verifyReg(stripped, options)).verified, true)
  })

  it('backupEligible/backedUp set BE/BS (a synced passkey)', async () => {
    assert.throws(() => new SoftAuthenticator({ backupEligible: false, backedUp: true }), /backupEligible/)
    const a = new SoftAuthenticator({ backedUp: true })
    const options = await regOptions()
    const v = await verifyReg(await a.createCredential(options, { origin: ORIGIN }), options)
    assert.equal(v.registrationInfo!.credentialDeviceType, 'multiDevice')
    assert.equal(v.registrationInfo!.credentialBackedUp, true)
    const ao = await authOptions()
    const av = await verifyAuth(await a.getAssertion(ao, { origin: ORIGIN }), ao, v.registrationInfo!.credential)
    assert.equal(av.authenticationInfo.credentialDeviceType, 'multiDevice')
    assert.equal(av.authenticationInfo.credentialBackedUp, true)
  })
})

describe('SoftAuthenticator: packed-full attestation PKI', () => {
  it('the leaf certificate meets §8.2.1 and chains to the exported root', async () => {
    const rootPem = await getTestAttestationRootPem()
    assert.equal(await getTestAttestationRootPem(), rootPem, 'cached once per process')
    const root = new x509.X509Certificate(rootPem)
    const leaf = await getTestAttestationCertificate()
    const cert = new x509.X509Certificate(leaf.der)
    const subject = Object.fromEntries(cert.subjectName.toJSON().flatMap((rdn) => Object.entries(rdn).map(([k, v]) => [k, v[0]])))
    assert.equal(subject.C, 'US')
    assert.ok(subject.O)
    assert.equal(subject.OU, 'Authenticator Attestation')
    assert.ok(subject.CN)
    const bc = cert.getExtension(x509.BasicConstraintsExtension)
    assert.ok(bc)
    assert.equal(bc.ca, false)
    const aag = cert.getExtension('1.3.6.1.4.1.45724.1.1.4')
    assert.ok(aag)
    assert.equal(aag.critical, false)
    assert.equal(Buffer.from(aag.value).toString('hex'), '0410' + SOFT_AUTHENTICATOR_AAGUID.replace(/-/g, ''))
    assert.equal(cert.issuer, root.subject)
    assert.equal(await cert.verify({ publicKey: root.publicKey, signatureOnly: true }, webcrypto as unknown as Crypto), true)
    assert.equal(new NodeX509(leaf.der).ca, false)
    assert.equal(new NodeX509(rootPem).ca, true)
    // an all-zero AAGUID gets no AAGUID extension
    const zero = new x509.X509Certificate((await getTestAttestationCertificate('00000000-0000-0000-0000-000000000000')).der)
    assert.equal(zero.getExtension('1.3.6.1.4.1.45724.1.1.4'), null)
  })

  it('verifies with a custom AAGUID; fails against an untrusted root', async () => {
    const aaguid = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'
    const a = new SoftAuthenticator({ attestation: 'packed-full', aaguid })
    const options = await regOptions()
    const reg = await a.createCredential(options, { origin: ORIGIN })
    const x5c = (decodeAttObj(reg).get('attStmt') as Map<string, unknown>).get('x5c') as Uint8Array[]
    assert.equal(x5c.length, 1, 'x5c holds the leaf only (the root is the trust anchor)')

    const otherKeys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair
    const otherRoot = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: '01',
        name: 'C=US, O=Other, CN=Untrusted Root',
        notBefore: new Date('2020-01-01'),
        notAfter: new Date('2040-01-01'),
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        keys: otherKeys,
        extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
      },
      webcrypto as unknown as Crypto,
    )
    try {
      SettingsService.setRootCertificates({ identifier: 'packed', certificates: [otherRoot.toString('pem')] })
      await assert.rejects(verifyReg(reg, options), /trust anchor/)
      SettingsService.setRootCertificates({ identifier: 'packed', certificates: [await getTestAttestationRootPem()] })
      const o2 = await regOptions()
      const v = await verifyReg(await a.createCredential(o2, { origin: ORIGIN }), o2)
      assert.equal(v.verified, true)
      assert.equal(v.registrationInfo!.aaguid, aaguid)
    } finally {
      SettingsService.setRootCertificates({ identifier: 'packed', certificates: savedPackedRoots })
    }
  })
})

describe('shared vectors loader', () => {
  it('loads 25 typed vectors from beside the repo', () => {
    assert.match(VECTORS_PATH, /shared[/\\]vectors[/\\]webauthn-vectors\.json$/)
    const all = loadWebAuthnVectors()
    assert.equal(all.length, 25)
    assert.equal(registrationVectors().length, 15)
    assert.equal(authenticationVectors().length, 10)
    const v = getVector('py-rs256-auth')
    assert.equal(v.kind, 'authentication')
    if (v.kind === 'authentication') {
      assert.equal(typeof v.storedSignCount, 'number')
      assert.equal(v.requireUserVerification, true)
    }
    assert.throws(() => getVector('nope'), /no WebAuthn vector/)
  })

  it('our attestationObject and COSE key use the same CBOR layout as the W3C packed-full vector', async () => {
    const vec = getVector('w3c-packed-full-es256-reg')
    assert.equal(vec.kind, 'registration')
    const theirs = isoCBOR.decodeFirst<Map<string, unknown>>(bytes((vec.response as RegistrationResponseJSON).response.attestationObject))
    const a = new SoftAuthenticator({ attestation: 'packed-full' })
    const ours = decodeAttObj(await a.createCredential(await regOptions(), { origin: ORIGIN }))
    assert.deepEqual([...ours.keys()], [...theirs.keys()])
    assert.deepEqual(
      [...(ours.get('attStmt') as Map<string, unknown>).keys()],
      [...(theirs.get('attStmt') as Map<string, unknown>).keys()],
    )
    const coseKeys = (m: Map<string, unknown>) =>
      [...isoCBOR.decodeFirst<Map<number, unknown>>(parseAuthenticatorData(m.get('authData') as Uint8Array<ArrayBuffer>).credentialPublicKey!).keys()]
    assert.deepEqual(coseKeys(ours), coseKeys(theirs))
  })
})
