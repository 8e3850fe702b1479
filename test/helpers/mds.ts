/**
 * A test FIDO Metadata Service: its own root CA and BLOB signing certificate (made with
 * @peculiar/x509, as test/helpers/authenticator.ts makes attestation certificates), BLOBs signed
 * by it (jose), and metadata entries whose attestationRootCertificates are the soft
 * authenticator's attestation root, so that a `packed-full` SoftAuthenticator chains to them.
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { randomBytes, webcrypto } from 'node:crypto'
import { CompactSign } from 'jose'
import { getTestAttestationRootDer } from './authenticator.js'

const wc = webcrypto as unknown as Crypto
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

function serial(): string {
  const b = randomBytes(16)
  b[0] = (b[0] ?? 0) & 0x7f || 0x01
  return b.toString('hex')
}

export interface TestMds {
  /** PEM of this MDS's root: what METADATA_ROOT is set to. */
  rootPem: string
  /** The BLOB (compact JWS, x5c = [signing certificate]) for a payload. */
  sign(payload: unknown, opts?: { signingKey?: CryptoKey; x5c?: string[] }): Promise<string>
  /** Base64 DER of the BLOB signing certificate. */
  signerDer: string
}

/**
 * A root CA and a BLOB signing certificate under it. `signerValidity` makes the signing
 * certificate expired or not yet valid (validity-period tests).
 */
export async function createTestMds({ signerValidity }: { signerValidity?: { notBefore: Date; notAfter: Date } } = {}): Promise<TestMds> {
  const rootKeys = (await wc.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: 'C=US, O=Passkey Edge Tests, CN=Test MDS Root CA',
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2049-12-31T23:59:59Z'),
      signingAlgorithm: ECDSA_P256,
      keys: rootKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey, false, wc),
      ],
    },
    wc,
  )
  const signerKeys = (await wc.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair
  const signer = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: 'C=US, O=Passkey Edge Tests, CN=Test MDS BLOB Signer',
      issuer: root.subject,
      notBefore: signerValidity?.notBefore ?? new Date('2020-01-01T00:00:00Z'),
      notAfter: signerValidity?.notAfter ?? new Date('2049-12-31T23:59:59Z'),
      signingAlgorithm: ECDSA_P256,
      publicKey: signerKeys.publicKey,
      signingKey: rootKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey, false, wc),
      ],
    },
    wc,
  )
  const signerDer = Buffer.from(signer.rawData).toString('base64')
  return {
    rootPem: root.toString('pem'),
    signerDer,
    sign: (payload, opts = {}) =>
      new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: opts.x5c ?? [signerDer] })
        .sign(opts.signingKey ?? signerKeys.privateKey),
  }
}

/** Another P-256 private key (a BLOB signed by it does not verify with the signing certificate). */
export async function otherSigningKey(): Promise<CryptoKey> {
  return ((await wc.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair).privateKey
}

/** A metadata BLOB entry (FIDO MDS 3.0 #metadata-blob-payload-entry-dictionary) for a FIDO2 model. */
export async function mdsEntry({
  aaguid,
  name = 'Test Key',
  statuses = ['FIDO_CERTIFIED_L1'],
  roots,
  icon = 'data:image/png;base64,iVBORw0KGgo=',
}: {
  aaguid: string
  name?: string
  /** Status report statuses, oldest first (effective dates one day apart). */
  statuses?: string[]
  /** attestationRootCertificates (base64 DER); default: the soft authenticator's attestation root. */
  roots?: string[]
  /** metadataStatement.icon (a data: URL); default: the 8-byte PNG signature. */
  icon?: string
}): Promise<Record<string, unknown>> {
  const attestationRootCertificates = roots ?? [Buffer.from(await getTestAttestationRootDer()).toString('base64')]
  return {
    aaguid,
    metadataStatement: {
      aaguid,
      description: name,
      icon,
      authenticatorVersion: 1,
      protocolFamily: 'fido2',
      schema: 3,
      upv: [{ major: 1, minor: 1 }],
      authenticationAlgorithms: ['secp256r1_ecdsa_sha256_raw'],
      publicKeyAlgAndEncodings: ['cose'],
      attestationTypes: ['basic_full'],
      userVerificationDetails: [[{ userVerificationMethod: 'presence_internal' }]],
      keyProtection: ['hardware', 'secure_element'],
      matcherProtection: ['on_chip'],
      attachmentHint: ['external'],
      tcDisplay: [],
      attestationRootCertificates,
    },
    statusReports: statuses.map((status, i) => ({ status, effectiveDate: `2024-01-${String(i + 1).padStart(2, '0')}` })),
    timeOfLastStatusChange: '2024-01-01',
  }
}

/** A BLOB payload (FIDO MDS 3.0 #metadata-blob-payload-dictionary). */
export function mdsPayload(entries: unknown[], { no = 1, nextUpdate = '2099-01-01' }: { no?: number; nextUpdate?: string } = {}) {
  return { legalHeader: 'Test metadata, no legal meaning.', no, nextUpdate, entries }
}
