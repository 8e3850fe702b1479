/**
 * GET /api/manage/authenticators (behind adminRoutes' guard): the authenticator trust in force
 * (CONTRACT "Authenticator trust"), for the page where administrators see the policy:
 * AUTHENTICATOR_POLICY, ATTESTATION, the FIDO metadata BLOB in use, and the note the issue asks
 * for on that page: an AAGUID without a verified attestation is only what the client claims.
 */
import { Hono } from 'hono'
import type { Core } from '../core.js'
import type { AppEnv } from '../env.js'
import { noStore } from '../middleware/noStore.js'
import type { AuthenticatorTrustBody } from '../schemas/admin.js'

/** The note shown with the policy: what it can and cannot prove (refusals by metadata only when METADATA_BLOB is set). */
export function policyNote(policy: Core['config']['authenticatorPolicy'], attestation: Core['config']['attestation'], metadataConfigured: boolean): string {
  const claim =
    'An AAGUID on its own is only what the client claims (with attestation none anyone can send any AAGUID), so a policy on models counts only passkeys whose attestation was verified'
  if (policy.kind === 'any')
    return metadataConfigured
      ? `Any authenticator model may register; models the FIDO metadata reports revoked or compromised are refused. ${claim}: AAGUID-based names and refusals without one are advisory.`
      : `Any authenticator model may register; METADATA_BLOB is not set, so no model is named or refused. ${claim}.`
  return `${policy.kind === 'certified' ? 'Only FIDO certified models' : 'Only the listed models'} may register and sign in. ${claim}, and registration asks for one (ATTESTATION=${attestation}).`
}

export function manageAuthenticatorsRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  r.get('/authenticators', noStore(), async (c) => {
    const { authenticatorPolicy: policy, attestation, metadataBlob } = core.config
    const blob = await core.metadata.inUse()
    const view: AuthenticatorTrustBody = {
      policy: policy.kind === 'aaguids' ? [...policy.aaguids] : policy.kind,
      attestation,
      note: policyNote(policy, attestation, metadataBlob !== undefined),
      metadata: {
        configured: metadataBlob !== undefined,
        ...(metadataBlob ? { source: metadataBlob.kind } : {}),
        ...(blob
          ? {
              no: blob.no,
              nextUpdate: blob.nextUpdate,
              stale: blob.nextUpdateAt <= core.clock.now(),
              models: blob.models.length,
              refusedModels: blob.models.filter((m) => m.refused).length,
            }
          : {}),
      },
    }
    return c.json(view)
  })
  return r
}
