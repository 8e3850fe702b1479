/**
 * The checks of WebAuthn §7.1 (#sctn-registering-a-new-credential) and §7.2
 * (#sctn-verifying-assertion) that we make ourselves, before the library, so each failure has
 * the contract's code rather than a parsed message. Decoding (base64url, JSON, CBOR) is the
 * library's; the decisions are ours.
 */
import type { ClientDataJSON, parseAuthenticatorData } from '@simplewebauthn/server/helpers'
import { webauthnLib } from './lib.js'
import { ServiceError } from '../errors.js'
import { decode, isBase64url } from '../util/base64url.js'
import { sha256 } from '../util/hash.js'

const utf8 = new TextDecoder()

export interface ExpectedRelyingParty {
  expectedOrigins: readonly string[]
  expectedRPID: string
  /** USER_VERIFICATION=required → true. */
  requireUserVerification: boolean
}

/** §7.1 steps 5–9 / §7.2 steps 9–13: parse clientDataJSON, then type, challenge, origin. */
export function checkClientData(
  clientDataJSON: string,
  {
    expectedType,
    expectedChallenge,
    expectedOrigins,
  }: { expectedType: 'webauthn.create' | 'webauthn.get'; expectedChallenge: string; expectedOrigins: readonly string[] },
): ClientDataJSON {
  const clientData = decodeClientData(clientDataJSON)
  // #dom-collectedclientdata-type: "webauthn.create" for registration, "webauthn.get" for assertions.
  if (clientData.type !== expectedType)
    throw new ServiceError('invalid_request', `clientData type is "${String(clientData.type)}", expected "${expectedType}"`)
  // #dom-collectedclientdata-challenge
  if (clientData.challenge !== expectedChallenge)
    throw new ServiceError('challenge_unknown', 'clientData challenge does not match the issued challenge')
  // #dom-collectedclientdata-origin: an origin we serve, exactly.
  if (typeof clientData.origin !== 'string' || !expectedOrigins.includes(clientData.origin))
    throw new ServiceError('origin_mismatch', `Origin "${String(clientData.origin)}" is not allowed`)
  // #dom-collectedclientdata-crossorigin: we are never embedded in another origin's frame.
  if (clientData.crossOrigin === true || clientData.topOrigin !== undefined)
    throw new ServiceError('origin_mismatch', 'Cross-origin ceremonies are not allowed')
  return clientData
}

/** Decodes clientDataJSON; malformed → invalid_request. Also gives the challenge before checks. */
export function decodeClientData(clientDataJSON: string): ClientDataJSON {
  if (!isBase64url(clientDataJSON)) throw new ServiceError('invalid_request', 'clientDataJSON must be base64url')
  let clientData: ClientDataJSON
  try {
    // What the library's decodeClientDataJSON does (base64url → UTF-8 → JSON), kept synchronous
    // so the challenge can be read before the library is loaded.
    clientData = JSON.parse(utf8.decode(decode(clientDataJSON))) as ClientDataJSON
  } catch {
    throw new ServiceError('invalid_request', 'clientDataJSON is not valid JSON')
  }
  if (!clientData || typeof clientData !== 'object' || typeof clientData.challenge !== 'string')
    throw new ServiceError('invalid_request', 'clientDataJSON lacks a challenge')
  return clientData
}

/**
 * The challenge a verify body answers, read with the least parsing possible, so that the
 * challenge can be consumed before any other check (CONTRACT: consumed by the first verify
 * attempt, successful or not). invalid_request when there is no readable clientDataJSON.
 */
export function challengeOf(credential: unknown): string {
  const cdj = (credential as { response?: { clientDataJSON?: unknown } } | null | undefined)?.response?.clientDataJSON
  if (typeof cdj !== 'string') throw new ServiceError('invalid_request', 'credential.response.clientDataJSON must be base64url')
  return decodeClientData(cdj).challenge
}

export type ParsedAuthData = ReturnType<typeof parseAuthenticatorData>

/** §7.1 steps 13–16 / §7.2 steps 15–18: rpIdHash, UP, UV, backup flags. */
export async function checkAuthenticatorData(
  authData: Uint8Array<ArrayBuffer>,
  { expectedRPID, requireUserVerification }: { expectedRPID: string; requireUserVerification: boolean },
): Promise<ParsedAuthData> {
  let parsed: ParsedAuthData
  try {
    parsed = (await webauthnLib()).helpers.parseAuthenticatorData(authData)
  } catch {
    throw new ServiceError('invalid_request', 'authenticatorData is malformed')
  }
  // rpIdHash is SHA-256 of the RP ID.
  const expected = await sha256(expectedRPID)
  if (!bytesEqual(parsed.rpIdHash, expected))
    throw new ServiceError('rp_id_mismatch', 'rpIdHash is not the SHA-256 of this relying party ID')
  // #concept-user-present: the UP flag must be set.
  if (!parsed.flags.up) throw new ServiceError('user_presence_required', 'The authenticator did not test user presence')
  // #concept-user-verified: required by policy.
  if (requireUserVerification && !parsed.flags.uv)
    throw new ServiceError('user_verification_required', 'User verification is required (PIN or biometric)')
  // #sctn-credential-backup: BS=1 with BE=0 is invalid.
  if (parsed.flags.bs && !parsed.flags.be)
    throw new ServiceError('invalid_request', 'authenticatorData says backed up but not backup-eligible')
  return parsed
}

export function decodeField(value: unknown, name: string): Uint8Array<ArrayBuffer> {
  if (!isBase64url(value)) throw new ServiceError('invalid_request', `${name} must be base64url`)
  try {
    return decode(value)
  } catch {
    throw new ServiceError('invalid_request', `${name} must be base64url`)
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}
