/** The public view of a passkey (what self-service and administration show), and its default label. */
import type { CredentialRecord } from '../store/types.js'
import type { CredentialView } from '../schemas/webauthn.js'
import type { AuthenticatorMetadata } from './metadata.js'
import type { MetadataEntry } from './verifyMetadataBlob.js'

/**
 * The public view of a passkey (CONTRACT: registration 201 `credential`, GET /api/me/credentials);
 * `model` is its metadata entry (CONTRACT "Authenticator trust": `authenticator` when known).
 */
export function credentialView(c: CredentialRecord, model?: Pick<MetadataEntry, 'name' | 'certified' | 'status' | 'refused' | 'icon' | 'aaguid' | 'keyIds'>): CredentialView {
  const name = model?.name ?? AAGUID_NAMES[c.aaguid.toLowerCase()]
  return {
    id: c.id,
    label: c.label,
    createdAt: new Date(c.createdAt).toISOString(),
    lastUsedAt: c.lastUsedAt ? new Date(c.lastUsedAt).toISOString() : null,
    aaguid: c.aaguid,
    backupEligible: c.backupEligible,
    backedUp: c.backedUp,
    transports: c.transports,
    deviceBound: !c.backupEligible,
    ...(name ? { authenticatorName: name } : {}),
    // Certified only with a verified attestation: without one the AAGUID is only the client's claim.
    ...(model ? { authenticator: authenticatorView(c, model) } : {}),
    ...(c.flaggedAt ? { flagged: c.flagReason ?? 'flagged' } : {}),
  }
}

function authenticatorView(c: CredentialRecord, model: Pick<MetadataEntry, 'name' | 'certified' | 'status' | 'refused' | 'icon' | 'aaguid' | 'keyIds'>): NonNullable<CredentialView['authenticator']> {
  // The icon by the key the model was found by: its AAGUID, or (U2F) the passkey's key identifier.
  const iconId = model.aaguid ?? (model.keyIds?.includes(c.attestationKeyId ?? '') ? c.attestationKeyId : undefined)
  return {
    name: model.name,
    certified: model.certified && c.attestationTrusted === true,
    ...(model.status ? { status: model.status } : {}),
    ...(model.refused ? { refused: true as const } : {}),
    ...(model.icon && iconId ? { icon: authenticatorIconPath(iconId) } : {}),
  }
}

/** Where a model's icon is served (shared/routes/authenticators.ts): our origin, never the metadata's data: URL. */
export const authenticatorIconPath = (id: string) => `/api/authenticators/${id}/icon`

/** The views of an account's passkeys, each with its model from the metadata in use. */
export async function credentialViews(metadata: Pick<AuthenticatorMetadata, 'lookupCredential'>, creds: CredentialRecord[]): Promise<CredentialView[]> {
  return Promise.all(creds.map(async (c) => credentialView(c, await metadata.lookupCredential(c))))
}

/** A few well-known authenticator models by AAGUID (FIDO MDS / passkey-authenticator-aaguids). */
const AAGUID_NAMES: Record<string, string> = {
  'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4': 'Google Password Manager',
  'adce0002-35bc-c60a-648b-0b25f1f05503': 'Chrome on Mac',
  'fbfc3007-154e-4ecc-8c0b-6e020557d7bd': 'iCloud Keychain',
  'dd4ec289-e01d-41c9-bb89-70fa845d4bf2': 'iCloud Keychain (Managed)',
  '08987058-cadc-4b81-b6e1-30de50dcbe96': 'Windows Hello',
  '9ddd1817-af5a-4672-a2b9-3e3dd95000a9': 'Windows Hello',
  '6028b017-b1d4-4c02-b4b3-afcdafc96bb2': 'Windows Hello',
  'bada5566-a7aa-401f-bd96-45619a55120d': '1Password',
  'd548826e-79b4-db40-a3d8-11116f7e8349': 'Bitwarden',
  '531126d6-e717-415c-9320-3d9aa6981239': 'Dashlane',
  'cb69481e-8ff7-4039-93ec-0a2729a154a8': 'YubiKey 5 Series',
  'ee882879-721c-4913-9775-3dfcce97072a': 'YubiKey 5 Series',
  'fa2b99dc-9e39-4257-8f92-4a30d23c4118': 'YubiKey 5 Series with NFC',
  '2fc0579f-8113-47ea-b116-bb5a8db9202a': 'YubiKey 5 Series with NFC',
}

export function authenticatorName(aaguid: string): string | undefined {
  return AAGUID_NAMES[aaguid.toLowerCase()]
}

/** A readable default label for a new passkey. */
export function defaultLabel(aaguid: string, backupEligible: boolean): string {
  return authenticatorName(aaguid) ?? (backupEligible ? 'Synced passkey' : 'Security key or device passkey')
}
