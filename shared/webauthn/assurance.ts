/**
 * How strongly a passkey sign-in authenticated, for the tokens: RFC 8176 `amr` and the OpenID
 * EAP `acr` the authorizer's per-route `acr` requirements compare against.
 */
import type { CredentialRecord } from '../store/types.js'

/** RFC 8176 amr: hwk (device-bound key) or swk (synced), user (presence), mfa (verification). */
export function amrFor(cred: Pick<CredentialRecord, 'backupEligible'>, flags: { userPresent: boolean; userVerified: boolean }): string[] {
  const amr = [cred.backupEligible ? 'swk' : 'hwk']
  if (flags.userPresent) amr.push('user')
  if (flags.userVerified) amr.push('mfa')
  return amr
}

/** OpenID EAP ACR values: phrh for a device-bound passkey with trusted attestation, else phr. */
export function acrFor(cred: Pick<CredentialRecord, 'backupEligible' | 'attestationTrusted'>): 'phr' | 'phrh' {
  return !cred.backupEligible && cred.attestationTrusted ? 'phrh' : 'phr'
}
