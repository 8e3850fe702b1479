/**
 * Loader for the shared WebAuthn test vectors (`../shared/vectors/webauthn-vectors.json` next to
 * the repository; see that folder's README.md for what each field means and for the quirks).
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { SettingsService, type AuthenticationResponseJSON, type RegistrationResponseJSON } from '@simplewebauthn/server'

/** Repository root: this file is <root>/test/helpers/vectors.ts. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The shared folder sits beside the repository clone (locally and in CI). */
export const VECTORS_PATH = resolve(REPO_ROOT, '../shared/vectors/webauthn-vectors.json')

export type VectorAlgorithm = 'ES256' | 'RS256' | 'EdDSA'
export type VectorAttestationFormat = 'none' | 'packed' | 'fido-u2f' | 'tpm' | 'android-key' | 'apple'

export interface VectorSource {
  repo: string
  path: string
  commit: string
  /** the test that uses the data */
  test?: string
  /** the example that uses the data */
  example?: string
  /** spec section (W3C vectors) */
  anchor?: string
  /** where the verifier parameters and expected outcome come from, when not the data file */
  expectationFrom?: { repo: string; path: string; test: string; commit: string }
  /** the collector changed a parameter; no source test does this */
  derived?: boolean
}

interface VectorBase {
  /** short unique name; prefix w3c- / py- / java- tells the source */
  id: string
  source: VectorSource
  /** the credential key's COSE algorithm */
  credentialAlgorithm: VectorAlgorithm
  /** the device, as far as the source states it */
  authenticator: string
  rpId: string
  expectedOrigin: string
  /** the base64url string that appears in clientDataJSON ('wrong-challenge' for the negative W3C case) */
  expectedChallenge: string
  /** what the source test enforces (false unless the source requires UV) */
  requireUserVerification: boolean
  expected: 'pass' | 'fail'
  /** why it fails, when expected is 'fail' */
  expectedError?: string
  notes: string
}

/**
 * The credential JSON as the source had it. Note: in some vectors `transports` and
 * `authenticatorAttachment` sit on the credential object itself, not in `response`.
 */
export type VectorRegistrationResponse = RegistrationResponseJSON & { transports?: string[] }

export interface RegistrationVector extends VectorBase {
  kind: 'registration'
  /** fmt of the attestation object */
  attestationFormat: VectorAttestationFormat
  response: VectorRegistrationResponse
  /** base64url DER root certificates the x5c chain was built to (W3C vectors with x5c) */
  trustAnchors?: string[]
  /** ISO time at which every x5c certificate is valid; use it as "now" */
  verifyAt?: string
}

export interface AuthenticationVector extends VectorBase {
  kind: 'authentication'
  response: AuthenticationResponseJSON
  /** the stored COSE public key, base64url */
  credentialPublicKey: string
  /** the stored signature counter the source test uses */
  storedSignCount: number
}

export type WebAuthnVector = RegistrationVector | AuthenticationVector

let cache: readonly WebAuthnVector[] | undefined

/** All vectors (parsed once, then cached). Throws with the path when the file is missing. */
export function loadWebAuthnVectors(): readonly WebAuthnVector[] {
  if (cache) return cache
  if (!existsSync(VECTORS_PATH)) {
    throw new Error(`WebAuthn vectors not found at ${VECTORS_PATH} (expected the shared folder beside the repo)`)
  }
  const data: unknown = JSON.parse(readFileSync(VECTORS_PATH, 'utf8'))
  if (!Array.isArray(data)) throw new Error(`${VECTORS_PATH}: expected a JSON array`)
  const seen = new Set<string>()
  for (const [i, v] of data.entries()) {
    const where = `${VECTORS_PATH} [${i}]`
    if (typeof v !== 'object' || v === null) throw new Error(`${where}: not an object`)
    const r = v as Record<string, unknown>
    if (typeof r.id !== 'string' || seen.has(r.id)) throw new Error(`${where}: missing or duplicate id`)
    seen.add(r.id)
    if (r.kind !== 'registration' && r.kind !== 'authentication') throw new Error(`${where} ${r.id}: bad kind`)
    if (r.expected !== 'pass' && r.expected !== 'fail') throw new Error(`${where} ${r.id}: bad expected`)
    for (const k of ['rpId', 'expectedOrigin', 'expectedChallenge'] as const) {
      if (typeof r[k] !== 'string') throw new Error(`${where} ${r.id}: ${k} is not a string`)
    }
    if (typeof r.response !== 'object' || r.response === null) throw new Error(`${where} ${r.id}: no response`)
    if (r.kind === 'authentication') {
      if (typeof r.credentialPublicKey !== 'string') throw new Error(`${where} ${r.id}: no credentialPublicKey`)
      if (typeof r.storedSignCount !== 'number') throw new Error(`${where} ${r.id}: no storedSignCount`)
    } else if (typeof r.attestationFormat !== 'string') {
      throw new Error(`${where} ${r.id}: no attestationFormat`)
    }
  }
  cache = Object.freeze(data as WebAuthnVector[])
  return cache
}

export function registrationVectors(): RegistrationVector[] {
  return loadWebAuthnVectors().filter((v): v is RegistrationVector => v.kind === 'registration')
}

export function authenticationVectors(): AuthenticationVector[] {
  return loadWebAuthnVectors().filter((v): v is AuthenticationVector => v.kind === 'authentication')
}

/** One vector by id (throws if absent). */
export function getVector(id: string): WebAuthnVector {
  const v = loadWebAuthnVectors().find((x) => x.id === id)
  if (!v) throw new Error(`no WebAuthn vector "${id}" in ${VECTORS_PATH}`)
  return v
}

/** Base64url DER → PEM (for SettingsService.setRootCertificates or X509Certificate). */
export function derB64uToPem(b64u: string): string {
  const b64 = Buffer.from(b64u, 'base64url').toString('base64')
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`
}

/** Run `fn` with the vector's recorded conditions (trust anchors, frozen clock); always restores. */
export async function underRecordedConditions<T>(
  t: TestContext,
  v: RegistrationVector,
  fn: () => Promise<T>,
  apply: { trustAnchors: boolean; verifyAt: boolean } = { trustAnchors: true, verifyAt: true },
): Promise<T> {
  const identifier = v.attestationFormat
  const previousRoots = SettingsService.getRootCertificates({ identifier })
  const setRoots = apply.trustAnchors && v.trustAnchors !== undefined
  const freeze = apply.verifyAt && v.verifyAt !== undefined
  try {
    if (setRoots) SettingsService.setRootCertificates({ identifier, certificates: v.trustAnchors!.map(derB64uToPem) })
    if (freeze) {
      const now = Date.parse(v.verifyAt!)
      assert.ok(Number.isFinite(now), `${v.id}: verifyAt ${v.verifyAt} is an ISO time`)
      t.mock.timers.enable({ apis: ['Date'], now })
      assert.equal(Date.now(), now, 'Date is frozen at verifyAt')
      assert.equal(new Date().toISOString(), new Date(now).toISOString())
    }
    return await fn()
  } finally {
    if (freeze) t.mock.timers.reset()
    if (setRoots) SettingsService.setRootCertificates({ identifier, certificates: previousRoots })
  }
}
