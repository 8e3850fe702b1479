/**
 * Shape checks for the WebAuthn JSON bodies (RegistrationResponseJSON / AuthenticationResponseJSON):
 * the wire schemas of shared/schemas/webauthn.ts, applied by the ceremony after it has consumed
 * the response's challenge (a malformed response still uses its challenge up).
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server'
import { parseWith } from '../middleware/validate.js'
import {
  AuthenticationResponseJSON as AuthenticationResponse,
  RegistrationResponseJSON as RegistrationResponse,
} from '../schemas/webauthn.js'

export { MAX_USER_HANDLE_BYTES } from '../schemas/webauthn.js'

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The form @simplewebauthn/server takes: rawId = id, clientExtensionResults always an object. */
export function forLibrary<T>(c: { id: string; clientExtensionResults?: unknown }): T {
  return { ...c, rawId: c.id, clientExtensionResults: isObj(c.clientExtensionResults) ? c.clientExtensionResults : {} } as T
}

export function asRegistrationResponse(v: unknown): RegistrationResponseJSON {
  return forLibrary(parseWith(RegistrationResponse, v))
}

export function asAuthenticationResponse(v: unknown): AuthenticationResponseJSON {
  return forLibrary(parseWith(AuthenticationResponse, v))
}
