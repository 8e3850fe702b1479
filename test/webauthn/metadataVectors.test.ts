/**
 * Real captured attestations (../shared/vectors: packed, tpm, android-key, apple, fido-u2f) against
 * a FIDO metadata BLOB this test builds from their own roots (issue #15 scope 5; CONTRACT
 * "Authenticator trust"): each vector's model is an entry of a BLOB signed by the test MDS, with
 * the vector's trust anchor (or, without one, the top certificate of its x5c) as
 * attestationRootCertificates, found by AAGUID or, for fido-u2f, by the attestation certificate's
 * key identifier (SHA-1 of its public key, computed here with node:crypto). Then: the attestation
 * verifies against the model's roots and the registration carries the model; with the model
 * REVOKED the service's policy check refuses it (authenticator_not_allowed); with roots of another
 * CA the attestation is refused (signature_invalid).
 *
 * This runs the ceremony's verification and policy functions (verifyRegistration, then
 * checkAuthenticator, as shared/webauthn/registration.ts does), not HTTP: a recorded attestation
 * is bound to its recorded challenge, origin and RP ID, which a live service would not issue.
 * The recorded conditions apply as in test/webauthn/vectors.test.ts (trust anchors as the library's
 * roots for the format: the W3C Apple vector is not under Apple's real root; a frozen clock); the
 * metadata check comes on top, and the foreign-roots case shows it decides on its own.
 */
import assert from 'node:assert/strict'
import { createHash, X509Certificate } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { isoCBOR } from '@simplewebauthn/server/helpers'
import { ServiceError } from '../../shared/errors.js'
import { checkAuthenticator } from '../../shared/webauthn/authenticatorPolicy.js'
import { AuthenticatorMetadata } from '../../shared/webauthn/metadata.js'
import { asRegistrationResponse } from '../../shared/webauthn/shape.js'
import { verifyRegistration } from '../../shared/webauthn/verifyRegistration.js'
import { createTestMds, mdsEntry, mdsPayload, type TestMds } from '../helpers/mds.js'
import { registrationVectors, underRecordedConditions, type RegistrationVector } from '../helpers/vectors.js'

const FORMATS = new Set(['packed', 'tpm', 'android-key', 'apple', 'fido-u2f'])
/** The library refuses these whatever the roots (test/webauthn/vectors.test.ts KNOWN_DIVERGENCES). */
const LIBRARY_REFUSES = new Set(['w3c-tpm-es256-reg', 'w3c-fido-u2f-es256-reg'])
const b64u = (s: string) => new Uint8Array(Buffer.from(s, 'base64url'))

/** The vector's attestation statement x5c (DER), leaf first. */
function x5cOf(v: RegistrationVector): Uint8Array[] {
  const att = isoCBOR.decodeFirst<Map<string, unknown>>(b64u(v.response.response.attestationObject))
  const x5c = (att.get('attStmt') as Map<string, unknown>).get('x5c')
  return Array.isArray(x5c) ? (x5c as Uint8Array[]) : []
}

/** The vector's AAGUID, from authenticatorData (rpIdHash 32, flags 1, signCount 4, then 16 bytes). */
function aaguidOf(v: RegistrationVector): string {
  const att = isoCBOR.decodeFirst<Map<string, unknown>>(b64u(v.response.response.attestationObject))
  const hex = Buffer.from((att.get('authData') as Uint8Array).subarray(37, 53)).toString('hex')
  return hex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')
}

/** attestationCertificateKeyIdentifiers: hex SHA-1 of the P-256 point of the certificate's key. */
function keyIdOf(der: Uint8Array): string {
  const spki = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha1').update(spki.subarray(-65)).digest('hex')
}

/** The attested vectors that pass on their own, with what their metadata entry says. */
function attested() {
  return registrationVectors()
    .filter((v) => v.expected === 'pass' && !LIBRARY_REFUSES.has(v.id) && FORMATS.has(v.attestationFormat) && x5cOf(v).length > 0)
    .map((v) => {
      const x5c = x5cOf(v)
      const root = v.trustAnchors?.[0] ? Buffer.from(v.trustAnchors[0], 'base64url').toString('base64') : Buffer.from(x5c.at(-1)!).toString('base64')
      const u2f = v.attestationFormat === 'fido-u2f'
      return { v, root, aaguid: aaguidOf(v), keyId: u2f ? keyIdOf(x5c[0]!) : undefined, name: `Model of ${v.id}` }
    })
}

/** A metadata entry for a vector's model: FIDO2 by AAGUID, U2F by key identifier. */
async function entryFor(m: ReturnType<typeof attested>[number], statuses: string[], roots = [m.root]) {
  const e = await mdsEntry({ aaguid: m.aaguid, name: m.name, statuses, roots })
  if (!m.keyId) return e
  const { aaguid: _drop, ...rest } = e
  return { ...rest, attestationCertificateKeyIdentifiers: [m.keyId.toUpperCase()] }
}

/** An AuthenticatorMetadata holding `blob` (a file source whose reader hands it over). */
function metadataOf(mds: TestMds, blob: string): AuthenticatorMetadata {
  return new AuthenticatorMetadata({
    config: { metadataBlob: { kind: 'file', path: 'vectors.jwt' }, metadataRoot: [mds.rootPem] },
    clock: { now: () => Date.now() },
    read: async () => blob,
    log: () => {},
  })
}

const register = (v: RegistrationVector, metadata: AuthenticatorMetadata) =>
  verifyRegistration({
    response: asRegistrationResponse(v.response),
    expectedChallenge: v.expectedChallenge,
    expectedOrigins: [v.expectedOrigin],
    expectedRPID: v.rpId,
    requireUserVerification: v.requireUserVerification,
    metadata,
  })

describe('Real attestations against a FIDO metadata BLOB built from their roots', () => {
  let mds: TestMds
  let models: ReturnType<typeof attested>
  let good: AuthenticatorMetadata
  let revoked: AuthenticatorMetadata
  let foreign: AuthenticatorMetadata
  before(async () => {
    mds = await createTestMds()
    models = attested()
    const other = Buffer.from(new X509Certificate((await createTestMds()).rootPem).raw).toString('base64')
    good = metadataOf(mds, await mds.sign(mdsPayload(await Promise.all(models.map((m) => entryFor(m, ['FIDO_CERTIFIED_L1']))))))
    revoked = metadataOf(mds, await mds.sign(mdsPayload(await Promise.all(models.map((m) => entryFor(m, ['FIDO_CERTIFIED_L1', 'REVOKED']))))))
    foreign = metadataOf(mds, await mds.sign(mdsPayload(await Promise.all(models.map((m) => entryFor(m, ['FIDO_CERTIFIED_L1'], [other]))))))
  })

  it('covers every attested format: packed, tpm, android-key, apple and fido-u2f (by key identifier)', () => {
    assert.deepEqual([...new Set(models.map((m) => m.v.attestationFormat))].sort(), ['android-key', 'apple', 'fido-u2f', 'packed', 'tpm'])
    assert.ok(models.some((m) => m.keyId), 'a U2F model known by attestationCertificateKeyIdentifiers')
  })

  it('each registers with its model from the metadata, attestation trusted (acr phrh when device-bound), and passes policy certified', async (t) => {
    for (const m of models) {
      const reg = await underRecordedConditions(t, m.v, () => register(m.v, good))
      assert.equal(reg.model?.name, m.name, m.v.id)
      assert.equal(reg.attestationTrusted, true, m.v.id)
      if (m.keyId) assert.equal(reg.attestationKeyId, m.keyId, m.v.id)
      checkAuthenticator({ policy: { kind: 'certified' }, aaguid: reg.aaguid, model: reg.model, attestationTrusted: reg.attestationTrusted })
    }
  })

  it('with its model REVOKED in the metadata, each is refused: authenticator_not_allowed', async (t) => {
    for (const m of models) {
      const reg = await underRecordedConditions(t, m.v, () => register(m.v, revoked))
      assert.equal(reg.model?.refused, true, m.v.id)
      assert.throws(
        () => checkAuthenticator({ policy: { kind: 'any' }, aaguid: reg.aaguid, model: reg.model, attestationTrusted: reg.attestationTrusted }),
        (e) => e instanceof ServiceError && e.code === 'authenticator_not_allowed',
        m.v.id,
      )
    }
  })

  it("with another CA as the model's attestationRootCertificates, each attestation is refused: signature_invalid", async (t) => {
    for (const m of models)
      await assert.rejects(
        underRecordedConditions(t, m.v, () => register(m.v, foreign)),
        (e) => e instanceof ServiceError && e.code === 'signature_invalid' && /FIDO metadata/.test(e.message),
        m.v.id,
      )
  })
})
