/**
 * Verifies an assertion (WebAuthn #sctn-verifying-assertion) against a stored credential.
 * Stateless: the caller has consumed the challenge and looked the credential up. Our checks
 * come first, in the spec's order; the library verifies the signature; then the counter.
 */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import { webauthnLib } from './lib.js'
import { ServiceError } from '../errors.js'
import { decode } from '../util/base64url.js'
import { checkAuthenticatorData, checkClientData, decodeField, type ExpectedRelyingParty } from './checks.js'

export interface StoredCredential {
  id: string
  /** COSE public key, base64url. */
  publicKey: string
  counter: number
  transports?: string[]
  /** The BE flag seen at registration; when given, a sign-in must show the same (§7.2 step 19). */
  backupEligible?: boolean
}

export interface VerifiedAuthentication {
  newCounter: number
  userPresent: boolean
  userVerified: boolean
  backupEligible: boolean
  backedUp: boolean
}

/**
 * @example
 * const a = await verifyAuthentication({ response, expectedChallenge, expectedOrigins, expectedRPID,
 *   requireUserVerification: true, credential: { id, publicKey, counter } })
 */
export async function verifyAuthentication(
  opts: ExpectedRelyingParty & {
    response: AuthenticationResponseJSON
    expectedChallenge: string
    credential: StoredCredential
  },
): Promise<VerifiedAuthentication> {
  const { response, expectedChallenge, expectedOrigins, expectedRPID, credential, requireUserVerification = true } = opts
  // Step 5/6: the credential is one we hold for this user (caller looked it up by id).
  if (response.id !== credential.id) throw new ServiceError('credential_unknown', 'Credential id mismatch')
  // Steps 9–13: clientData type, challenge, origin.
  checkClientData(response.response.clientDataJSON, { expectedType: 'webauthn.get', expectedChallenge, expectedOrigins })
  // Steps 15–18: rpIdHash, UP, UV, backup flags.
  const authData = decodeField(response.response.authenticatorData, 'authenticatorData')
  const parsed = await checkAuthenticatorData(authData, { expectedRPID, requireUserVerification })
  // Steps 19–21: signature over authData ‖ SHA-256(clientDataJSON) (library). The counter is
  // checked below by us, so the library gets counter 0 and does not check it.
  let verified = false
  try {
    const { lib } = await webauthnLib()
    const r = await lib.verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: [...expectedOrigins],
      expectedRPID,
      requireUserVerification,
      credential: {
        id: credential.id,
        publicKey: decode(credential.publicKey),
        counter: 0,
        transports: credential.transports as never,
      },
    })
    verified = r.verified
  } catch (e) {
    throw new ServiceError('signature_invalid', 'Assertion signature did not verify', { cause: e })
  }
  if (!verified) throw new ServiceError('signature_invalid', 'Assertion signature did not verify')
  // Step 19, checked after the signature (not in the spec's order) so that an unsigned probe
  // cannot learn whether a credential is device-bound or synced: backup eligibility is fixed
  // when the credential is created (§6.1.3), and a change means
  // the record or the authenticator is not what was registered, and the device-bound amr/acr
  // (hwk, phrh) would rest on a false premise. Refused; the caller updates nothing.
  if (credential.backupEligible !== undefined && parsed.flags.be !== credential.backupEligible)
    throw new ServiceError(
      'backup_eligibility_changed',
      `This passkey was registered as ${credential.backupEligible ? 'backup eligible (synced)' : 'device-bound'} and now says otherwise; it is refused`,
    )
  // Step 22 (#sctn-sign-counter): when either counter is non-zero, the new one must be greater.
  if ((parsed.counter > 0 || credential.counter > 0) && parsed.counter <= credential.counter)
    throw new ServiceError(
      'counter_regression',
      'The signature counter did not increase: this passkey may have been cloned. It has been flagged.',
    )
  return {
    newCounter: parsed.counter,
    userPresent: parsed.flags.up,
    userVerified: parsed.flags.uv,
    backupEligible: parsed.flags.be,
    backedUp: parsed.flags.bs,
  }
}
