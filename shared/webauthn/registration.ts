/**
 * Registration ceremonies (CONTRACT "WebAuthn ceremonies", v2 "People and sessions"): sign-up,
 * adding a passkey to the signed-in account, and the enrolments by link (an invitation, a
 * recovery: ./enrolment.ts). Options: one read + one challenge write. Verify (sign-up): consume
 * the challenge (1), createAccount (3: username claim, credential claim, partition transaction).
 */
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import type { Principal } from '../middleware/bearer.js'
import { UniquenessError, type CredentialRecord, type UserRecord } from '../store/types.js'
import { MAX_KEY_ID, decode, isKeyId } from '../util/base64url.js'
import { randomId } from '../util/random.js'
import type { TokenResponse } from '../tokens/sessions.js'
import { challengeOf } from './checks.js'
import { parseWith } from '../middleware/validate.js'
import { RegistrationVerifyRequest, USERNAME_REQUIRED, type RegistrationOptionsInput } from '../schemas/webauthn.js'
import { acrFor, amrFor } from './assurance.js'
import { credentialView, defaultLabel } from './credentialView.js'
import { checkAuthenticator } from './authenticatorPolicy.js'
import type { RegistrationResponseJSON } from '@simplewebauthn/server'
import { forLibrary } from './shape.js'
import { webauthnLib } from './lib.js'
import { SUPPORTED_ALGS, verifyRegistration } from './verifyRegistration.js'
import { refuseDisabled } from '../admin/disable.js'
import { completeInvitation, completeRecovery, invitationChallenge, recoveryChallenge, type Enrolment } from './enrolment.js'
import { createAccountSignedIn } from './signUp.js'

/** Which registration a body asks for: CONTRACT v2 allows exactly one of these members (or a bearer and `{}`). */
const MODES = ['username', 'invitation', 'recovery'] as const

export async function registrationOptions(core: Core, input: RegistrationOptionsInput, principal?: Principal) {
  const { config, store, challenges } = core
  let user: { id: string; name: string; displayName: string }
  let exclude: { id: string; transports?: string[] }[] = []
  const modes = MODES.filter((m) => input[m] !== undefined)
  if (principal && modes.length)
    throw new ServiceError(
      'invalid_request',
      `With a bearer token the body is {} (a passkey for the signed-in account); ${modes.join(' and ')} is for registering without one`,
    )
  if (modes.length > 1) throw new ServiceError('invalid_request', `Send one of username, invitation or recovery, not ${modes.join(' and ')} together`)
  if (input.invitation !== undefined) {
    const enrol = await invitationChallenge(core, input.invitation, input.displayName)
    return build(core, enrol.user, [], enrol.challenge)
  }
  if (input.recovery !== undefined) {
    const enrol = await recoveryChallenge(core, input.recovery)
    return build(core, enrol.user, enrol.exclude, enrol.challenge)
  }
  if (principal) {
    // Add a passkey to the signed-in account.
    const account = await store.getAccount(principal.userId)
    if (!account) throw new ServiceError('unauthorized', 'The account of this token no longer exists')
    refuseDisabled(account.user)
    user = { id: account.user.id, name: account.user.username, displayName: account.user.displayName }
    exclude = account.credentials.map((c) => ({ id: c.id, transports: c.transports }))
    const { challenge } = await challenges.issue({ ceremony: 'registration', userId: user.id, addToAccount: true })
    return build(core, user, exclude, challenge)
  }
  const username = input.username
  if (!username) throw new ServiceError('invalid_request', USERNAME_REQUIRED)
  // Closed: 403 for every name, taken or not (no enumeration), except BOOTSTRAP_ADMINS (so the
  // first administrator can join). Open registration must say 409 for a taken name: docs/security.md.
  if (!signUpAllowed(core, username)) throw new ServiceError('registration_closed', 'Sign-up is closed on this service')
  const displayName = input.displayName ?? username
  if (await store.findUserIdByUsername(username))
    throw config.registration === 'open'
      ? new ServiceError('username_taken', 'That username is taken')
      : // Closed: a bootstrap administrator's name that is taken answers like any other name.
        new ServiceError('registration_closed', 'Sign-up is closed on this service')
  user = { id: randomId(16), name: username, displayName }
  const { challenge } = await challenges.issue({ ceremony: 'registration', userId: user.id, username, displayName })
  return build(core, user, exclude, challenge)
}

/** Self-service sign-up: open registration, or a name listed in BOOTSTRAP_ADMINS. */
function signUpAllowed(core: Core, username: string): boolean {
  return core.config.registration === 'open' || core.config.bootstrapAdmins.includes(username)
}

async function build(
  core: Core,
  user: { id: string; name: string; displayName: string },
  exclude: { id: string; transports?: string[] }[],
  challenge: string,
) {
  const { config } = core
  const { lib } = await webauthnLib()
  return lib.generateRegistrationOptions({
    rpName: config.rpName,
    rpID: config.rpId,
    userName: user.name,
    userID: decode(user.id),
    userDisplayName: user.displayName,
    challenge: decode(challenge),
    timeout: config.challengeTtl * 1000,
    attestationType: config.attestation,
    excludeCredentials: exclude as never,
    authenticatorSelection: {
      residentKey: 'required',
      requireResidentKey: true,
      userVerification: config.userVerification,
    },
    supportedAlgorithmIDs: [...SUPPORTED_ALGS],
  })
}

export interface RegistrationResult {
  user: { id: string; username: string }
  credential: ReturnType<typeof credentialView>
  tokens?: TokenResponse
}

/**
 * Verifies a registration and stores what it makes. `enrolment` (not part of the answer: the
 * audit reads it) says when an invitation or a recovery link was used.
 */
export async function completeRegistration(
  core: Core,
  body: Record<string, unknown>,
  principal?: Principal,
  /** The request's User-Agent, kept on a sign-up's first session; `jkt`: its DPoP key (RFC 9449). */
  { userAgent, jkt }: { userAgent?: string; jkt?: string } = {},
): Promise<RegistrationResult & { enrolment?: Enrolment }> {
  const { config, store, challenges, clock } = core
  // Stateful checks first: the challenge is consumed by this attempt whatever happens next.
  const challenge = challengeOf(body.credential)
  const ctx = await challenges.consume(challenge, 'registration')
  const input = parseWith(RegistrationVerifyRequest, body)
  const response = forLibrary<RegistrationResponseJSON>(input.credential)
  const label = input.label
  const reg = await verifyRegistration({
    response,
    expectedChallenge: challenge,
    expectedOrigins: config.allowedOrigins,
    expectedRPID: config.rpId,
    requireUserVerification: config.userVerification === 'required',
    metadata: core.metadata,
  })
  // CONTRACT "Authenticator trust": the model's metadata status and AUTHENTICATOR_POLICY.
  checkAuthenticator({ policy: config.authenticatorPolicy, aaguid: reg.aaguid, model: reg.model, attestationTrusted: reg.attestationTrusted })
  if (!ctx.userId) throw new ServiceError('challenge_unknown', 'The challenge is not bound to an account')
  // Stored under Table Storage keys (≤ 1 KiB): refuse, as bad input, ids no real passkey has.
  if (!isKeyId(reg.credentialId))
    throw new ServiceError('invalid_request', `credential id longer than ${MAX_KEY_ID} base64url characters is not supported`)
  const now = clock.now()
  const credential: CredentialRecord = {
    id: reg.credentialId,
    userId: ctx.userId,
    publicKey: reg.publicKey,
    alg: reg.alg,
    counter: reg.counter,
    transports: reg.transports,
    aaguid: reg.aaguid,
    fmt: reg.fmt,
    backupEligible: reg.backupEligible,
    backedUp: reg.backedUp,
    attestationTrusted: reg.attestationTrusted,
    ...(reg.attestationKeyId ? { attestationKeyId: reg.attestationKeyId } : {}),
    label: label ?? reg.model?.name ?? defaultLabel(reg.aaguid, reg.backupEligible),
    createdAt: now,
  }

  if (ctx.addToAccount) {
    // The signed-in account must still be signed in to finish (a revoked session cannot).
    if (!principal) throw new ServiceError('unauthorized', 'Adding a passkey needs the bearer token of the account', { headers: { 'www-authenticate': 'Bearer' } })
    if (principal.userId !== ctx.userId) throw new ServiceError('forbidden', 'This challenge was issued to another account')
    const user = await store.getUser(ctx.userId)
    if (!user) throw new ServiceError('credential_unknown', 'The account no longer exists')
    // A disabled account's sessions are revoked, so its token fails first; this covers the race.
    refuseDisabled(user)
    try {
      await store.addCredential(credential)
    } catch (e) {
      if (e instanceof UniquenessError) throw new ServiceError('credential_exists', 'This passkey is already registered')
      throw e
    }
    return { user: { id: user.id, username: user.username }, credential: credentialView(credential, reg.model) }
  }

  const assurance = { amr: amrFor(credential, reg), acr: acrFor(credential), userAgent, jkt }
  const withModel = <R extends RegistrationResult>(r: R): R => ({ ...r, credential: credentialView(credential, reg.model) })
  if (ctx.recoveryId !== undefined) return withModel(await completeRecovery(core, { userId: ctx.userId, recoveryId: ctx.recoveryId, credential, ...assurance }))
  if (ctx.invitationId !== undefined)
    return withModel(await completeInvitation(core, { userId: ctx.userId, invitationId: ctx.invitationId, displayName: ctx.displayName, credential, ...assurance }))

  // Sign-up: account, passkey and first session are written together or not at all.
  const username = ctx.username ?? ''
  if (!signUpAllowed(core, username)) throw new ServiceError('registration_closed', 'Sign-up is closed on this service')
  const user: UserRecord = {
    id: ctx.userId,
    username,
    displayName: ctx.displayName ?? username,
    roles: config.bootstrapAdmins.includes(username) ? ['admin'] : [],
    createdAt: now,
  }
  const tokens = await createAccountSignedIn(core, { user, credential, ...assurance })
  return { user: { id: user.id, username }, credential: credentialView(credential, reg.model), tokens }
}
