/**
 * Which authenticator models may register and sign in (CONTRACT "Authenticator trust"), one check
 * for both ceremonies:
 * - a model whose latest metadata status is REVOKED or a compromise (REFUSED_STATUSES) is refused,
 *   whatever the policy and whether or not its attestation was verified (refusing on a claim is
 *   safe);
 * - `certified`: the model has a FIDO certification status in the metadata, and the passkey's
 *   attestation was verified (against that model's attestationRootCertificates);
 * - a list of AAGUIDs: the passkey's AAGUID is listed and its attestation was verified. An AAGUID
 *   without a verified attestation is only a claim (WebAuthn #sctn-attestation-types "None"), and
 *   a policy on models would mean nothing if a claim passed it.
 * Refusals are 400 `authenticator_not_allowed`.
 */
import type { AuthenticatorPolicy } from '../config.js'
import { ServiceError } from '../errors.js'
import type { MetadataEntry } from './verifyMetadataBlob.js'

/**
 * Throws `authenticator_not_allowed` when the model may not be used.
 *
 * @example
 * checkAuthenticator({ policy: config.authenticatorPolicy, aaguid, model, attestationTrusted: true })
 */
export function checkAuthenticator({
  policy,
  aaguid,
  model,
  attestationTrusted,
}: {
  policy: AuthenticatorPolicy
  aaguid: string
  /** The model's metadata entry, when the BLOB in use has one. */
  model: MetadataEntry | undefined
  /** The attestation chain was verified (at registration; stored with the passkey). */
  attestationTrusted: boolean
}): void {
  if (model?.refused)
    throw new ServiceError('authenticator_not_allowed', `This authenticator model (${model.name}) is not allowed: its FIDO metadata status is ${model.status}`)
  if (policy.kind === 'certified') {
    if (!model?.certified) throw new ServiceError('authenticator_not_allowed', 'Only FIDO certified authenticator models are allowed here')
    if (!attestationTrusted) throw new ServiceError('authenticator_not_allowed', 'Only FIDO certified authenticator models are allowed here, proven by their attestation')
  }
  if (policy.kind === 'aaguids') {
    if (!policy.aaguids.includes(aaguid.toLowerCase())) throw new ServiceError('authenticator_not_allowed', 'This authenticator model is not one this service allows')
    if (!attestationTrusted) throw new ServiceError('authenticator_not_allowed', 'This service allows only some authenticator models, proven by their attestation')
  }
}
