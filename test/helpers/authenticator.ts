/**
 * A software WebAuthn authenticator + client for tests.
 *
 * `createCredential()` / `getAssertion()` take the server's
 * `PublicKeyCredentialCreationOptionsJSON` / `PublicKeyCredentialRequestOptionsJSON` and return
 * what `PublicKeyCredential.toJSON()` gives in a browser (`RegistrationResponseJSON` /
 * `AuthenticationResponseJSON`), ready to POST to the verify endpoints.
 *
 * It plays both the client (browser: clientDataJSON, JSON encoding, transports, extension results)
 * and the authenticator (authenticatorData, attestation, signatures), and — unlike a real one — it
 * lets a test break any rule on purpose (UP/UV off, wrong type/origin/challenge/rpId, bad signature,
 * counter regression, cloned keys).
 *
 * CBOR is encoded with SimpleWebAuthn's `isoCBOR` (tiny-cbor); keys and signatures use node:crypto;
 * attestation certificates use @peculiar/x509.
 */
import 'reflect-metadata' // @peculiar/x509 (tsyringe) needs a Reflect polyfill loaded first
import * as x509 from '@peculiar/x509'
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  KeyObject,
  randomBytes,
  randomInt,
  sign as nodeSign,
  webcrypto,
} from 'node:crypto'
import { promisify } from 'node:util'
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers'
import type {
  AuthenticationResponseJSON,
  AuthenticatorAttachment,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server'

const generateKeyPairAsync = promisify(generateKeyPair)
type Cbor = Parameters<typeof isoCBOR.encode>[0]
/** Bytes on a plain ArrayBuffer — what SimpleWebAuthn's APIs (`Uint8Array_`) and WebCrypto accept. */
export type Bytes = Uint8Array<ArrayBuffer>

// ---------------------------------------------------------------------------------------------
// Types

export type SoftAlg = 'ES256' | 'RS256' | 'EdDSA'
export type SoftAttestation = 'none' | 'packed-self' | 'packed-full'

/** COSE algorithm identifiers (RFC 9053 / IANA). */
export const COSE_ALG: Readonly<Record<SoftAlg, number>> = { ES256: -7, EdDSA: -8, RS256: -257 }

/** authenticatorData flag bits (WebAuthn §6.1). */
export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 } as const

/** Default AAGUID of a SoftAuthenticator (an arbitrary, fixed test value). */
export const SOFT_AUTHENTICATOR_AAGUID = '5e1f7e57-a0a0-4c0d-9e57-00000000a11c'
/** Transports reported by default: what a platform passkey provider reports, in the lexicographic
 * order that `getTransports()` must return (WebAuthn §5.2.1.1). */
export const DEFAULT_TRANSPORTS: readonly string[] = ['hybrid', 'internal']

export interface SoftAuthenticatorOptions {
  /** Credential key algorithm. Default ES256. */
  alg?: SoftAlg
  /** Attestation statement produced at registration. Default 'none'. */
  attestation?: SoftAttestation
  /** AAGUID (uuid string). Default SOFT_AUTHENTICATOR_AAGUID. */
  aaguid?: string
  /** BE flag of credentials this authenticator creates. Default false (or true when backedUp). */
  backupEligible?: boolean
  /** BS flag. Default false. Requires backupEligible. */
  backedUp?: boolean
  /** Transports reported at registration. Default ['hybrid', 'internal']. */
  transports?: string[]
  /** `authenticatorAttachment` in responses. Default 'platform'. */
  attachment?: AuthenticatorAttachment
}

/** Flag overrides: a raw flags byte replaces the computed one; an object sets/clears single bits. */
export type FlagOverride =
  | number
  | { up?: boolean; uv?: boolean; be?: boolean; bs?: boolean; at?: boolean; ed?: boolean }

interface CommonCeremonyOptions {
  /** Origin written into clientDataJSON. */
  origin: string
  /** RP ID hashed into authenticatorData (default: from the options, else origin's host). */
  rpId?: string
  /** UP flag. Default true. */
  userPresent?: boolean
  /** UV flag. Default true. */
  userVerified?: boolean
  /** clientDataJSON.challenge as-is instead of the (re-encoded) options challenge. */
  challengeOverride?: string
  /** clientDataJSON.crossOrigin. Default false. */
  crossOrigin?: boolean
  /** clientDataJSON.topOrigin (only written when given). */
  topOrigin?: string
  /** Extra members appended to clientDataJSON (browsers may add some, e.g. other_keys_can_be_added_here). */
  extraClientData?: Record<string, unknown>
  /** Sign other bytes than the real signature base: a well-formed signature that does not verify. */
  tamperSignature?: boolean
  /** Replace or adjust the flags byte after it was computed. */
  overrideFlags?: FlagOverride
}

export interface CreateCredentialOptions extends CommonCeremonyOptions {
  /** clientDataJSON.type. Default 'webauthn.create'. */
  type?: string
  /** Leave `response.transports` out. */
  omitTransports?: boolean
  /** Initial signature counter in the registration authData. Default 0. */
  signCount?: number
  /** Create even when the authenticator holds a credential in options.excludeCredentials
   *  (a real authenticator fails with InvalidStateError). */
  ignoreExcludeCredentials?: boolean
  /** Act like a browser on `options.attestation`: when it is 'none' (or missing), replace a
   *  packed-full statement by fmt 'none' (§5.1.3 step 20.3). Default false: always send what
   *  the authenticator was configured to produce. */
  applyAttestationConveyance?: boolean
  /** Credential ID to use instead of 16–32 random bytes. */
  credentialId?: Uint8Array
}

export interface GetAssertionOptions extends CommonCeremonyOptions {
  /** clientDataJSON.type. Default 'webauthn.get'. */
  type?: string
  /** Credential to use (base64url id). Default: the first credential in allowCredentials this
   *  authenticator holds, or, with empty allowCredentials, the first it holds for the RP ID. */
  credentialId?: string
  /** Use exactly this signCount (and store it). */
  counterOverride?: number
  /** Added to the stored counter before signing. Default 1; 0 mimics counter-less passkeys. */
  counterIncrement?: number
  /** Leave `response.userHandle` out. */
  omitUserHandle?: boolean
}

/** A read-only snapshot of a stored credential. */
export interface SoftCredential {
  /** base64url credential ID */
  id: string
  rpId: string
  /** base64url user handle (= options.user.id, normalised) */
  userHandle: string
  userName: string
  alg: SoftAlg
  coseAlg: number
  /** COSE_Key bytes — what SimpleWebAuthn's `WebAuthnCredential.publicKey` holds. */
  publicKey: Bytes
  /** SubjectPublicKeyInfo DER, base64url (what `response.publicKey` carries). */
  publicKeySpki: string
  counter: number
  aaguid: string
  backupEligible: boolean
  backedUp: boolean
}

/** A credential including its private key, to move between authenticators (same process). */
export interface ExportedSoftCredential extends SoftCredential {
  privateKey: KeyObject
}

interface StoredCredential {
  id: string
  rawId: Uint8Array
  rpId: string
  userHandle: string
  userName: string
  alg: SoftAlg
  privateKey: KeyObject
  publicKey: KeyObject
  cosePublicKey: Uint8Array
  counter: number
  aaguid: string
  backupEligible: boolean
  backedUp: boolean
}

// ---------------------------------------------------------------------------------------------
// Small byte helpers

const UINT32_MAX = 0xffffffff

function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest())
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function u32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > UINT32_MAX) throw new RangeError(`signCount ${n} is not a uint32`)
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

function u16(n: number): Uint8Array {
  const b = new Uint8Array(2)
  new DataView(b.buffer).setUint16(0, n)
  return b
}

function b64u(bytes: Uint8Array): string {
  return isoBase64URL.fromBuffer(new Uint8Array(bytes))
}

function fromB64u(s: string): Uint8Array {
  return new Uint8Array(isoBase64URL.toBuffer(s))
}

/** What a browser does to a base64url string from the JSON options: decode to bytes, then
 *  (in toJSON / clientDataJSON) encode again — unpadded base64url. */
function normaliseB64u(s: string, what: string): string {
  if (typeof s !== 'string') throw new TypeError(`${what} is not a base64url string`)
  return b64u(fromB64u(s))
}

function aaguidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '')
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`aaguid "${uuid}" is not a uuid`)
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

function hostOf(origin: string): string {
  try {
    return new URL(origin).hostname
  } catch {
    throw new TypeError(`origin "${origin}" is not a URL`)
  }
}

function domError(name: string, message: string): Error {
  const e = new Error(`${name}: ${message}`)
  e.name = name
  return e
}

// ---------------------------------------------------------------------------------------------
// Keys, COSE, signatures

/**
 * Generated already encoded (PEM) and parsed into KeyObjects of their own: a KeyObject straight
 * from the generation job shares its key data with the job, and a garbage collection during a
 * later `.export({ format: 'jwk' })` can deadlock Node 20 (the job's destructor waits for the
 * lock the export holds; see test/helpers/keys.ts).
 */
async function generateCredentialKey(alg: SoftAlg): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  const enc = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const
  const pem =
    alg === 'ES256'
      ? await generateKeyPairAsync('ec', { namedCurve: 'P-256', ...enc })
      : alg === 'EdDSA'
        ? await generateKeyPairAsync('ed25519', enc)
        : await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001, ...enc })
  const { publicKey, privateKey } = pem as unknown as { publicKey: string; privateKey: string }
  return { publicKey: createPublicKey(publicKey), privateKey: createPrivateKey(privateKey) }
}

/** COSE_Key (RFC 9053) for a public key, in CTAP2 canonical key order. */
function coseKey(alg: SoftAlg, publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' })
  const b = (v: string | undefined, name: string) => {
    if (!v) throw new Error(`public JWK lacks ${name}`)
    return fromB64u(v)
  }
  let map: Map<number, Cbor>
  switch (alg) {
    case 'ES256': // kty EC2, alg -7, crv P-256, x, y
      map = new Map<number, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, b(jwk.x, 'x')], [-3, b(jwk.y, 'y')]])
      break
    case 'EdDSA': // kty OKP, alg -8, crv Ed25519, x
      map = new Map<number, Cbor>([[1, 1], [3, -8], [-1, 6], [-2, b(jwk.x, 'x')]])
      break
    case 'RS256': // kty RSA, alg -257, n, e
      map = new Map<number, Cbor>([[1, 3], [3, -257], [-1, b(jwk.n, 'n')], [-2, b(jwk.e, 'e')]])
      break
  }
  return new Uint8Array(isoCBOR.encode(map))
}

/** A WebAuthn signature: ES256 → ASN.1 DER ECDSA, EdDSA → raw 64 bytes, RS256 → PKCS#1 v1.5. */
function signWith(alg: SoftAlg, key: KeyObject, data: Uint8Array): Uint8Array {
  switch (alg) {
    case 'ES256':
      return new Uint8Array(nodeSign('sha256', data, { key, dsaEncoding: 'der' }))
    case 'EdDSA':
      return new Uint8Array(nodeSign(null, data, key))
    case 'RS256':
      return new Uint8Array(nodeSign('sha256', data, key))
  }
}

/** The bytes signed when tamperSignature is set: the real base with its last bit flipped. */
function tampered(data: Uint8Array): Uint8Array {
  const t = new Uint8Array(data)
  t[t.length - 1] = (t[t.length - 1] ?? 0) ^ 0x01
  return t
}

function applyFlagOverride(flags: number, o: FlagOverride | undefined): number {
  if (o === undefined) return flags
  if (typeof o === 'number') return o & 0xff
  const bit = (v: boolean | undefined, mask: number) => {
    if (v === true) flags |= mask
    else if (v === false) flags &= ~mask
  }
  bit(o.up, FLAGS.UP)
  bit(o.uv, FLAGS.UV)
  bit(o.be, FLAGS.BE)
  bit(o.bs, FLAGS.BS)
  bit(o.at, FLAGS.AT)
  bit(o.ed, FLAGS.ED)
  return flags
}

// ---------------------------------------------------------------------------------------------
// Test attestation PKI (packed-full)

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
const ID_FIDO_GEN_CE_AAGUID = '1.3.6.1.4.1.45724.1.1.4'
const CERT_NOT_BEFORE = new Date('2020-01-01T00:00:00Z')
const CERT_NOT_AFTER = new Date('2049-12-31T23:59:59Z')

interface TestRoot {
  cert: x509.X509Certificate
  keys: CryptoKeyPair
}

export interface TestAttestationCertificate {
  /** Leaf attestation certificate, DER (what goes into x5c[0]). */
  der: Bytes
  pem: string
  /** Attestation private key (ES256), a node KeyObject. */
  privateKey: KeyObject
}

const wc = webcrypto as unknown as Crypto
let rootPromise: Promise<TestRoot> | undefined
const leafPromises = new Map<string, Promise<TestAttestationCertificate>>()

function serial(): string {
  const b = randomBytes(16)
  b[0] = (b[0] ?? 0) & 0x7f || 0x01 // positive, no leading zero byte
  return b.toString('hex')
}

function testRoot(): Promise<TestRoot> {
  rootPromise ??= (async () => {
    const keys = (await wc.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: serial(),
        name: 'C=US, O=Passkey Edge Tests, OU=Test Attestation CA, CN=Passkey Edge Test Attestation Root CA',
        notBefore: CERT_NOT_BEFORE,
        notAfter: CERT_NOT_AFTER,
        signingAlgorithm: ECDSA_P256,
        keys,
        extensions: [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, wc),
        ],
      },
      wc,
    )
    return { cert, keys }
  })()
  return rootPromise
}

/** PEM of the test attestation root CA (generated once per process). Trust it on the server with
 *  `SettingsService.setRootCertificates({ identifier: 'packed', certificates: [pem] })`. */
export async function getTestAttestationRootPem(): Promise<string> {
  return (await testRoot()).cert.toString('pem')
}

/** DER of the test attestation root CA. */
export async function getTestAttestationRootDer(): Promise<Bytes> {
  return new Uint8Array((await testRoot()).cert.rawData)
}

/**
 * The leaf attestation certificate for an AAGUID (cached per AAGUID), issued by the test root per
 * WebAuthn §8.2.1: version 3; subject C, O, OU="Authenticator Attestation", CN; basic constraints
 * CA=false; id-fido-gen-ce-aaguid (non-critical) equal to the AAGUID unless it is all zeros.
 */
export function getTestAttestationCertificate(aaguid: string = SOFT_AUTHENTICATOR_AAGUID): Promise<TestAttestationCertificate> {
  const key = aaguid.toLowerCase()
  let p = leafPromises.get(key)
  if (!p) {
    p = (async () => {
      const aag = aaguidBytes(aaguid)
      const root = await testRoot()
      const keys = (await wc.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair
      const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.AuthorityKeyIdentifierExtension.create(root.keys.publicKey, false, wc),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, wc),
      ]
      if (aag.some((b) => b !== 0)) {
        // extnValue = DER OCTET STRING wrapping the 16 AAGUID bytes
        extensions.push(new x509.Extension(ID_FIDO_GEN_CE_AAGUID, false, concat(new Uint8Array([0x04, 0x10]), aag)))
      }
      const cert = await x509.X509CertificateGenerator.create(
        {
          serialNumber: serial(),
          subject: 'C=US, O=Passkey Edge Tests, OU=Authenticator Attestation, CN=Passkey Edge Soft Authenticator',
          issuer: root.cert.subject,
          notBefore: CERT_NOT_BEFORE,
          notAfter: CERT_NOT_AFTER,
          signingAlgorithm: ECDSA_P256,
          publicKey: keys.publicKey,
          signingKey: root.keys.privateKey,
          extensions,
        },
        wc,
      )
      return {
        der: new Uint8Array(cert.rawData),
        pem: cert.toString('pem'),
        privateKey: KeyObject.from(keys.privateKey as unknown as webcrypto.CryptoKey),
      }
    })()
    leafPromises.set(key, p)
  }
  return p
}

// ---------------------------------------------------------------------------------------------
// The authenticator

export class SoftAuthenticator {
  readonly alg: SoftAlg
  readonly attestation: SoftAttestation
  readonly aaguid: string
  readonly backupEligible: boolean
  readonly backedUp: boolean
  readonly transports: readonly string[]
  readonly attachment: AuthenticatorAttachment
  readonly #store = new Map<string, StoredCredential>()

  constructor(options: SoftAuthenticatorOptions = {}) {
    this.alg = options.alg ?? 'ES256'
    if (!(this.alg in COSE_ALG)) throw new TypeError(`unsupported alg ${String(options.alg)}`)
    this.attestation = options.attestation ?? 'none'
    if (!['none', 'packed-self', 'packed-full'].includes(this.attestation)) {
      throw new TypeError(`unsupported attestation ${String(options.attestation)}`)
    }
    this.aaguid = (options.aaguid ?? SOFT_AUTHENTICATOR_AAGUID).toLowerCase()
    aaguidBytes(this.aaguid) // validate
    this.backedUp = options.backedUp ?? false
    this.backupEligible = options.backupEligible ?? this.backedUp
    if (this.backedUp && !this.backupEligible) {
      throw new TypeError('backedUp requires backupEligible (BS without BE is invalid; use overrideFlags to send it anyway)')
    }
    this.transports = [...(options.transports ?? DEFAULT_TRANSPORTS)]
    this.attachment = options.attachment ?? 'platform'
  }

  get coseAlg(): number {
    return COSE_ALG[this.alg]
  }

  // ---- registration -------------------------------------------------------------------------

  async createCredential(
    options: PublicKeyCredentialCreationOptionsJSON,
    opts: CreateCredentialOptions,
  ): Promise<RegistrationResponseJSON> {
    const coseAlg = this.coseAlg
    const params = options.pubKeyCredParams ?? []
    if (!params.some((p) => p.type === 'public-key' && p.alg === coseAlg)) {
      throw domError(
        'NotSupportedError',
        `SoftAuthenticator alg ${this.alg} (${coseAlg}) is not in pubKeyCredParams [${params.map((p) => p.alg).join(', ')}]`,
      )
    }
    if (!opts.ignoreExcludeCredentials) {
      for (const ex of options.excludeCredentials ?? []) {
        if (this.#store.has(normaliseB64u(ex.id, 'excludeCredentials[].id'))) {
          throw domError('InvalidStateError', `authenticator already holds excluded credential ${ex.id}`)
        }
      }
    }
    const rpId = opts.rpId ?? options.rp?.id ?? hostOf(opts.origin)
    const userHandle = normaliseB64u(options.user.id, 'user.id')
    const rawId = opts.credentialId ? new Uint8Array(opts.credentialId) : new Uint8Array(randomBytes(randomInt(16, 33)))
    const { privateKey, publicKey } = await generateCredentialKey(this.alg)
    const cosePublicKey = coseKey(this.alg, publicKey)
    const signCount = opts.signCount ?? 0

    let flags: number = FLAGS.AT
    if (opts.userPresent ?? true) flags |= FLAGS.UP
    if (opts.userVerified ?? true) flags |= FLAGS.UV
    if (this.backupEligible) flags |= FLAGS.BE
    if (this.backedUp) flags |= FLAGS.BS
    flags = applyFlagOverride(flags, opts.overrideFlags)

    const attestedCredentialData = concat(aaguidBytes(this.aaguid), u16(rawId.length), rawId, cosePublicKey)
    const authData = concat(sha256(rpId), new Uint8Array([flags]), u32(signCount), attestedCredentialData)
    const clientDataJSON = this.#clientData(opts.type ?? 'webauthn.create', options.challenge, opts)
    const clientDataHash = sha256(clientDataJSON)
    const signatureBase = concat(authData, clientDataHash)
    const signed = opts.tamperSignature ? tampered(signatureBase) : signatureBase

    let mode = this.attestation
    const conveyance = options.attestation ?? 'none'
    if (opts.applyAttestationConveyance && conveyance === 'none' && mode === 'packed-full') mode = 'none'
    if (opts.tamperSignature && mode === 'none') {
      throw new TypeError("tamperSignature needs a signed attestation ('packed-self' or 'packed-full'); fmt 'none' has no signature")
    }

    let fmt: string
    const attStmt = new Map<string, Cbor>()
    if (mode === 'none') {
      fmt = 'none'
    } else if (mode === 'packed-self') {
      fmt = 'packed'
      attStmt.set('alg', coseAlg)
      attStmt.set('sig', signWith(this.alg, privateKey, signed))
    } else {
      fmt = 'packed'
      const att = await getTestAttestationCertificate(this.aaguid)
      attStmt.set('alg', COSE_ALG.ES256)
      attStmt.set('sig', signWith('ES256', att.privateKey, signed))
      attStmt.set('x5c', [att.der])
    }
    const attestationObject = new Uint8Array(
      isoCBOR.encode(new Map<string, Cbor>([['fmt', fmt], ['attStmt', attStmt], ['authData', authData]])),
    )

    const id = b64u(rawId)
    this.#store.set(id, {
      id,
      rawId,
      rpId,
      userHandle,
      userName: options.user.name,
      alg: this.alg,
      privateKey,
      publicKey,
      cosePublicKey,
      counter: signCount,
      aaguid: this.aaguid,
      backupEligible: this.backupEligible,
      backedUp: this.backedUp,
    })

    const response: RegistrationResponseJSON['response'] = {
      clientDataJSON: b64u(clientDataJSON),
      authenticatorData: b64u(authData),
      ...(opts.omitTransports ? {} : { transports: [...this.transports] }),
      publicKey: b64u(publicKey.export({ type: 'spki', format: 'der' })),
      publicKeyAlgorithm: coseAlg,
      attestationObject: b64u(attestationObject),
    }
    return {
      id,
      rawId: id,
      response,
      authenticatorAttachment: this.attachment,
      clientExtensionResults: options.extensions?.credProps ? { credProps: { rk: true } } : {},
      type: 'public-key',
    }
  }

  // ---- authentication -----------------------------------------------------------------------

  async getAssertion(
    options: PublicKeyCredentialRequestOptionsJSON,
    opts: GetAssertionOptions,
  ): Promise<AuthenticationResponseJSON> {
    const requestedRpId = options.rpId ?? hostOf(opts.origin)
    const rpId = opts.rpId ?? requestedRpId
    const cred = this.#pick(options, opts, requestedRpId)

    if (opts.counterOverride !== undefined) {
      cred.counter = opts.counterOverride
    } else {
      const inc = opts.counterIncrement ?? 1
      cred.counter = (cred.counter + inc) % (UINT32_MAX + 1)
    }

    let flags = 0
    if (opts.userPresent ?? true) flags |= FLAGS.UP
    if (opts.userVerified ?? true) flags |= FLAGS.UV
    if (cred.backupEligible) flags |= FLAGS.BE
    if (cred.backedUp) flags |= FLAGS.BS
    flags = applyFlagOverride(flags, opts.overrideFlags)

    const authData = concat(sha256(rpId), new Uint8Array([flags]), u32(cred.counter))
    const clientDataJSON = this.#clientData(opts.type ?? 'webauthn.get', options.challenge, opts)
    const signatureBase = concat(authData, sha256(clientDataJSON))
    const signature = signWith(cred.alg, cred.privateKey, opts.tamperSignature ? tampered(signatureBase) : signatureBase)

    return {
      id: cred.id,
      rawId: cred.id,
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(opts.omitUserHandle ? {} : { userHandle: cred.userHandle }),
      },
      authenticatorAttachment: this.attachment,
      clientExtensionResults: {},
      type: 'public-key',
    }
  }

  #pick(options: PublicKeyCredentialRequestOptionsJSON, opts: GetAssertionOptions, rpId: string): StoredCredential {
    if (opts.credentialId !== undefined) {
      const c = this.#store.get(normaliseB64u(opts.credentialId, 'credentialId'))
      if (!c) throw domError('NotAllowedError', `SoftAuthenticator does not hold credential ${opts.credentialId}`)
      return c
    }
    const allow = options.allowCredentials ?? []
    if (allow.length > 0) {
      for (const a of allow) {
        const c = this.#store.get(normaliseB64u(a.id, 'allowCredentials[].id'))
        if (c) return c
      }
      throw domError('NotAllowedError', `SoftAuthenticator holds none of the ${allow.length} allowed credential(s)`)
    }
    for (const c of this.#store.values()) if (c.rpId === rpId) return c
    throw domError('NotAllowedError', `SoftAuthenticator holds no credential for RP ID "${rpId}"`)
  }

  #clientData(type: string, challenge: string, opts: CommonCeremonyOptions): Uint8Array {
    const cd: Record<string, unknown> = {
      type,
      challenge: opts.challengeOverride ?? normaliseB64u(challenge, 'challenge'),
      origin: opts.origin,
      crossOrigin: opts.crossOrigin ?? false,
    }
    if (opts.topOrigin !== undefined) cd.topOrigin = opts.topOrigin
    Object.assign(cd, opts.extraClientData ?? {})
    return new TextEncoder().encode(JSON.stringify(cd))
  }

  // ---- credential management ----------------------------------------------------------------

  /** Snapshots of the credentials held, in creation order. */
  credentials(): SoftCredential[] {
    return [...this.#store.values()].map(snapshot)
  }

  /** Snapshot of one credential (throws if not held). */
  credential(credentialId: string): SoftCredential {
    return snapshot(this.#get(credentialId))
  }

  /** Set the stored signature counter (the next assertion sends n + counterIncrement). */
  setCounter(credentialId: string, n: number): void {
    u32(n)
    this.#get(credentialId).counter = n
  }

  /** Change the BS flag a credential reports from now on (BE cannot change). */
  setBackedUp(credentialId: string, backedUp: boolean): void {
    const c = this.#get(credentialId)
    if (backedUp && !c.backupEligible) throw new TypeError('credential is not backup eligible')
    c.backedUp = backedUp
  }

  removeCredential(credentialId: string): boolean {
    return this.#store.delete(normaliseB64u(credentialId, 'credentialId'))
  }

  /** The credential with its private key (a KeyObject: same process only). */
  exportCredential(credentialId: string): ExportedSoftCredential {
    const c = this.#get(credentialId)
    return { ...snapshot(c), privateKey: c.privateKey }
  }

  /** Adopt an exported credential (key, user handle, RP ID, counter, flags) as an independent copy. */
  importCredential(c: ExportedSoftCredential): SoftCredential {
    const rawId = fromB64u(c.id)
    const stored: StoredCredential = {
      id: b64u(rawId),
      rawId,
      rpId: c.rpId,
      userHandle: c.userHandle,
      userName: c.userName,
      alg: c.alg,
      privateKey: c.privateKey,
      publicKey: createPublicKey(c.privateKey),
      cosePublicKey: new Uint8Array(c.publicKey),
      counter: c.counter,
      aaguid: c.aaguid,
      backupEligible: c.backupEligible,
      backedUp: c.backedUp,
    }
    this.#store.set(stored.id, stored)
    return snapshot(stored)
  }

  /** Copy a credential (same key, same counter at this moment) into another authenticator — a
   *  cloned authenticator; from then on the two counters advance independently. */
  cloneCredentialTo(target: SoftAuthenticator, credentialId: string): SoftCredential {
    return target.importCredential(this.exportCredential(credentialId))
  }

  /** A new authenticator with the same settings holding copies of all (or the given) credentials. */
  clone(credentialIds?: string[]): SoftAuthenticator {
    const twin = new SoftAuthenticator({
      alg: this.alg,
      attestation: this.attestation,
      aaguid: this.aaguid,
      backupEligible: this.backupEligible,
      backedUp: this.backedUp,
      transports: [...this.transports],
      attachment: this.attachment,
    })
    for (const id of credentialIds ?? [...this.#store.keys()]) this.cloneCredentialTo(twin, id)
    return twin
  }

  #get(credentialId: string): StoredCredential {
    const c = this.#store.get(normaliseB64u(credentialId, 'credentialId'))
    if (!c) throw new Error(`SoftAuthenticator does not hold credential ${credentialId}`)
    return c
  }
}

function snapshot(c: StoredCredential): SoftCredential {
  return {
    id: c.id,
    rpId: c.rpId,
    userHandle: c.userHandle,
    userName: c.userName,
    alg: c.alg,
    coseAlg: COSE_ALG[c.alg],
    publicKey: new Uint8Array(c.cosePublicKey),
    publicKeySpki: b64u(c.publicKey.export({ type: 'spki', format: 'der' })),
    counter: c.counter,
    aaguid: c.aaguid,
    backupEligible: c.backupEligible,
    backedUp: c.backedUp,
  }
}
