/**
 * The WebAuthn ceremonies against the service (CONTRACT "WebAuthn ceremonies"), through
 * @simplewebauthn/browser: options from the server, the browser's prompt, the response back.
 */
import {
  startAuthentication,
  startRegistration,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser'
import { ApiError, request } from './http.js'
import { authed, type TokenResponse } from './session.js'
import type { RegistrationResultBody } from '../shared/schemas/oauth.js'
import type { CredentialView } from '../shared/schemas/webauthn.js'

export type PasskeyView = CredentialView

export type Registered = RegistrationResultBody

/** Set by each ceremony just before the browser's prompt opens: tells "cancelled" from "timed out". */
export const prompt = { startedAt: 0, timeoutMs: 0 }

function opened(timeout: number | undefined): void {
  prompt.startedAt = Date.now()
  prompt.timeoutMs = timeout ?? 0
}

/** Creates an account with a passkey; sign-up signs in (the answer carries tokens). */
export async function signUp(username: string, displayName?: string): Promise<Registered> {
  const optionsJSON = await request<PublicKeyCredentialCreationOptionsJSON>(
    '/webauthn/registration/options',
    {
      json: displayName ? { username, displayName } : { username },
    },
  )
  opened(optionsJSON.timeout)
  const credential = await startRegistration({ optionsJSON })
  return await request<Registered>('/webauthn/registration/verify', { json: { credential }, dpop: true })
}

/** What a link from an administrator carries (CONTRACT v2 "Invitations", "Recovery"). */
export type LinkKind = 'invitation' | 'recovery'

/**
 * Creation options for an invitation or recovery link (`{ invitation }` / `{ recovery }`): the
 * page shows `user.name` (the invited or recovered username) before the person presses the
 * button. The link is used only by the verify that follows.
 */
export async function linkOptions(kind: LinkKind, token: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return await request<PublicKeyCredentialCreationOptionsJSON>('/webauthn/registration/options', {
    json: { [kind]: token },
  })
}

/** Creates the passkey for options from `linkOptions`; the verify answers 201 with `tokens`. */
export async function enrollWithLink(optionsJSON: PublicKeyCredentialCreationOptionsJSON): Promise<Registered> {
  opened(optionsJSON.timeout)
  const credential = await startRegistration({ optionsJSON })
  return await request<Registered>('/webauthn/registration/verify', { json: { credential }, dpop: true })
}

/** Adds a passkey to the signed-in account (Bearer, `{}`). */
export async function addPasskey(label?: string): Promise<Registered> {
  const optionsJSON = await authed<PublicKeyCredentialCreationOptionsJSON>(
    '/webauthn/registration/options',
    { json: {} },
  )
  opened(optionsJSON.timeout)
  const credential = await startRegistration({ optionsJSON })
  return await authed<Registered>('/webauthn/registration/verify', {
    json: label ? { credential, label } : { credential },
  })
}

export interface SignedIn {
  tokens: TokenResponse
  /** The passkey used. */
  credentialId: string
}

/** Signs in with the browser's passkey prompt; with a username, only that account's passkeys are offered. */
export async function signIn(username?: string): Promise<SignedIn> {
  const optionsJSON = await request<PublicKeyCredentialRequestOptionsJSON>(
    '/webauthn/authentication/options',
    {
      json: username ? { username } : {},
    },
  )
  opened(optionsJSON.timeout)
  const credential = await startAuthentication({ optionsJSON })
  return { tokens: await verify(credential), credentialId: credential.id }
}

/**
 * Conditional mediation (WebAuthn §5.1.4, `mediation: "conditional"`): the browser offers the
 * site's passkeys among the autofill suggestions of the `autocomplete="username webauthn"` input,
 * without a modal prompt. The promise settles only when a passkey is chosen, or when another
 * ceremony (a button press) aborts it.
 */
export async function autofillSignIn(
  stillWanted: () => boolean,
  onStarted: (timeoutMs: number | undefined) => void = () => {},
): Promise<SignedIn | undefined> {
  const optionsJSON = await request<PublicKeyCredentialRequestOptionsJSON>(
    '/webauthn/authentication/options',
    { json: {} },
  )
  // A button press may have started a modal ceremony meanwhile: starting now would abort it.
  if (!stillWanted()) return undefined
  onStarted(optionsJSON.timeout)
  const credential = await startAuthentication({ optionsJSON, useBrowserAutofill: true })
  return { tokens: await verify(credential), credentialId: credential.id }
}

async function verify(credential: AuthenticationResponseJSON): Promise<TokenResponse> {
  try {
    // RFC 9449: the tokens are bound to the page's non-extractable key (web/dpop.ts).
    return await request<TokenResponse>('/webauthn/authentication/verify', { json: { credential }, dpop: true })
  } catch (e) {
    if (e instanceof ApiError) e.credentialId = credential.id
    throw e
  }
}
