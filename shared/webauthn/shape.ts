/** Shape checks for the WebAuthn JSON bodies (RegistrationResponseJSON / AuthenticationResponseJSON). */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server'
import { ServiceError } from '../errors.js'
import { isBase64url } from '../util/base64url.js'

/** WebAuthn §5.4.3 `user.id`: at most 64 bytes, so at most 86 base64url characters. */
export const MAX_USER_HANDLE_BYTES = 64
const MAX_USER_HANDLE_CHARS = Math.ceil((MAX_USER_HANDLE_BYTES * 4) / 3)

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function bad(detail: string): never {
  throw new ServiceError('invalid_request', detail)
}

function credentialBase(v: unknown): Record<string, unknown> & { response: Record<string, unknown> } {
  if (!isObj(v)) bad('credential must be an object (PublicKeyCredential.toJSON())')
  if (!isBase64url(v.id) || v.id.length > 1400) bad('credential.id must be base64url (at most 1023 bytes)')
  if (v.rawId !== undefined && v.rawId !== v.id) bad('credential.rawId must equal credential.id')
  if (v.type !== 'public-key') bad('credential.type must be "public-key"')
  if (!isObj(v.response)) bad('credential.response must be an object')
  if (!isBase64url(v.response.clientDataJSON)) bad('credential.response.clientDataJSON must be base64url')
  return v as Record<string, unknown> & { response: Record<string, unknown> }
}

export function asRegistrationResponse(v: unknown): RegistrationResponseJSON {
  const c = credentialBase(v)
  if (!isBase64url(c.response.attestationObject)) bad('credential.response.attestationObject must be base64url')
  const t = c.response.transports
  if (t !== undefined && (!Array.isArray(t) || t.length > 10 || !t.every((x) => typeof x === 'string' && x.length < 32)))
    bad('credential.response.transports must be a list of strings')
  return { ...c, rawId: c.id, clientExtensionResults: isObj(c.clientExtensionResults) ? c.clientExtensionResults : {} } as unknown as RegistrationResponseJSON
}

export function asAuthenticationResponse(v: unknown): AuthenticationResponseJSON {
  const c = credentialBase(v)
  if (!isBase64url(c.response.authenticatorData)) bad('credential.response.authenticatorData must be base64url')
  if (!isBase64url(c.response.signature)) bad('credential.response.signature must be base64url')
  const uh = c.response.userHandle
  // WebAuthn user.id is at most 64 bytes; a longer handle would only become a storage key.
  if (uh !== undefined && uh !== null && uh !== '' && (!isBase64url(uh) || uh.length > MAX_USER_HANDLE_CHARS || uh.length % 4 === 1))
    bad(`credential.response.userHandle must be base64url of at most ${MAX_USER_HANDLE_BYTES} bytes (WebAuthn user.id)`)
  return { ...c, rawId: c.id, clientExtensionResults: isObj(c.clientExtensionResults) ? c.clientExtensionResults : {} } as unknown as AuthenticationResponseJSON
}
