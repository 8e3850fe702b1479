/**
 * Audit events of the WebAuthn ceremonies (shared/routes/webauthn.ts): sign-up, passkey added,
 * sign-in, and refused verifies. Ids, usernames, amr/acr only: never the attestation, the
 * assertion or the tokens.
 *
 * Successes are recorded after the ceremony's own write, awaited, best effort (`record` never
 * throws); failures are recorded and the original error rethrown unchanged, so a 4xx stays the
 * same 4xx whether or not the audit append worked.
 */
import type { Context } from 'hono'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import type { Principal } from '../middleware/bearer.js'
import type { IssuedTokens } from './tokenIds.js'
import type { RegistrationResult } from '../webauthn/registration.js'
import type { Enrolment } from '../webauthn/enrolment.js'
import { auditContext } from './context.js'
import { tokenIds } from './tokenIds.js'

type Ceremony = 'registration' | 'authentication'

/** A WebAuthn credential id as sent (base64url, ≤ 1023 bytes: WebAuthn #credential-id), else undefined. */
function sentCredentialId(body: Record<string, unknown>): string | undefined {
  const id = (body.credential as { id?: unknown } | undefined)?.id
  return typeof id === 'string' && /^[A-Za-z0-9_-]{1,1366}$/.test(id) ? id : undefined
}

/** The user handle an authenticator returned (base64url user id), else undefined. */
function sentUserHandle(body: Record<string, unknown>): string | undefined {
  const h = (body.credential as { response?: { userHandle?: unknown } } | undefined)?.response?.userHandle
  return typeof h === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(h) ? h : undefined
}

/**
 * A `.catch()` handler for a ceremony's verify: records `ceremony.failed` with the error code for
 * a refused attempt (4xx), then rethrows the same error. Storage failures (5xx) are not recorded:
 * the append would fail the same way.
 *
 * @example
 * const result = await completeRegistration(core, body, p).catch(ceremonyFailed(core, c, 'registration', body))
 */
export function ceremonyFailed(core: Core, c: Context, ceremony: Ceremony, body: Record<string, unknown>) {
  return async (err: unknown): Promise<never> => {
    core.telemetry.count('passkey.ceremonies', { ceremony, outcome: 'failure', 'error.code': err instanceof ServiceError ? err.code : 'internal' })
    if (err instanceof ServiceError && err.status < 500) {
      const userId = ceremony === 'authentication' ? sentUserHandle(body) : undefined
      const credentialId = sentCredentialId(body)
      await core.audit.record({
        ...auditContext(c),
        type: 'ceremony.failed',
        outcome: 'failure',
        target: { ...(userId ? { userId } : {}), ...(credentialId ? { credentialId } : {}) },
        detail: { ceremony, code: err.code, status: err.status },
      })
    }
    throw err
  }
}

/**
 * `user.signed_up` (result with tokens; then `invitation.used` too when an invitation made the
 * account), `recovery.used` (a recovery link added the passkey), or `passkey.added` (a signed-in
 * account's new passkey). Never the link's token.
 */
export async function recordRegistration(core: Core, c: Context, result: RegistrationResult, principal?: Principal, enrolment?: Enrolment) {
  const { user, credential, tokens } = result
  const ids = tokenIds(tokens)
  const who = { userId: user.id, username: user.username }
  if (enrolment && 'recovery' in enrolment) {
    await core.audit.record({
      ...auditContext(c),
      type: 'recovery.used',
      actor: who,
      target: { ...who, credentialId: credential.id, ...(ids.sessionId ? { sessionId: ids.sessionId } : {}) },
      detail: {
        label: credential.label,
        aaguid: credential.aaguid,
        backupEligible: credential.backupEligible,
        revokedSessions: enrolment.recovery.revokedSessions,
        ...(ids.acr ? { acr: ids.acr, amr: ids.amr ?? [] } : {}),
      },
    })
    return
  }
  if (enrolment) await core.audit.record({ ...auditContext(c), type: 'invitation.used', actor: who, target: who, detail: { invitationId: enrolment.invitationId } })
  await core.audit.record({
    ...auditContext(c),
    type: tokens ? 'user.signed_up' : 'passkey.added',
    actor: principal ? { userId: principal.userId } : who,
    target: { ...who, credentialId: credential.id, ...(ids.sessionId ? { sessionId: ids.sessionId } : {}) },
    detail: {
      label: credential.label,
      aaguid: credential.aaguid,
      backupEligible: credential.backupEligible,
      ...(ids.acr ? { acr: ids.acr, amr: ids.amr ?? [] } : {}),
    },
  })
}

/** `user.signed_in`: who, with which passkey, which session, audience, scope, amr and acr. */
export async function recordSignIn(core: Core, c: Context, body: Record<string, unknown>, tokens: IssuedTokens) {
  const ids = tokenIds(tokens)
  const credentialId = sentCredentialId(body)
  const who = { ...(ids.userId ? { userId: ids.userId } : {}), ...(ids.username ? { username: ids.username } : {}) }
  await core.audit.record({
    ...auditContext(c),
    type: 'user.signed_in',
    actor: who,
    target: { ...who, ...(credentialId ? { credentialId } : {}), ...(ids.sessionId ? { sessionId: ids.sessionId } : {}) },
    detail: { audience: ids.audience, scope: ids.scope, amr: ids.amr, acr: ids.acr, clientId: ids.clientId },
  })
}
