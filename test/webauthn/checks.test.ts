/**
 * Unit tests of every check in verifyRegistration / verifyAuthentication (and the body shape
 * checks), driven by the SoftAuthenticator — no server, no storage. Each test is named after its
 * WebAuthn Level 3 anchor and asserts the exact contract `code` (CONTRACT.md, Errors).
 *
 * Why the code proves that OUR check ran: every error SimpleWebAuthn throws is mapped at one seam —
 * to `signature_invalid` (or `unsupported_algorithm` / `invalid_request` for an unsupported alg /
 * fmt). The library also rejects a wrong type, challenge, origin, RP ID, UP, UV or BS-without-BE,
 * but through the seam that would read `signature_invalid`; crossOrigin, the credential id, the
 * counter (the library is given counter 0) and the credential id length it does not check at all,
 * so without our check those would pass. Each negative test has a control that differs only in the
 * fault and passes.
 */
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, createHash } from 'node:crypto'
import { keyPair } from '../helpers/keys.js'
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server'
import { isoCBOR } from '@simplewebauthn/server/helpers'
import { ServiceError, type ErrorCode } from '../../shared/errors.js'
import { asAuthenticationResponse, asRegistrationResponse } from '../../shared/webauthn/shape.js'
import { SUPPORTED_ALGS, verifyRegistration, type VerifiedRegistration } from '../../shared/webauthn/verifyRegistration.js'
import { verifyAuthentication, type StoredCredential } from '../../shared/webauthn/verifyAuthentication.js'
import {
  COSE_ALG,
  SOFT_AUTHENTICATOR_AAGUID,
  SoftAuthenticator,
  type CreateCredentialOptions,
  type GetAssertionOptions,
  type SoftAlg,
  type SoftAttestation,
} from '../helpers/authenticator.js'

const RP_ID = 'localhost'
const ORIGIN = 'http://localhost:7071'
const ALGS: SoftAlg[] = ['ES256', 'RS256', 'EdDSA']
type Cbor = Parameters<typeof isoCBOR.encode>[0]

const b64u = (b: Uint8Array | string) => Buffer.from(b).toString('base64url')
const unb64u = (s: string) => new Uint8Array(Buffer.from(s, 'base64url'))
/** base64url with its "=" padding (standard base64 keeps it; the contract's base64url has none). */
const padded = (s: string) => {
  const p = s + '='.repeat((4 - (s.length % 4)) % 4)
  assert.ok(p.endsWith('='), 'the value needs padding (its byte length is not a multiple of 3)')
  return p
}
/** base64url with a line break in the middle (MIME style). */
const broken = (s: string) => `${s.slice(0, 8)}\n${s.slice(8)}`
const sha256 = (s: string | Uint8Array) => new Uint8Array(createHash('sha256').update(s).digest())

// ------------------------------------------------------------------------------------------------
// Ceremony helpers

function creationOptions(): PublicKeyCredentialCreationOptionsJSON {
  return {
    rp: { id: RP_ID, name: 'Passkey Edge' },
    user: { id: b64u(randomBytes(16)), name: 'alice', displayName: 'Alice' },
    challenge: b64u(randomBytes(32)),
    pubKeyCredParams: SUPPORTED_ALGS.map((alg) => ({ type: 'public-key' as const, alg })),
    timeout: 60_000,
    attestation: 'direct',
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  }
}

function requestOptions(allow: string[]): PublicKeyCredentialRequestOptionsJSON {
  return {
    challenge: b64u(randomBytes(32)),
    rpId: RP_ID,
    allowCredentials: allow.map((id) => ({ id, type: 'public-key' as const })),
    userVerification: 'required',
    timeout: 60_000,
  }
}

interface VerifyOverrides {
  expectedChallenge?: string
  expectedOrigins?: string[]
  expectedRPID?: string
  requireUserVerification?: boolean
}

/** Shape check + verifyRegistration with the RP's defaults (UV required). */
function verifyReg(response: unknown, challenge: string, o: VerifyOverrides = {}): Promise<VerifiedRegistration> {
  return verifyRegistration({
    response: asRegistrationResponse(response),
    expectedChallenge: o.expectedChallenge ?? challenge,
    expectedOrigins: o.expectedOrigins ?? [ORIGIN],
    expectedRPID: o.expectedRPID ?? RP_ID,
    requireUserVerification: o.requireUserVerification ?? true,
  })
}

/** A registration made by `a` (createCredential opts merged with the origin). */
async function makeRegistration(a: SoftAuthenticator, opts: Partial<CreateCredentialOptions> = {}) {
  const options = creationOptions()
  const response = await a.createCredential(options, { origin: ORIGIN, ...opts })
  return { options, response, challenge: options.challenge }
}

/** A registered credential (verified by our path) as the store would hold it. */
async function enrol(a: SoftAuthenticator): Promise<StoredCredential> {
  const { response, challenge } = await makeRegistration(a)
  const reg = await verifyReg(response, challenge)
  return { id: reg.credentialId, publicKey: reg.publicKey, counter: reg.counter }
}

async function makeAssertion(a: SoftAuthenticator, cred: StoredCredential, opts: Partial<GetAssertionOptions> = {}) {
  const options = requestOptions([cred.id])
  const response = await a.getAssertion(options, { origin: ORIGIN, ...opts })
  return { options, response, challenge: options.challenge }
}

function verifyAuth(response: unknown, challenge: string, credential: StoredCredential, o: VerifyOverrides = {}) {
  return verifyAuthentication({
    response: asAuthenticationResponse(response),
    expectedChallenge: o.expectedChallenge ?? challenge,
    expectedOrigins: o.expectedOrigins ?? [ORIGIN],
    expectedRPID: o.expectedRPID ?? RP_ID,
    requireUserVerification: o.requireUserVerification ?? true,
    credential,
  })
}

/**
 * `fn` must reject with a ServiceError (never a TypeError/SyntaxError/library Error) of `code`, and
 * its detail must match `detail` — to tell apart checks that share a code (invalid_request).
 * Also accepts a synchronous throw (the shape checks throw synchronously).
 */
async function rejectsWith(fn: () => unknown, code: ErrorCode, detail?: RegExp): Promise<ServiceError> {
  let caught: unknown
  try {
    await fn()
  } catch (e) {
    caught = e
  }
  assert.ok(caught !== undefined, `expected a ServiceError ${code}, but it resolved`)
  assert.ok(
    caught instanceof ServiceError,
    `expected a ServiceError ${code}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`,
  )
  assert.equal(caught.code, code, `code (detail: ${caught.message.slice(0, 240)})`)
  if (detail) assert.match(caught.message, detail)
  return caught
}

// -- byte surgery on attestation objects (for the checks a SoftAuthenticator cannot break) --------

function decodeAtt(response: RegistrationResponseJSON): Map<string, Cbor> {
  return isoCBOR.decodeFirst<Map<string, Cbor>>(unb64u(response.response.attestationObject))
}

function withAttestationObject(response: RegistrationResponseJSON, attestationObject: string): RegistrationResponseJSON {
  return { ...response, response: { ...response.response, attestationObject } }
}

function withClientDataJSON<T extends RegistrationResponseJSON | AuthenticationResponseJSON>(r: T, clientDataJSON: string): T {
  return { ...r, response: { ...r.response, clientDataJSON } }
}

const encodeAtt = (m: Map<string, Cbor>) => b64u(new Uint8Array(isoCBOR.encode(m)))

/**
 * A registration (fmt "none") for a P-256 (ES256, -7) or P-384 (ES384, -35) key, built byte by byte:
 * the SoftAuthenticator only makes ES256/RS256/EdDSA keys. Both are identical but for the key.
 */
function handMadeRegistration(alg: 'ES256' | 'ES384', challenge: string, coseOverride?: Cbor): RegistrationResponseJSON {
  const { publicKey } = keyPair('ec', { namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' })
  const jwk = publicKey.export({ format: 'jwk' })
  const cose = coseOverride ?? new Map<number, Cbor>([
    [1, 2], // kty EC2
    [3, alg === 'ES256' ? -7 : -35], // alg
    [-1, alg === 'ES256' ? 1 : 2], // crv P-256 / P-384
    [-2, unb64u(jwk.x!)],
    [-3, unb64u(jwk.y!)],
  ])
  const credId = new Uint8Array(randomBytes(16))
  const aaguid = new Uint8Array(Buffer.from(SOFT_AUTHENTICATOR_AAGUID.replace(/-/g, ''), 'hex'))
  const flags = 0x01 | 0x04 | 0x40 // UP, UV, AT
  const authData = new Uint8Array(
    Buffer.concat([
      sha256(RP_ID),
      Buffer.from([flags]),
      Buffer.from([0, 0, 0, 0]),
      aaguid,
      Buffer.from([0, credId.length]),
      credId,
      new Uint8Array(isoCBOR.encode(cose)),
    ]),
  )
  const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge, origin: ORIGIN, crossOrigin: false })
  const attestationObject = new Map<string, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]])
  const id = b64u(credId)
  return {
    id,
    rawId: id,
    type: 'public-key',
    clientExtensionResults: {},
    response: { clientDataJSON: b64u(clientDataJSON), attestationObject: encodeAtt(attestationObject), transports: ['usb'] },
  }
}

// ================================================================================================

describe('#sctn-registering-a-new-credential (verifyRegistration)', () => {
  describe('controls: well-formed registrations pass', () => {
    for (const alg of ALGS) {
      for (const attestation of ['none', 'packed-self', 'packed-full'] as SoftAttestation[]) {
        it(`${alg} / ${attestation} → alg ${COSE_ALG[alg]}, fmt, aaguid, flags`, async () => {
          const a = new SoftAuthenticator({ alg, attestation })
          const { response, challenge } = await makeRegistration(a)
          const reg = await verifyReg(response, challenge)
          assert.equal(reg.alg, COSE_ALG[alg])
          assert.equal(reg.fmt, attestation === 'none' ? 'none' : 'packed')
          assert.equal(reg.aaguid, SOFT_AUTHENTICATOR_AAGUID)
          assert.equal(reg.credentialId, response.id)
          assert.deepEqual(reg.transports, ['hybrid', 'internal'])
          assert.equal(reg.counter, 0)
          assert.deepEqual([reg.userPresent, reg.userVerified, reg.backupEligible, reg.backedUp], [true, true, false, false])
          // stored key: the authenticator's COSE key, byte for byte
          assert.deepEqual(unb64u(reg.publicKey), a.credential(reg.credentialId).publicKey)
        })
      }
    }
  })

  it('#dom-collectedclientdata-type: "webauthn.get" in a registration → invalid_request', async () => {
    const a = new SoftAuthenticator()
    const { response, challenge } = await makeRegistration(a, { type: 'webauthn.get' })
    await rejectsWith(() => verifyReg(response, challenge), 'invalid_request', /type is "webauthn\.get"/)
  })

  it('#dom-collectedclientdata-challenge: a challenge that was not issued → challenge_unknown', async () => {
    const a = new SoftAuthenticator()
    const { response, challenge } = await makeRegistration(a, { challengeOverride: b64u(randomBytes(32)) })
    await rejectsWith(() => verifyReg(response, challenge), 'challenge_unknown')
  })

  describe('#dom-collectedclientdata-origin', () => {
    for (const origin of ['https://evil.example', 'http://localhost:7072', 'http://localhost:7071/', 'https://localhost:7071']) {
      it(`origin ${origin} (not exactly an allowed origin) → origin_mismatch`, async () => {
        const a = new SoftAuthenticator()
        const { response, challenge } = await makeRegistration(a, { origin, rpId: RP_ID })
        await rejectsWith(() => verifyReg(response, challenge), 'origin_mismatch', /not allowed/)
      })
    }

    it('any of several allowed origins is accepted (control)', async () => {
      const a = new SoftAuthenticator()
      const { response, challenge } = await makeRegistration(a, { origin: 'https://app.example', rpId: RP_ID })
      await verifyReg(response, challenge, { expectedOrigins: [ORIGIN, 'https://app.example'] })
    })
  })

  it('#dom-collectedclientdata-crossorigin: crossOrigin true → origin_mismatch (the library would accept it)', async () => {
    const a = new SoftAuthenticator()
    const { response, challenge } = await makeRegistration(a, { crossOrigin: true })
    await rejectsWith(() => verifyReg(response, challenge), 'origin_mismatch', /Cross-origin/)
  })

  it('#dom-collectedclientdata-toporigin: a topOrigin (embedded in another site) → origin_mismatch', async () => {
    const a = new SoftAuthenticator()
    const { response, challenge } = await makeRegistration(a, { topOrigin: 'https://evil.example' } as never)
    await rejectsWith(() => verifyReg(response, challenge), 'origin_mismatch', /Cross-origin/)
  })

  it('#sctn-registering-a-new-credential step 13 (rpIdHash): credential for another RP ID → rp_id_mismatch', async () => {
    const a = new SoftAuthenticator()
    const { response, challenge } = await makeRegistration(a, { rpId: 'example.com' })
    await rejectsWith(() => verifyReg(response, challenge), 'rp_id_mismatch')
  })

  it('#concept-user-present: UP flag clear → user_presence_required', async () => {
    const a = new SoftAuthenticator()
    const { response, challenge } = await makeRegistration(a, { userPresent: false })
    await rejectsWith(() => verifyReg(response, challenge), 'user_presence_required')
  })

  describe('#concept-user-verified', () => {
    it('UV flag clear while required → user_verification_required', async () => {
      const a = new SoftAuthenticator()
      const { response, challenge } = await makeRegistration(a, { userVerified: false })
      await rejectsWith(() => verifyReg(response, challenge, { requireUserVerification: true }), 'user_verification_required')
    })

    it('UV flag clear while not required → accepted, userVerified false', async () => {
      const a = new SoftAuthenticator()
      const { response, challenge } = await makeRegistration(a, { userVerified: false })
      const reg = await verifyReg(response, challenge, { requireUserVerification: false })
      assert.equal(reg.userVerified, false)
      assert.equal(reg.userPresent, true)
    })
  })

  describe('#sctn-credential-backup', () => {
    it('BS set without BE → invalid_request', async () => {
      const a = new SoftAuthenticator()
      const { response, challenge } = await makeRegistration(a, { overrideFlags: { be: false, bs: true } })
      await rejectsWith(() => verifyReg(response, challenge), 'invalid_request', /backed up but not backup-eligible/)
    })

    it('BE and BS set → accepted (synced passkey); BE alone → accepted (control)', async () => {
      const synced = new SoftAuthenticator({ backupEligible: true, backedUp: true })
      const r1 = await makeRegistration(synced)
      const reg1 = await verifyReg(r1.response, r1.challenge)
      assert.deepEqual([reg1.backupEligible, reg1.backedUp], [true, true])
      const eligible = new SoftAuthenticator({ backupEligible: true })
      const r2 = await makeRegistration(eligible)
      const reg2 = await verifyReg(r2.response, r2.challenge)
      assert.deepEqual([reg2.backupEligible, reg2.backedUp], [true, false])
    })
  })

  describe('#sctn-registering-a-new-credential step 19 (attestation signature)', () => {
    for (const alg of ALGS) {
      it(`packed self attestation, ${alg}: tampered signature → signature_invalid`, async () => {
        const a = new SoftAuthenticator({ alg, attestation: 'packed-self' })
        const { response, challenge } = await makeRegistration(a, { tamperSignature: true })
        await rejectsWith(() => verifyReg(response, challenge), 'signature_invalid')
      })
    }

    it('packed full attestation (x5c): tampered signature → signature_invalid', async () => {
      const a = new SoftAuthenticator({ alg: 'ES256', attestation: 'packed-full' })
      const { response, challenge } = await makeRegistration(a, { tamperSignature: true })
      await rejectsWith(() => verifyReg(response, challenge), 'signature_invalid')
    })
  })

  describe('#sctn-registering-a-new-credential step 17 (alg): unsupported_algorithm', () => {
    it('control: the hand-made ES256 (-7) registration passes', async () => {
      const challenge = b64u(randomBytes(32))
      const reg = await verifyReg(handMadeRegistration('ES256', challenge), challenge)
      assert.equal(reg.alg, -7)
      assert.equal(reg.fmt, 'none')
      assert.deepEqual(reg.transports, ['usb'])
    })

    it('the same registration with an ES384 (-35) key → unsupported_algorithm', async () => {
      // The SoftAuthenticator offers only ES256/RS256/EdDSA, so this response is built by hand.
      assert.ok(!(SUPPORTED_ALGS as readonly number[]).includes(-35))
      const challenge = b64u(randomBytes(32))
      await rejectsWith(() => verifyReg(handMadeRegistration('ES384', challenge), challenge), 'unsupported_algorithm')
    })

    it('a credential public key that is CBOR but not a COSE map → invalid_request (never a 5xx)', async () => {
      const challenge = b64u(randomBytes(32))
      for (const cose of [5, 'key', [1, 2, 3]] as Cbor[])
        await rejectsWith(() => verifyReg(handMadeRegistration('ES256', challenge, cose), challenge), 'invalid_request', /COSE key/)
    })
  })

  it('#sctn-attestation-formats: an unknown attestation format → invalid_request', async () => {
    const a = new SoftAuthenticator()
    const { response, challenge } = await makeRegistration(a)
    const att = decodeAtt(response)
    att.set('fmt', 'x-homemade')
    await rejectsWith(
      () => verifyReg(withAttestationObject(response, encodeAtt(att)), challenge),
      'invalid_request',
      /Attestation format "x-homemade" is not supported/,
    )
  })

  it(
    '#sctn-attestation-formats: an unknown format whose name contains "alg" (ES256 key) → invalid_request',
    async () => {
      const a = new SoftAuthenticator()
      const { response, challenge } = await makeRegistration(a)
      const att = decodeAtt(response)
      att.set('fmt', 'algo')
      await rejectsWith(() => verifyReg(withAttestationObject(response, encodeAtt(att)), challenge), 'invalid_request', /not supported/)
    },
  )

  describe('#sctn-registering-a-new-credential step 22 (credential id)', () => {
    it('credential.id not the attested credential id → invalid_request', async () => {
      const a = new SoftAuthenticator()
      const { response, challenge } = await makeRegistration(a)
      const other = b64u(randomBytes(16))
      await rejectsWith(
        () => verifyReg({ ...response, id: other, rawId: other }, challenge),
        'invalid_request',
        /does not match the attested credential id/,
      )
    })

    it('a 1024-byte credential id → invalid_request; 1023 bytes → accepted (control)', async () => {
      const a = new SoftAuthenticator()
      const ok = await makeRegistration(a, { credentialId: new Uint8Array(randomBytes(1023)) })
      await verifyReg(ok.response, ok.challenge)
      const long = await makeRegistration(a, { credentialId: new Uint8Array(randomBytes(1024)) })
      await rejectsWith(() => verifyReg(long.response, long.challenge), 'invalid_request', /too long/)
    })
  })

  describe('malformed input → invalid_request (a ServiceError, never a TypeError or SyntaxError)', () => {
    let base: Awaited<ReturnType<typeof makeRegistration>>
    before(async () => {
      // fixed credential id length: the attestation object is then 178 bytes, so its base64 needs "=" padding
      base = await makeRegistration(new SoftAuthenticator(), { credentialId: new Uint8Array(randomBytes(16)) })
    })

    /** Straight into verifyRegistration (as if the shape check had let it through). */
    const direct = (response: RegistrationResponseJSON) =>
      verifyRegistration({
        response,
        expectedChallenge: base.challenge,
        expectedOrigins: [ORIGIN],
        expectedRPID: RP_ID,
        requireUserVerification: true,
      })

    it('control: the unmodified response passes both ways', async () => {
      await direct(base.response)
      await verifyReg(base.response, base.challenge)
    })

    const clientDataCases: [string, string, RegExp][] = [
      ['clientDataJSON not base64url ("*!")', '*!', /base64url/],
      ['clientDataJSON base64url of 5 characters (no whole byte in the last group)', 'eyJhY', /JSON/],
      ['clientDataJSON is not JSON', b64u('not json {'), /not valid JSON/],
      ['clientDataJSON is JSON null', b64u('null'), /lacks a challenge/],
      ['clientDataJSON is a JSON array', b64u('[1,2]'), /lacks a challenge/],
      ['clientDataJSON is a JSON string', b64u('"webauthn.create"'), /lacks a challenge/],
      ['clientDataJSON has no challenge', b64u(JSON.stringify({ type: 'webauthn.create', origin: ORIGIN })), /lacks a challenge/],
      ['clientDataJSON challenge is a number', b64u(JSON.stringify({ type: 'webauthn.create', challenge: 7, origin: ORIGIN })), /lacks a challenge/],
    ]
    for (const [name, value, detail] of clientDataCases) {
      it(`${name} → invalid_request`, async () => {
        await rejectsWith(() => direct(withClientDataJSON(base.response, value)), 'invalid_request', detail)
      })
    }

    const attCases: [string, () => string, RegExp][] = [
      ['attestationObject not base64url', () => 'a=b', /base64url/],
      ['attestationObject of one base64url character', () => 'A', /base64url|CBOR/],
      // a base64 decoder alone (jose) accepts these and yields the genuine bytes: only our guard rejects them
      ['attestationObject with padding', () => padded(base.response.response.attestationObject), /attestationObject must be base64url/],
      ['attestationObject with a line break', () => broken(base.response.response.attestationObject), /attestationObject must be base64url/],
      ['attestationObject is not CBOR (0xff 0xff 0xff)', () => b64u(new Uint8Array([0xff, 0xff, 0xff])), /CBOR/],
      ['attestationObject is truncated CBOR (tiny-cbor hands back a short authData)', () => base.response.response.attestationObject.slice(0, 40), /CBOR|malformed/],
      ['attestationObject is a CBOR integer', () => b64u(new Uint8Array(isoCBOR.encode(42))), /CBOR|lacks/],
      ['attestationObject is a CBOR array', () => b64u(new Uint8Array(isoCBOR.encode([1, 2]))), /CBOR|lacks/],
      [
        'attestationObject without authData',
        () => {
          const m = decodeAtt(base.response)
          m.delete('authData')
          return encodeAtt(m)
        },
        /lacks fmt or authData/,
      ],
      [
        'attestationObject with a text authData',
        () => {
          const m = decodeAtt(base.response)
          m.set('authData', 'not bytes')
          return encodeAtt(m)
        },
        /lacks fmt or authData/,
      ],
      [
        'attestationObject with a numeric fmt',
        () => {
          const m = decodeAtt(base.response)
          m.set('fmt', 7)
          return encodeAtt(m)
        },
        /lacks fmt or authData/,
      ],
      [
        'attestationObject with a numeric attStmt',
        () => {
          const m = decodeAtt(base.response)
          m.set('attStmt', 5)
          return encodeAtt(m)
        },
        /CBOR/,
      ],
      [
        'authData shorter than 37 bytes',
        () => {
          const m = decodeAtt(base.response)
          m.set('authData', (m.get('authData') as Uint8Array).slice(0, 20))
          return encodeAtt(m)
        },
        /authenticatorData is malformed/,
      ],
      [
        'authData with trailing bytes',
        () => {
          const m = decodeAtt(base.response)
          m.set('authData', new Uint8Array([...(m.get('authData') as Uint8Array), 0xa0, 0x00]))
          return encodeAtt(m)
        },
        /authenticatorData is malformed/,
      ],
      [
        'authData with a truncated credential public key',
        () => {
          const m = decodeAtt(base.response)
          const ad = m.get('authData') as Uint8Array
          m.set('authData', ad.slice(0, ad.length - 10))
          return encodeAtt(m)
        },
        /authenticatorData is malformed/,
      ],
      [
        'authData without attested credential data (AT clear, no key)',
        () => {
          const m = decodeAtt(base.response)
          const ad = new Uint8Array((m.get('authData') as Uint8Array).slice(0, 37))
          ad[32] = ad[32]! & ~0x40
          m.set('authData', ad)
          return encodeAtt(m)
        },
        /no attested credential data/,
      ],
    ]
    for (const [name, value, detail] of attCases) {
      it(`${name} → invalid_request`, async () => {
        await rejectsWith(() => direct(withAttestationObject(base.response, value())), 'invalid_request', detail)
      })
    }
  })
})

// ================================================================================================

describe('#sctn-verifying-assertion (verifyAuthentication)', () => {
  const enrolled = new Map<SoftAlg, { a: SoftAuthenticator; cred: StoredCredential }>()
  before(async () => {
    for (const alg of ALGS) {
      const a = new SoftAuthenticator({ alg })
      enrolled.set(alg, { a, cred: await enrol(a) })
    }
  })
  /** The ES256 authenticator and a fresh copy of its stored credential (counter as stored now). */
  const es256 = () => {
    const e = enrolled.get('ES256')!
    return { a: e.a, cred: { ...e.cred, counter: e.a.credential(e.cred.id).counter } }
  }

  describe('controls: well-formed assertions pass', () => {
    for (const alg of ALGS) {
      it(`${alg}: signature verifies, newCounter = stored + 1, flags`, async () => {
        const { a, cred } = enrolled.get(alg)!
        const stored = { ...cred, counter: a.credential(cred.id).counter }
        const { response, challenge } = await makeAssertion(a, stored)
        const r = await verifyAuth(response, challenge, stored)
        assert.equal(r.newCounter, stored.counter + 1)
        assert.deepEqual([r.userPresent, r.userVerified, r.backupEligible, r.backedUp], [true, true, false, false])
      })
    }
  })

  describe('#sctn-verifying-assertion steps 5–6 (the credential is the stored one)', () => {
    it('response.id is not the stored credential id → credential_unknown (even with a key that verifies)', async () => {
      const { a, cred } = es256()
      const second = await enrol(a) // another credential on the same authenticator
      const { response, challenge } = await makeAssertion(a, cred)
      // Stored record: the other credential's id, but the key that did sign — so only the id check can fail.
      await rejectsWith(
        () => verifyAuth(response, challenge, { id: second.id, publicKey: cred.publicKey, counter: cred.counter }),
        'credential_unknown',
      )
      // control: the right record passes
      await verifyAuth(response, challenge, cred)
    })
  })

  it('#dom-collectedclientdata-type: "webauthn.create" in an assertion → invalid_request', async () => {
    const { a, cred } = es256()
    const { response, challenge } = await makeAssertion(a, cred, { type: 'webauthn.create' })
    await rejectsWith(() => verifyAuth(response, challenge, cred), 'invalid_request', /type is "webauthn\.create"/)
  })

  it('#dom-collectedclientdata-challenge: a challenge that was not issued → challenge_unknown', async () => {
    const { a, cred } = es256()
    const { response, challenge } = await makeAssertion(a, cred, { challengeOverride: b64u(randomBytes(32)) })
    await rejectsWith(() => verifyAuth(response, challenge, cred), 'challenge_unknown')
  })

  it('#dom-collectedclientdata-origin: origin not allowed → origin_mismatch', async () => {
    const { a, cred } = es256()
    const { response, challenge } = await makeAssertion(a, cred, { origin: 'https://evil.example', rpId: RP_ID })
    await rejectsWith(() => verifyAuth(response, challenge, cred), 'origin_mismatch', /not allowed/)
  })

  it('#dom-collectedclientdata-crossorigin: crossOrigin true → origin_mismatch (the library would accept it)', async () => {
    const { a, cred } = es256()
    const { response, challenge } = await makeAssertion(a, cred, { crossOrigin: true })
    await rejectsWith(() => verifyAuth(response, challenge, cred), 'origin_mismatch', /Cross-origin/)
  })

  it('#sctn-verifying-assertion step 15 (rpIdHash): assertion for another RP ID → rp_id_mismatch', async () => {
    const { a, cred } = es256()
    const { response, challenge } = await makeAssertion(a, cred, { rpId: 'example.com' })
    await rejectsWith(() => verifyAuth(response, challenge, cred), 'rp_id_mismatch')
  })

  it('#concept-user-present: UP flag clear → user_presence_required', async () => {
    const { a, cred } = es256()
    const { response, challenge } = await makeAssertion(a, cred, { userPresent: false })
    await rejectsWith(() => verifyAuth(response, challenge, cred), 'user_presence_required')
  })

  describe('#concept-user-verified', () => {
    it('UV flag clear while required → user_verification_required', async () => {
      const { a, cred } = es256()
      const { response, challenge } = await makeAssertion(a, cred, { userVerified: false })
      await rejectsWith(() => verifyAuth(response, challenge, cred, { requireUserVerification: true }), 'user_verification_required')
    })

    it('UV flag clear while not required → accepted, userVerified false', async () => {
      const { a, cred } = es256()
      const { response, challenge } = await makeAssertion(a, cred, { userVerified: false })
      const r = await verifyAuth(response, challenge, cred, { requireUserVerification: false })
      assert.equal(r.userVerified, false)
      assert.equal(r.userPresent, true)
    })
  })

  describe('#sctn-credential-backup', () => {
    it('BS set without BE → invalid_request', async () => {
      const { a, cred } = es256()
      const { response, challenge } = await makeAssertion(a, cred, { overrideFlags: { be: false, bs: true } })
      await rejectsWith(() => verifyAuth(response, challenge, cred), 'invalid_request', /backed up but not backup-eligible/)
    })

    it('BE with BS → accepted and reported (control)', async () => {
      const { a, cred } = es256()
      const { response, challenge } = await makeAssertion(a, cred, { overrideFlags: { be: true, bs: true } })
      const r = await verifyAuth(response, challenge, cred)
      assert.deepEqual([r.backupEligible, r.backedUp], [true, true])
    })
  })

  describe('#sctn-verifying-assertion step 20 (signature)', () => {
    for (const alg of ALGS) {
      it(`${alg}: tampered signature → signature_invalid`, async () => {
        const { a, cred } = enrolled.get(alg)!
        const stored = { ...cred, counter: a.credential(cred.id).counter }
        const { response, challenge } = await makeAssertion(a, stored, { tamperSignature: true })
        await rejectsWith(() => verifyAuth(response, challenge, stored), 'signature_invalid')
      })
    }

    it('signature bytes that are not a signature at all → signature_invalid (a ServiceError)', async () => {
      const { a, cred } = es256()
      const { response, challenge } = await makeAssertion(a, cred)
      const broken = { ...response, response: { ...response.response, signature: b64u(new Uint8Array([0x30, 0x02, 0x01])) } }
      await rejectsWith(() => verifyAuth(broken, challenge, cred), 'signature_invalid')
    })

    it('authenticatorData changed after signing (UV bit added) → signature_invalid', async () => {
      const { a, cred } = es256()
      const { response, challenge } = await makeAssertion(a, cred, { userVerified: false })
      const ad = unb64u(response.response.authenticatorData)
      ad[32] = ad[32]! | 0x04
      const forged = { ...response, response: { ...response.response, authenticatorData: b64u(ad) } }
      await rejectsWith(() => verifyAuth(forged, challenge, cred), 'signature_invalid')
    })
  })

  describe('#sctn-sign-counter', () => {
    /** A fresh credential with stored counter `stored`, asserting with signCount `sent`. */
    async function run(stored: number, sent: number) {
      const a = new SoftAuthenticator()
      const cred = await enrol(a)
      const { response, challenge } = await makeAssertion(a, cred, { counterOverride: sent })
      return verifyAuth(response, challenge, { ...cred, counter: stored })
    }

    it('equal non-zero counter (5 → 5) → counter_regression', async () => {
      await rejectsWith(() => run(5, 5), 'counter_regression')
    })

    it('lower counter (5 → 4) → counter_regression', async () => {
      await rejectsWith(() => run(5, 4), 'counter_regression')
    })

    it('counter dropped to zero (5 → 0) → counter_regression', async () => {
      await rejectsWith(() => run(5, 0), 'counter_regression')
    })

    it('both zero (0 → 0, counter-less passkeys) → accepted, newCounter 0', async () => {
      assert.equal((await run(0, 0)).newCounter, 0)
    })

    it('increase (5 → 6, 0 → 1) → accepted with the new value (control)', async () => {
      assert.equal((await run(5, 6)).newCounter, 6)
      assert.equal((await run(0, 1)).newCounter, 1)
    })
  })

  describe('malformed input → invalid_request (a ServiceError, never a TypeError or SyntaxError)', () => {
    /** Straight into verifyAuthentication (as if the shape check had let it through). */
    async function direct(mutate: (r: AuthenticationResponseJSON) => AuthenticationResponseJSON) {
      const { a, cred } = es256()
      const { response, challenge } = await makeAssertion(a, cred)
      return verifyAuthentication({
        response: mutate(response),
        expectedChallenge: challenge,
        expectedOrigins: [ORIGIN],
        expectedRPID: RP_ID,
        requireUserVerification: true,
        credential: cred,
      })
    }
    const setAuthData = (v: string) => (r: AuthenticationResponseJSON) => ({ ...r, response: { ...r.response, authenticatorData: v } })

    it('control: an unmodified response passes', async () => {
      await direct((r) => r)
    })

    const cases: [string, (r: AuthenticationResponseJSON) => AuthenticationResponseJSON, RegExp][] = [
      ['clientDataJSON not base64url', (r) => withClientDataJSON(r, '{"type":1}'), /base64url/],
      ['clientDataJSON is not JSON', (r) => withClientDataJSON(r, b64u('}{')), /not valid JSON/],
      ['clientDataJSON without a challenge', (r) => withClientDataJSON(r, b64u('{"type":"webauthn.get"}')), /lacks a challenge/],
      ['authenticatorData not base64url', setAuthData('a+b/c='), /base64url/],
      ['authenticatorData of one base64url character', setAuthData('A'), /base64url|malformed/],
      // a base64 decoder alone (jose) accepts these and yields the genuine bytes: only our guard rejects them
      ['authenticatorData with padding', (r) => setAuthData(padded(r.response.authenticatorData))(r), /authenticatorData must be base64url/],
      ['authenticatorData with a line break', (r) => setAuthData(broken(r.response.authenticatorData))(r), /authenticatorData must be base64url/],
      ['authenticatorData shorter than 37 bytes', setAuthData(b64u(randomBytes(36))), /malformed/],
      [
        'authenticatorData with AT set but no attested data',
        (r) => {
          const ad = unb64u(r.response.authenticatorData)
          ad[32] = ad[32]! | 0x40
          return setAuthData(b64u(ad))(r)
        },
        /malformed/,
      ],
      [
        'authenticatorData with ED set but no extensions',
        (r) => {
          const ad = unb64u(r.response.authenticatorData)
          ad[32] = ad[32]! | 0x80
          return setAuthData(b64u(ad))(r)
        },
        /malformed/,
      ],
      [
        'authenticatorData with trailing bytes',
        (r) => setAuthData(b64u(new Uint8Array([...unb64u(r.response.authenticatorData), 0xff])))(r),
        /malformed/,
      ],
    ]
    for (const [name, mutate, detail] of cases) {
      it(`${name} → invalid_request`, async () => {
        await rejectsWith(() => direct(mutate), 'invalid_request', detail)
      })
    }
  })
})

// ================================================================================================

describe('asRegistrationResponse / asAuthenticationResponse (body shape) → invalid_request', () => {
  let reg: RegistrationResponseJSON
  let auth: AuthenticationResponseJSON
  before(async () => {
    const a = new SoftAuthenticator()
    const r = await makeRegistration(a)
    reg = r.response
    const cred = await enrol(a)
    auth = (await makeAssertion(a, cred)).response
  })

  /** A deep copy with `path` set to `value` (undefined deletes). */
  function set(obj: unknown, path: string[], value: unknown): unknown {
    const copy = structuredClone(obj) as Record<string, unknown>
    let o = copy
    for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>
    const last = path[path.length - 1]!
    if (value === undefined) delete o[last]
    else o[last] = value
    return copy
  }

  it('controls: browser JSON passes; rawId and clientExtensionResults are normalised', () => {
    const r = asRegistrationResponse(reg)
    assert.equal(r.id, reg.id)
    assert.equal(r.response.attestationObject, reg.response.attestationObject)
    const noRaw = asRegistrationResponse(set(reg, ['rawId'], undefined))
    assert.equal(noRaw.rawId, reg.id)
    assert.deepEqual(asRegistrationResponse(set(reg, ['clientExtensionResults'], undefined)).clientExtensionResults, {})
    assert.deepEqual(asRegistrationResponse(set(reg, ['clientExtensionResults'], 'x')).clientExtensionResults, {})
    assert.deepEqual(asRegistrationResponse(set(reg, ['response', 'transports'], undefined)).response.transports, undefined)
    const a = asAuthenticationResponse(auth)
    assert.equal(a.response.signature, auth.response.signature)
    for (const uh of [undefined, null, '']) asAuthenticationResponse(set(auth, ['response', 'userHandle'], uh)) // absent, null, empty: all allowed
  })

  /** The detail names the field: `credential.response.signature must …` */
  const names = (path: string[]) => new RegExp(`credential\\.${path.join('\\.')} must`)
  /** For id cases rawId is set alike (or removed), so that only the id check can fire. */
  const mutate = (body: unknown, path: string[], value: unknown) =>
    path.length === 1 && path[0] === 'id' ? set(set(body, ['id'], value), ['rawId'], value) : set(body, path, value)

  const common: [string, string[], unknown][] = [
    ['id missing', ['id'], undefined],
    ['id empty', ['id'], ''],
    ['id a number', ['id'], 12345],
    ['id with padding', ['id'], 'AAAA='],
    ['id in standard base64', ['id'], 'ab+/cd'],
    ['id with whitespace', ['id'], 'QUJD RA'],
    ['id over 1400 characters', ['id'], 'A'.repeat(1401)],
    ['rawId not equal to id', ['rawId'], 'QUJD'],
    ['type missing', ['type'], undefined],
    ['type not "public-key"', ['type'], 'password'],
    ['response missing', ['response'], undefined],
    ['response an array', ['response'], []],
    ['response a string', ['response'], 'eyJ9'],
    ['clientDataJSON missing', ['response', 'clientDataJSON'], undefined],
    ['clientDataJSON an object', ['response', 'clientDataJSON'], { type: 'webauthn.create' }],
    ['clientDataJSON empty', ['response', 'clientDataJSON'], ''],
    ['clientDataJSON with padding', ['response', 'clientDataJSON'], 'eyJ9=='],
  ]

  describe('asRegistrationResponse', () => {
    for (const body of [null, undefined, 42, 'credential', [], true]) {
      it(`credential ${JSON.stringify(body) ?? 'undefined'} → invalid_request`, async () => {
        await rejectsWith(() => asRegistrationResponse(body), 'invalid_request', /credential must be an object/)
      })
    }
    const regCases: [string, string[], unknown][] = [
      ...common,
      ['attestationObject missing', ['response', 'attestationObject'], undefined],
      ['attestationObject a number', ['response', 'attestationObject'], 1],
      ['attestationObject with padding', ['response', 'attestationObject'], 'o2Nm=='],
      ['transports a string', ['response', 'transports'], 'usb'],
      ['transports with a number', ['response', 'transports'], ['usb', 1]],
      ['transports of 11 entries', ['response', 'transports'], Array.from({ length: 11 }, () => 'usb')],
      ['transports with a 40-character entry', ['response', 'transports'], ['x'.repeat(40)]],
    ]
    for (const [name, path, value] of regCases) {
      it(`${name} → invalid_request`, async () => {
        await rejectsWith(() => asRegistrationResponse(mutate(reg, path, value)), 'invalid_request', names(path))
      })
    }
  })

  describe('asAuthenticationResponse', () => {
    for (const body of [null, undefined, 42, 'credential', [], true]) {
      it(`credential ${JSON.stringify(body) ?? 'undefined'} → invalid_request`, async () => {
        await rejectsWith(() => asAuthenticationResponse(body), 'invalid_request', /credential must be an object/)
      })
    }
    const authCases: [string, string[], unknown][] = [
      ...common,
      ['authenticatorData missing', ['response', 'authenticatorData'], undefined],
      ['authenticatorData an array', ['response', 'authenticatorData'], [1, 2]],
      ['signature missing', ['response', 'signature'], undefined],
      ['signature empty', ['response', 'signature'], ''],
      ['signature with padding', ['response', 'signature'], 'MEUCIQ=='],
      ['userHandle a number', ['response', 'userHandle'], 7],
      ['userHandle not base64url', ['response', 'userHandle'], 'a b'],
    ]
    for (const [name, path, value] of authCases) {
      it(`${name} → invalid_request`, async () => {
        await rejectsWith(() => asAuthenticationResponse(mutate(auth, path, value)), 'invalid_request', names(path))
      })
    }
  })
})
