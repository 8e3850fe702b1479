/**
 * Authentication ceremonies (CONTRACT "WebAuthn ceremonies"): with a username or usernameless
 * (discoverable credentials, autofill). Verify: consume the challenge (1 round trip), read the
 * account (1 partition query), record the sign-in and the new session (1 transaction).
 */
import type { Core } from '../core.js'
import { hmac } from '../crypto/kek.js'
import { ServiceError } from '../errors.js'
import { inHandFirst, updateWithRetry } from '../store/retry.js'
import { ConcurrencyError, type Account, type CredentialRecord, type SessionRecord, type UserRecord } from '../store/types.js'
import { decode, encode } from '../util/base64url.js'
import { FIRST_PARTY_CLIENT, type TokenResponse } from '../tokens/sessions.js'
import { challengeOf, decodeClientData } from './checks.js'
import type { ChallengeContext } from './challenges.js'
import { parseWith } from '../middleware/validate.js'
import { AuthenticationVerifyRequest, type AuthenticationOptionsInput } from '../schemas/webauthn.js'
import { allowedScopes, scopeRefusal, ungrantable } from '../oauth/scopes.js'
import { acrFor, acrSatisfies, amrFor } from './assurance.js'
import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import { forLibrary } from './shape.js'
import { webauthnLib } from './lib.js'
import { verifyAuthentication } from './verifyAuthentication.js'
import { refuseDisabled } from '../admin/disable.js'
import { checkAuthenticator } from './authenticatorPolicy.js'

export async function authenticationOptions(core: Core, input: AuthenticationOptionsInput) {
  const { config, store, challenges } = core
  let allow: { id: string }[] = []
  let userId: string | undefined
  const username = input.username
  if (username) {
    const found = await store.findUserIdByUsername(username)
    // An unknown username gets decoys derived from the name with a keyed HMAC, after the same
    // storage reads, so the answer cannot be told from a known user's (CONTRACT v2 "No account
    // enumeration"): the same members, no transports for anyone (a real account's transports
    // would otherwise show), a count and id lengths drawn like real ones, the same each time.
    const key = await core.enumerationKey
    const decoyUser = encode((await hmac(key, `user:${username}`)).subarray(0, 16))
    const account = await store.getAccount(found ?? decoyUser)
    if (found && account && account.credentials.length > 0) {
      userId = found
      // Revoked passkeys are listed too (their sign-in answers credential_revoked): an account
      // never shows an empty list, which no decoy could imitate. At most MAX_LISTED, the most
      // recently used, so that the count never exceeds a decoy's (the others still sign in
      // without a username: every passkey here is discoverable).
      allow = account.credentials
        .sort((a, b) => (b.lastUsedAt ?? b.createdAt) - (a.lastUsedAt ?? a.createdAt))
        .slice(0, MAX_LISTED)
        .map((c) => ({ id: c.id }))
    } else {
      userId = decoyUser
      allow = await decoyCredentials(key, username)
    }
  }
  const { challenge } = await challenges.issue({ ceremony: 'authentication', userId })
  const { lib } = await webauthnLib()
  return lib.generateAuthenticationOptions({
    rpID: config.rpId,
    challenge: decode(challenge),
    timeout: config.challengeTtl * 1000,
    allowCredentials: allow as never,
    userVerification: config.userVerification,
  })
}

/** The most passkeys a sign-in by username lists: a decoy's largest count. */
export const MAX_LISTED = 5

/**
 * Decoy credential descriptors for an unknown username: 1 to MAX_LISTED of them (about 60 / 25 /
 * 10 / 3 / 2 %, as most people hold one passkey, or a second as a backup), with ids of the lengths
 * real authenticators make (16, 20, 32 or 64 bytes), all derived from the name so that asking
 * again gives the same.
 */
async function decoyCredentials(key: CryptoKey, username: string): Promise<{ id: string }[]> {
  const seed = await hmac(key, `credentials:${username}`)
  const roll = seed[0]! % 100
  const count = roll < 60 ? 1 : roll < 85 ? 2 : roll < 95 ? 3 : roll < 98 ? 4 : MAX_LISTED
  const out: { id: string }[] = []
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(64)
    bytes.set(await hmac(key, `credential:${i}:${username}`), 0)
    bytes.set(await hmac(key, `credential:${i}:more:${username}`), 32)
    out.push({ id: encode(bytes.subarray(0, [16, 20, 32, 32, 64][seed[1 + i]! % 5])) })
  }
  return out
}

/** `userAgent`: the request's, kept on the new session (the account's session list shows it). */
export async function completeAuthentication(core: Core, body: Record<string, unknown>, { userAgent, jkt }: { userAgent?: string; jkt?: string } = {}): Promise<TokenResponse> {
  const { config, sessions } = core
  // Stateful checks first: the challenge is consumed by this attempt whatever happens next.
  const challenge = challengeOf(body.credential)
  const consumed = { challenge, ctx: await core.challenges.consume(challenge, 'authentication') }
  const input = parseWith(AuthenticationVerifyRequest, body)
  const response = forLibrary<AuthenticationResponseJSON>(input.credential)
  const audience = input.audience ?? config.audiences[0]!
  if (typeof audience !== 'string' || !config.audiences.includes(audience))
    throw new ServiceError('invalid_request', `audience must be one of the configured audiences`)
  const scope = input.scope ?? 'openid'
  // Granted, not echoed: our own page may have any grantable scope, and nothing else.
  const refused = ungrantable(scope, allowedScopes(config))
  if (refused.length) throw new ServiceError('invalid_scope', scopeRefusal(refused))
  // The signing key must be usable before the sign-in is recorded (no session without tokens).
  await core.keyRing.signingKey()
  const { user, session, refreshToken } = await signInWithPasskey(core, { response, consumed, clientId: FIRST_PARTY_CLIENT, audience, scope, userAgent, jkt })
  return sessions.respond(user, session, refreshToken)
}

/**
 * Verifies a passkey assertion and records the sign-in with a new session for `clientId`, without
 * issuing tokens: the WebAuthn verify endpoint responds with tokens at once, the OAuth
 * authorization endpoint (shared/oauth/authorization/complete.ts) hands the session over with a
 * code. `authorizationCode` is stored on the session as it is created.
 */
export async function signInWithPasskey(
  core: Core,
  {
    response,
    consumed,
    clientId,
    audience,
    scope,
    authorizationCode,
    userAgent,
    acceptAcr,
    jkt,
    beforeSession,
  }: {
    response: AuthenticationResponseJSON
    /** The challenge, when the caller consumed it already (otherwise it is consumed here). */
    consumed?: { challenge: string; ctx: ChallengeContext }
    clientId: string
    audience: string
    scope: string
    authorizationCode?: SessionRecord['authorizationCode']
    /** The sign-in request's User-Agent, kept on the session. */
    userAgent?: string
    /** acr values of which the passkey's must reach one (the authorization request's acr_values). */
    acceptAcr?: readonly string[]
    /** RFC 9449: the DPoP key the session's tokens are bound to. */
    jkt?: string | undefined
    /**
     * Runs once the assertion is verified, before the session exists (the hosted page records
     * the approval there): when it throws, no session is made.
     */
    beforeSession?: (user: UserRecord) => Promise<void>
  },
): Promise<{ user: UserRecord; session: SessionRecord; refreshToken: string }> {
  const { challenges, sessions, store } = core

  // Stateful checks first: consume the challenge, then find the credential.
  // verifyAuthentication checks that the response's clientData carries exactly this challenge.
  const challenge = consumed?.challenge ?? decodeClientData(response.response.clientDataJSON).challenge
  const ctx = consumed?.ctx ?? (await challenges.consume(challenge, 'authentication'))
  const { account, credential, verified } = await verifyPasskeyAssertion(core, { response, challenge, ctx })
  const acr = acrFor(credential)
  if (acceptAcr && !acceptAcr.some((want) => acrSatisfies(acr, want)))
    throw new ServiceError(
      'insufficient_user_authentication',
      `The application asks for a sign-in of level ${acceptAcr.join(' or ')}; this passkey gives ${acr}. Use a device-bound passkey (a security key) whose model this service trusts.`,
    )

  await beforeSession?.(account.user)
  const { session, refreshToken } = await sessions.create({
    user: account.user,
    credentialId: credential.id,
    clientId,
    audience,
    scope,
    amr: amrFor(credential, verified),
    acr,
    userAgent,
    jkt,
  })
  if (authorizationCode) session.authorizationCode = authorizationCode
  // Record the counter and the session together.
  await commitAssertion(core, { credential, verified, write: (updated) => store.recordSignIn(updated, session) })
  return { user: account.user, session, refreshToken }
}

/** What a verified assertion gives: the account, its passkey as read, and the library's result. */
export interface VerifiedAssertion {
  account: Account
  credential: CredentialRecord
  verified: Awaited<ReturnType<typeof verifyAuthentication>>
}

/**
 * Verifies a passkey assertion over a challenge the caller consumed (`ctx`): the user handle is
 * the challenge's account when both are known (§7.2 step 6), the passkey is one of that
 * account's and not revoked, then signature, origin, RP ID, flags and counter
 * (verifyAuthentication; a counter regression flags the passkey), and the account is not disabled.
 * Nothing is written but a flag: the caller commits with `commitAssertion`.
 */
export async function verifyPasskeyAssertion(
  core: Core,
  {
    response,
    challenge,
    ctx,
    requireUserVerification = core.config.userVerification === 'required',
  }: {
    response: AuthenticationResponseJSON
    challenge: string
    ctx: ChallengeContext
    /** Default: per USER_VERIFICATION; approvals always require it. */
    requireUserVerification?: boolean
  },
): Promise<VerifiedAssertion> {
  const { config, store } = core
  const userHandle = response.response.userHandle || undefined
  // §7.2 step 6: the user handle, when both are known, must be the challenge's account.
  if (ctx.userId && userHandle && userHandle !== ctx.userId)
    throw new ServiceError('credential_unknown', 'This passkey does not belong to the account that was asked for')
  const userId = ctx.userId ?? userHandle
  if (!userId) throw new ServiceError('credential_unknown', 'The authenticator returned no user handle')
  const account = await store.getAccount(userId)
  const credential = account?.credentials.find((c) => c.id === response.id)
  if (!account || !credential) throw new ServiceError('credential_unknown', 'This passkey is not registered here')
  if (credential.flaggedAt)
    throw new ServiceError('credential_revoked', `This passkey was revoked (${credential.flagReason ?? 'flagged'})`)

  const expected = {
    response,
    expectedChallenge: challenge,
    expectedOrigins: config.allowedOrigins,
    expectedRPID: config.rpId,
    requireUserVerification,
  }
  let verified
  try {
    verified = await verifyAuthentication({ ...expected, credential })
  } catch (e) {
    if (e instanceof ServiceError && e.code === 'counter_regression') await flag(core, credential, 'counter regression')
    throw e
  }
  // After the assertion verified: only the account's own passkey learns that it is disabled.
  refuseDisabled(account.user)
  // CONTRACT "Authenticator trust": a model refused since (status report, AUTHENTICATOR_POLICY);
  // for sign-in and for an agent's approval alike.
  checkAuthenticator({
    policy: core.config.authenticatorPolicy,
    aaguid: credential.aaguid,
    model: await core.metadata.lookupCredential(credential),
    attestationTrusted: credential.attestationTrusted,
  })
  return { account, credential, verified }
}

/**
 * Records a verified assertion: the passkey's new counter, backup state and lastUsedAt, written
 * by `write` (with whatever the ceremony records in the same transaction) under the passkey's
 * etag. A concurrent use of the same passkey makes the etag lose: the passkey is read again, the
 * counter checked against the winner's, the account checked not disabled meanwhile, and `write`
 * tried again (3 tries).
 */
export async function commitAssertion(
  core: Core,
  { credential, verified, write }: Pick<VerifiedAssertion, 'credential' | 'verified'> & { write: (updated: CredentialRecord) => Promise<void> },
): Promise<CredentialRecord> {
  const { store, clock } = core
  const userId = credential.userId
  return updateWithRetry({
    read: inHandFirst<CredentialRecord>(credential, async () => {
      const fresh = await store.getCredential(userId, credential.id)
      if (!fresh) throw new ServiceError('credential_unknown', 'This passkey was deleted meanwhile')
      if (fresh.flaggedAt) throw new ServiceError('credential_revoked', 'This passkey was revoked meanwhile')
      // Disabling rewrites every passkey row (store.disableUser): a sign-in that lost to it stops here.
      const user = await store.getUser(userId)
      if (!user) throw new ServiceError('credential_unknown', 'The account was deleted meanwhile')
      refuseDisabled(user)
      if ((verified.newCounter > 0 || fresh.counter > 0) && verified.newCounter <= fresh.counter) {
        await flag(core, fresh, 'counter regression')
        throw new ServiceError('counter_regression', 'The signature counter did not increase: this passkey may have been cloned. It has been flagged.')
      }
      return fresh
    }),
    change: (cred): CredentialRecord => ({ ...cred, counter: verified.newCounter, backedUp: verified.backedUp, lastUsedAt: clock.now() }),
    write: (updated) => write(updated),
    attempts: 3,
  })
}

/** Flags a credential (refused from now on). Best effort: the caller's error is what matters. */
async function flag(core: Core, credential: CredentialRecord, reason: string): Promise<void> {
  try {
    await updateWithRetry({
      read: inHandFirst<CredentialRecord | undefined>(credential, () => core.store.getCredential(credential.userId, credential.id)),
      // Deleted or flagged meanwhile: nothing left to do.
      change: (cred) => (cred && !cred.flaggedAt ? { ...cred, flaggedAt: core.clock.now(), flagReason: reason } : undefined),
      write: async (flagged) => {
        if (flagged) await core.store.updateCredential(flagged)
      },
      attempts: 3,
    })
  } catch (e) {
    if (!(e instanceof ConcurrencyError)) throw e // three lost races: the winners' writes stand
  }
}
