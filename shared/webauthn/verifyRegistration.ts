/**
 * Verifies a registration response (WebAuthn #sctn-registering-a-new-credential).
 * Stateless: the caller has already consumed the challenge. Our checks come first, in the spec's
 * order, each with its contract code; then @simplewebauthn/server verifies the attestation
 * statement and key, and whatever it throws is mapped at this one seam.
 */
import type { RegistrationResponseJSON, verifyRegistrationResponse } from '@simplewebauthn/server'
import { webauthnLib } from './lib.js'
import { ServiceError } from '../errors.js'
import { encode } from '../util/base64url.js'
import { checkAuthenticatorData, checkClientData, decodeField, type ExpectedRelyingParty } from './checks.js'
import type { AuthenticatorMetadata } from './metadata.js'
import type { MetadataEntry } from './verifyMetadataBlob.js'

/** ES256, EdDSA, RS256 (COSE ids, IANA "COSE Algorithms"), in the contract's order. */
export const SUPPORTED_ALGS = [-7, -8, -257] as const

const SUPPORTED_FORMATS: readonly string[] = ['none', 'packed', 'fido-u2f', 'tpm', 'android-key', 'android-safetynet', 'apple']

export interface VerifiedRegistration {
  credentialId: string
  publicKey: string
  alg: number
  counter: number
  aaguid: string
  fmt: string
  transports: string[]
  userPresent: boolean
  userVerified: boolean
  backupEligible: boolean
  backedUp: boolean
  /**
   * An attestation chain was verified: against the model's attestationRootCertificates when the
   * metadata knows the model, else against the configured roots for its format.
   */
  attestationTrusted: boolean
  /** The model's metadata entry (METADATA_BLOB), when known. */
  model?: MetadataEntry
  /** fido-u2f: the attestation certificate's key identifier (hex SHA-1 of its subject public key). */
  attestationKeyId?: string
}

/**
 * @example
 * const reg = await verifyRegistration({ response, expectedChallenge, expectedOrigins: ['https://app.example.com'],
 *   expectedRPID: 'example.com', requireUserVerification: true })
 */
export async function verifyRegistration(
  opts: ExpectedRelyingParty & {
    response: RegistrationResponseJSON
    expectedChallenge: string
    /** The authenticator metadata in use (./metadata.ts); none: roots by format only. */
    metadata?: Pick<AuthenticatorMetadata, 'lookupCredential'>
  },
): Promise<VerifiedRegistration> {
  const { response, expectedChallenge, expectedOrigins, expectedRPID, requireUserVerification = true, metadata } = opts
  const { lib, helpers } = await webauthnLib()
  // Steps 5–9: clientDataJSON type, challenge, origin.
  checkClientData(response.response.clientDataJSON, { expectedType: 'webauthn.create', expectedChallenge, expectedOrigins })
  // Step 12: decode the attestation object (CBOR, by the library).
  let fmt: string
  let authData: Uint8Array<ArrayBuffer>
  let x5c: Uint8Array[] = []
  try {
    const att = helpers.decodeAttestationObject(decodeField(response.response.attestationObject, 'attestationObject'))
    fmt = att.get('fmt')
    authData = att.get('authData') as Uint8Array<ArrayBuffer>
    const certs: unknown = att.get('attStmt')?.get('x5c')
    if (Array.isArray(certs)) x5c = certs.filter((c): c is Uint8Array => c instanceof Uint8Array)
  } catch (e) {
    if (e instanceof ServiceError) throw e
    throw new ServiceError('invalid_request', 'attestationObject is not valid CBOR')
  }
  if (typeof fmt !== 'string' || !(authData instanceof Uint8Array))
    throw new ServiceError('invalid_request', 'attestationObject lacks fmt or authData')
  // Steps 13–16: rpIdHash, UP, UV, BE/BS.
  const parsed = await checkAuthenticatorData(authData, { expectedRPID, requireUserVerification })
  if (!parsed.flags.at || !parsed.credentialID || !parsed.credentialPublicKey)
    throw new ServiceError('invalid_request', 'authenticatorData has no attested credential data')
  // Step 22: credential id at most 1023 bytes; and it must be the id the client reported.
  if (parsed.credentialID.length > 1023) throw new ServiceError('invalid_request', 'credential id too long')
  if (encode(parsed.credentialID) !== response.id)
    throw new ServiceError('invalid_request', 'credential.id does not match the attested credential id')

  // Step 17: the credential's algorithm is one we offered (COSE key label 3, decoded by the library).
  const alg = coseAlg(helpers, parsed.credentialPublicKey as Uint8Array<ArrayBuffer>)
  if (!(SUPPORTED_ALGS as readonly number[]).includes(alg))
    throw new ServiceError('unsupported_algorithm', 'Only ES256, EdDSA and RS256 passkeys are accepted')
  // Step 18: a registered attestation statement format (IANA "WebAuthn Attestation Statement Format Identifiers").
  if (!SUPPORTED_FORMATS.includes(fmt)) throw new ServiceError('invalid_request', `Attestation format "${fmt.slice(0, 40)}" is not supported`)

  // Steps 19–21: attestation statement and signature (library).
  let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>
  try {
    result = await lib.verifyRegistrationResponse({
      response,
      expectedChallenge,
      expectedOrigin: [...expectedOrigins],
      expectedRPID,
      requireUserPresence: true,
      requireUserVerification,
      supportedAlgorithmIDs: [...SUPPORTED_ALGS],
    })
  } catch (e) {
    // Everything we could check ourselves was checked above: what remains is the statement.
    const msg = e instanceof Error ? e.message : ''
    throw new ServiceError('signature_invalid', `Attestation did not verify: ${msg.slice(0, 200)}`, { cause: e })
  }
  if (!result.verified) throw new ServiceError('signature_invalid', 'Attestation did not verify')
  const info = result.registrationInfo
  const roots = fmt === 'none' ? [] : lib.SettingsService.getRootCertificates({ identifier: fmt as never })
  let attestationTrusted = x5c.length > 0 && roots.length > 0
  // FIDO MDS: with the model in the metadata, its attestation must chain to the model's roots
  // (what the library's verifyAttestationWithMetadata does, without its process-global MetadataService).
  // U2F models are known by the key identifier of their attestation certificate (FIDO MDS 3.0
  // #dom-metadatastatement-attestationcertificatekeyidentifiers), FIDO2 models by AAGUID.
  const attestationKeyId = fmt === 'fido-u2f' && x5c[0] ? await keyIdentifier(helpers, x5c[0]) : undefined
  const model = await metadata?.lookupCredential({ aaguid: info.aaguid, attestationKeyId })
  if (model && model.attestationRoots.length > 0 && x5c.length > 0) {
    if (!(await chainsTo(helpers, x5c, model.attestationRoots)))
      throw new ServiceError('signature_invalid', `Attestation does not chain to the roots the FIDO metadata gives for this model (${model.name})`)
    attestationTrusted = true
  }
  return {
    credentialId: info.credential.id,
    publicKey: encode(info.credential.publicKey),
    alg,
    counter: info.credential.counter,
    aaguid: info.aaguid,
    fmt,
    transports: (response.response.transports ?? []).filter((t) => typeof t === 'string'),
    userPresent: parsed.flags.up,
    userVerified: parsed.flags.uv,
    backupEligible: parsed.flags.be,
    backedUp: parsed.flags.bs,
    attestationTrusted,
    ...(model ? { model } : {}),
    ...(attestationKeyId ? { attestationKeyId } : {}),
  }
}

/** Hex SHA-1 of a certificate's subjectPublicKey (the BIT STRING's bytes, RFC 5280 §4.2.1.2 method 1). */
async function keyIdentifier(helpers: Awaited<ReturnType<typeof webauthnLib>>['helpers'], der: Uint8Array): Promise<string | undefined> {
  try {
    const spki = helpers.getCertificateInfo(der as Uint8Array<ArrayBuffer>).parsedCertificate.tbsCertificate.subjectPublicKeyInfo
    const digest = await crypto.subtle.digest('SHA-1', spki.subjectPublicKey)
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
  } catch {
    return undefined
  }
}

/**
 * Whether the x5c chain (leaf first) reaches one of `roots` (PEM): the library's path check
 * (signatures, validity periods, CRLs a certificate names). A statement that lists the
 * attestation certificate itself ("self-referencing", as the library calls it) is trusted as is.
 */
async function chainsTo(helpers: Awaited<ReturnType<typeof webauthnLib>>['helpers'], x5c: Uint8Array[], roots: readonly string[]): Promise<boolean> {
  const body = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '')
  const anchors = new Set(roots.map(body))
  const chain = x5c.map((der) => helpers.convertCertBufferToPEM(der as Uint8Array<ArrayBuffer>))
  const path = chain.filter((pem) => !anchors.has(body(pem)))
  if (path.length === 0) return true
  try {
    return await helpers.validateCertificatePath(path, [...roots])
  } catch {
    return false
  }
}

/** COSE key label 3 = alg (RFC 9052 §7.1). Decoded by the library; we only read the label. */
function coseAlg(helpers: Awaited<ReturnType<typeof webauthnLib>>['helpers'], publicKey: Uint8Array<ArrayBuffer>): number {
  let key: unknown
  try {
    key = helpers.decodeCredentialPublicKey(publicKey)
  } catch {
    throw new ServiceError('invalid_request', 'credentialPublicKey is not a COSE key')
  }
  // A COSE key is a CBOR map (RFC 9052 §7); anything else is malformed input.
  if (!(key instanceof Map)) throw new ServiceError('invalid_request', 'credentialPublicKey is not a COSE key')
  const alg = key.get(3)
  return typeof alg === 'number' ? alg : 0
}
