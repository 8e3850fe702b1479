/**
 * Verifies a FIDO Metadata Service BLOB (FIDO MDS 3.0 #metadata-blob-object-processing-rules)
 * and reads the entries this service uses. Stateless: the caller (./metadata.ts) keeps the last
 * good BLOB and decides what a failure means.
 *
 * Not @simplewebauthn/server's MetadataService / verifyMDSBlob: they are process-global (the root
 * comes from the global SettingsService 'mds', statements go into one singleton cache), which
 * does not fit a root per configuration, several services in one process (the tests), a last
 * good BLOB kept across a bad download, or status REVOKED (its compromised list omits it). The
 * certificate path is the library's `validateCertificatePath`, which takes the anchors as an
 * argument; the JWS is jose's.
 *
 * What the chain check does: signatures up the x5c chain to one of METADATA_ROOT, each
 * certificate's validity period, and revocation where a certificate names a CRL distribution
 * point (the library fetches it; a CRL that cannot be had is skipped, one that lists a chain
 * certificate refuses the BLOB). It does not check OCSP, name constraints or key usages.
 */
import { compactVerify, decodeProtectedHeader, importX509 } from 'jose'
import * as v from 'valibot'
import { webauthnLib } from './lib.js'

/** A BLOB that does not verify or cannot be read; the message says why (no BLOB content in it). */
export class MetadataBlobError extends Error {
  override readonly name = 'MetadataBlobError'
}

/**
 * Status values that refuse a model (CONTRACT "Authenticator trust"; FIDO Metadata Service 3.0
 * #authenticatorstatus-enum).
 */
export const REFUSED_STATUSES = [
  'REVOKED',
  'ATTESTATION_KEY_COMPROMISE',
  'USER_VERIFICATION_BYPASS',
  'USER_KEY_REMOTE_COMPROMISE',
  'USER_KEY_PHYSICAL_COMPROMISE',
] as const

/** FIDO certification statuses (#authenticatorstatus-enum FIDO_CERTIFIED, FIDO_CERTIFIED_L1 … L3plus). */
const CERTIFIED = /^FIDO_CERTIFIED(_L[123](plus)?)?$/

/** One authenticator model, as this service uses it. */
export interface MetadataEntry {
  /** Lower-case AAGUID (FIDO2 models); absent for U2F models, known by `keyIds`. */
  aaguid?: string
  /** attestationCertificateKeyIdentifiers (U2F models), lower-case hex. */
  keyIds?: string[]
  /** metadataStatement.description: the model's name. */
  name: string
  /** metadataStatement.icon (a data: URL), when given. */
  icon?: string
  /** The status of the latest status report (by effectiveDate), e.g. FIDO_CERTIFIED_L1, REVOKED. */
  status?: string
  /** A FIDO certification status was ever reported (FIDO_CERTIFIED*). */
  certified: boolean
  /** The latest status is one of REFUSED_STATUSES. */
  refused: boolean
  /** metadataStatement.attestationRootCertificates, as PEM. */
  attestationRoots: string[]
}

export interface MetadataBlob {
  /** The BLOB's serial number: a later BLOB must have a greater one. */
  no: number
  /** nextUpdate (YYYY-MM-DD), as the BLOB says it. */
  nextUpdate: string
  /** nextUpdate as milliseconds since the epoch (start of that day, UTC). */
  nextUpdateAt: number
  entries: ReadonlyMap<string, MetadataEntry>
  /** U2F models by attestation certificate key identifier (hex SHA-1 of its subject public key). */
  keyIds: ReadonlyMap<string, MetadataEntry>
  /** Every model read (FIDO2 and U2F), once each. */
  models: readonly MetadataEntry[]
}

// FIDO MDS 3.0 #metadata-blob-payload-dictionary (only what we read; the rest is passed over).
const StatusReport = v.object({ status: v.string(), effectiveDate: v.optional(v.string()) })
const Entry = v.object({
  aaguid: v.optional(v.string()),
  attestationCertificateKeyIdentifiers: v.optional(v.array(v.string())),
  metadataStatement: v.optional(
    v.object({
      description: v.optional(v.string()),
      icon: v.optional(v.string()),
      attestationRootCertificates: v.optional(v.array(v.string())),
    }),
  ),
  statusReports: v.optional(v.array(StatusReport)),
})
const Payload = v.object({
  no: v.pipe(v.number(), v.integer(), v.minValue(0)),
  nextUpdate: v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2}$/)),
  entries: v.array(v.unknown()),
})

/** JWS algorithms a BLOB may be signed with (MDS signs RS256; FIDO allows the registry's ECDSA too). */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']

/** A hex SHA-1 (attestationCertificateKeyIdentifiers). */
const KEY_ID = /^[0-9a-f]{40}$/
const AAGUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Verifies `jws` (the BLOB) against `roots` (PEM) and returns its entries by AAGUID. Throws
 * MetadataBlobError when it does not verify.
 *
 * @example
 * const blob = await verifyMetadataBlob(text, { roots: config.metadataRoot })
 * blob.entries.get('cb69481e-8ff7-4039-93ec-0a2729a154a8')?.name
 */
export async function verifyMetadataBlob(jws: string, { roots }: { roots: readonly string[] }): Promise<MetadataBlob> {
  if (roots.length === 0) throw new MetadataBlobError('no METADATA_ROOT to verify the BLOB against')
  const text = jws.trim()
  // #metadata-blob-object-processing-rules step 3: the x5c header, or x5u (not supported).
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(text)
  } catch {
    throw new MetadataBlobError('the BLOB is not a JWS in compact serialization')
  }
  const x5c = header.x5c
  if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((c) => typeof c === 'string' && /^[A-Za-z0-9+/]+=*$/.test(c)))
    throw new MetadataBlobError('the BLOB header has no x5c certificate chain (x5u is not supported)')
  if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) throw new MetadataBlobError(`the BLOB is signed with an unsupported alg`)
  const chain = x5c.map(pemOf)
  // Step 4: "ignore the file if the chain cannot be verified or if one of the chain certificates
  // is revoked". A root sent along in x5c is the anchor itself, not part of the path.
  const path = chain.filter((c) => !roots.some((r) => sameCert(r, c)))
  if (path.length === 0) throw new MetadataBlobError('the BLOB is signed by a root certificate itself')
  const { helpers } = await webauthnLib()
  try {
    await helpers.validateCertificatePath(path, [...roots])
  } catch (e) {
    throw new MetadataBlobError(`the BLOB certificate chain does not verify to METADATA_ROOT (${reason(e)})`)
  }
  // Step 5: the signature, with the key of the first x5c certificate.
  let payloadBytes: Uint8Array
  try {
    const key = await importX509(chain[0]!, header.alg)
    payloadBytes = (await compactVerify(text, key, { algorithms: [header.alg] })).payload
  } catch (e) {
    throw new MetadataBlobError(`the BLOB signature does not verify (${reason(e)})`)
  }
  let payload: v.InferOutput<typeof Payload>
  try {
    payload = v.parse(Payload, JSON.parse(new TextDecoder().decode(payloadBytes)))
  } catch {
    throw new MetadataBlobError('the BLOB payload is not a metadata BLOB payload (no, nextUpdate, entries)')
  }
  const nextUpdateAt = Date.parse(`${payload.nextUpdate}T00:00:00Z`)
  if (Number.isNaN(nextUpdateAt)) throw new MetadataBlobError('the BLOB nextUpdate is not a date')
  const entries = new Map<string, MetadataEntry>()
  const keyIds = new Map<string, MetadataEntry>()
  const models: MetadataEntry[] = []
  for (const raw of payload.entries) {
    const entry = readEntry(raw)
    if (entry) models.push(entry)
    // FIDO2 models by AAGUID, U2F models by attestation certificate key identifier; UAF models
    // (AAID only) are passed over.
    if (entry?.aaguid) entries.set(entry.aaguid, entry)
    else for (const id of entry?.keyIds ?? []) keyIds.set(id, entry!)
  }
  return { no: payload.no, nextUpdate: payload.nextUpdate, nextUpdateAt, entries, keyIds, models }
}

function readEntry(raw: unknown): MetadataEntry | undefined {
  const parsed = v.safeParse(Entry, raw)
  if (!parsed.success) return undefined
  const { aaguid: rawAaguid, attestationCertificateKeyIdentifiers, metadataStatement: statement, statusReports = [] } = parsed.output
  const aaguid = rawAaguid?.toLowerCase()
  const keyIds = (attestationCertificateKeyIdentifiers ?? []).map((id) => id.toLowerCase()).filter((id) => KEY_ID.test(id))
  if (aaguid ? !AAGUID.test(aaguid) : keyIds.length === 0) return undefined
  // "latest": by effectiveDate (YYYY-MM-DD sorts as text); reports without one keep their order.
  const latest = statusReports
    .map((r, i) => ({ ...r, i }))
    .sort((a, b) => (a.effectiveDate ?? '').localeCompare(b.effectiveDate ?? '') || a.i - b.i)
    .at(-1)?.status
  return {
    ...(aaguid ? { aaguid } : { keyIds }),
    name: statement?.description?.slice(0, 200) || 'Unnamed authenticator',
    ...(statement?.icon?.startsWith('data:image/') ? { icon: statement.icon } : {}),
    ...(latest ? { status: latest } : {}),
    certified: statusReports.some((r) => CERTIFIED.test(r.status)),
    refused: (REFUSED_STATUSES as readonly string[]).includes(latest ?? ''),
    attestationRoots: (statement?.attestationRootCertificates ?? []).filter((c) => /^[A-Za-z0-9+/]+=*$/.test(c)).map(pemOf),
  }
}

/** Base64 DER → PEM, in the form ATTESTATION_ROOTS is normalised to (shared/config/parse.ts). */
function pemOf(b64: string): string {
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----`
}

function sameCert(a: string, b: string): boolean {
  const body = (p: string) => p.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '')
  return body(a) === body(b)
}

/** A short reason for the log: the error's message, without certificate dumps. */
function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : 'unknown error'
  return msg.split('\n')[0]!.slice(0, 160)
}
