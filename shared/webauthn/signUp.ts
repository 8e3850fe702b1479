/**
 * A new account with its first passkey and first session, signed in: what sign-up and an
 * invitation's enrolment (registration.ts, enrolment.ts) both end with.
 */
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { UniquenessError, type CredentialRecord, type UserRecord } from '../store/types.js'
import { FIRST_PARTY_CLIENT, type TokenResponse } from '../tokens/sessions.js'

/**
 * The account with its first passkey and first session, written together or not at all
 * (`createAccount`), and that session's tokens. `usernameTaken`: what a lost username claim
 * answers (default 409 `username_taken`).
 */
export async function createAccountSignedIn(
  core: Core,
  {
    user,
    credential,
    amr,
    acr,
    userAgent,
    jkt,
    usernameTaken = async () => new ServiceError('username_taken', 'That username was taken meanwhile'),
  }: {
    user: UserRecord
    credential: CredentialRecord
    amr: string[]
    acr: string
    userAgent?: string
    /** RFC 9449: the sign-up's DPoP proof key, to bind the first session's tokens to. */
    jkt?: string | undefined
    usernameTaken?: () => Promise<ServiceError>
  },
): Promise<TokenResponse> {
  const { config, store, sessions } = core
  const { session, refreshToken } = await sessions.create({
    user,
    credentialId: credential.id,
    clientId: FIRST_PARTY_CLIENT,
    audience: config.audiences[0]!,
    scope: 'openid',
    amr,
    acr,
    userAgent,
    jkt,
  })
  // Sign first: a signing failure (e.g. KeyEncryptionKeyMismatch) then leaves no account behind.
  const tokens = await sessions.respond(user, session, refreshToken)
  // The account's personal-data key (docs/audit.md "Personal data"), stored with it.
  const personalKey = await core.personal.newKey(user.id)
  try {
    await store.createAccount({ user, credential, session, auditKey: personalKey.record })
  } catch (e) {
    if (e instanceof UniquenessError)
      throw e.field === 'username' ? await usernameTaken() : new ServiceError('credential_exists', 'This passkey is already registered')
    throw e
  }
  core.personal.remember(user.id, personalKey.key) // the sign-up's own event needs no read
  return tokens
}
