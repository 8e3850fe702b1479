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

/**
 * The acr values we issue, weakest first (discovery `acr_values_supported`, the permissions'
 * `acr`, `acr_values` at the authorization endpoint): `phrh` satisfies a requirement of `phr`.
 */
export const ACR_VALUES = ['phr', 'phrh'] as const
export type AcrValue = (typeof ACR_VALUES)[number]

/** Strength of an acr value: 1, 2, …; 0 for none or one we do not issue. */
export function acrRank(acr: unknown): number {
  return typeof acr === 'string' ? (ACR_VALUES as readonly string[]).indexOf(acr) + 1 : 0
}

/** Whether a sign-in with acr `have` meets a requirement of `want` (one of ACR_VALUES). */
export function acrSatisfies(have: unknown, want: string): boolean {
  const need = acrRank(want)
  return need > 0 && acrRank(have) >= need
}
