/**
 * The person's side of an agent's request (CONTRACT v2 "Agents acting for people"): the pending
 * requests, the WebAuthn options bound to one of them, the approval with a passkey, the denial.
 *
 * The approval is a WebAuthn ceremony of its own kind (`approval`, shared/webauthn/challenges.ts):
 * its challenge is sealed with the request id and the person, so an assertion made to sign in, or
 * to approve another request, is refused (`challenge_unknown`), and the challenge is single use.
 * The assertion is verified like a sign-in (shared/webauthn/authentication.ts
 * `verifyPasskeyAssertion`: one of the person's own passkeys, signature, origin, RP ID, user
 * verification always required, counter, backup eligibility, revoked passkeys), and the passkey's
 * new counter and the approved request are written in one transaction of the person's partition.
 * The approval records the assertion's time, amr and acr: the delegated token carries them.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { parseWith } from '../middleware/validate.js'
import type { ApprovalView } from '../schemas/agents.js'
import { ApprovalVerifyRequest } from '../schemas/agents.js'
import { inHandFirst, updateWithRetry } from '../store/retry.js'
import type { BackchannelRequestRecord } from '../store/types.js'
import { decode, isKeyId } from '../util/base64url.js'
import { seconds } from '../util/clock.js'
import { acrFor, amrFor } from '../webauthn/assurance.js'
import { commitAssertion, verifyPasskeyAssertion } from '../webauthn/authentication.js'
import { challengeOf } from '../webauthn/checks.js'
import { webauthnLib } from '../webauthn/lib.js'
import { forLibrary } from '../webauthn/shape.js'
import type { AuthenticationResponseJSON } from '@simplewebauthn/server'

const iso = (ms: number) => new Date(ms).toISOString()

/** Waiting for the person: pending and not expired. */
export const isPending = (r: BackchannelRequestRecord, now: number) => r.state === 'pending' && now < r.expiresAt

const noSuchRequest = () => new ServiceError('not_found', 'No such pending request (it was decided, expired, or is not yours)')

function view(r: BackchannelRequestRecord): ApprovalView {
  return {
    id: r.id,
    clientId: r.clientId,
    clientName: r.clientName,
    bindingMessage: r.bindingMessage,
    scope: r.scope,
    ...(r.authorizationDetails ? { authorizationDetails: r.authorizationDetails } : {}),
    createdAt: iso(r.createdAt),
    expiresAt: iso(r.expiresAt),
  }
}

/**
 * GET /api/me/approvals: the person's pending requests, oldest first (one partition query).
 *
 * @example
 * const list = await listApprovals(core, principal.userId)
 */
export async function listApprovals(core: Core, userId: string): Promise<ApprovalView[]> {
  const now = core.clock.now()
  return (await core.store.listBackchannelRequests(userId))
    .filter((r) => isPending(r, now))
    .sort((a, b) => a.createdAt - b.createdAt)
    .map(view)
}

/** The caller's own pending request, looked up in their partition only (others': 404 alike). */
async function pendingRequest(core: Core, userId: string, requestId: string): Promise<BackchannelRequestRecord> {
  const r = isKeyId(requestId) ? await core.store.getBackchannelRequest(userId, requestId) : undefined
  if (!r || !isPending(r, core.clock.now())) throw noSuchRequest()
  return r
}

/**
 * POST /api/me/approvals/{id}/options: request options whose challenge approves this request
 * only: the person's passkeys (not the revoked ones), user verification required.
 */
export async function approvalOptions(core: Core, { userId, requestId }: { userId: string; requestId: string }) {
  const { config, store, challenges } = core
  await pendingRequest(core, userId, requestId)
  const account = await store.getAccount(userId)
  if (!account) throw noSuchRequest()
  const { challenge } = await challenges.issue({ ceremony: 'approval', userId, requestId })
  const { lib } = await webauthnLib()
  return lib.generateAuthenticationOptions({
    rpID: config.rpId,
    challenge: decode(challenge),
    timeout: config.challengeTtl * 1000,
    allowCredentials: account.credentials.filter((c) => !c.flaggedAt).map((c) => ({ id: c.id, transports: c.transports })) as never,
    userVerification: 'required',
  })
}

/**
 * POST /api/me/approvals/{id}/verify: approves the request with a passkey assertion over the
 * challenge of …/options for this request (`delegation.approved`).
 */
export async function approveRequest(
  core: Core,
  { userId, requestId, body, from }: { userId: string; requestId: string; body: Record<string, unknown>; from: RequestOrigin },
): Promise<void> {
  const { store, clock } = core
  // Stateful checks first: the challenge is consumed by this attempt whatever happens next.
  const challenge = challengeOf(body.credential)
  const ctx = await core.challenges.consume(challenge, 'approval')
  if (ctx.requestId !== requestId || ctx.userId !== userId)
    throw new ServiceError('challenge_unknown', 'This passkey response was made for another request')
  const input = parseWith(ApprovalVerifyRequest, body)
  const response = forLibrary<AuthenticationResponseJSON>(input.credential)
  const request = await pendingRequest(core, userId, requestId)
  const { credential, verified } = await verifyPasskeyAssertion(core, { response, challenge, ctx, requireUserVerification: true })
  const authTime = seconds(clock.now())
  const approval = { at: clock.now(), authTime, amr: amrFor(credential, verified), acr: acrFor(credential), credentialId: credential.id }
  const read = inHandFirst<BackchannelRequestRecord>(request, () => pendingRequest(core, userId, requestId))
  // The passkey's counter and the approval in one transaction; a poll that wrote the request
  // meanwhile makes it lose, then both are read again.
  await commitAssertion(core, {
    credential,
    verified,
    write: async (updated) => {
      const current = await read()
      await store.recordApproval(updated, { ...current, state: 'approved', approval })
    },
  })
  await core.audit.record({
    ...from,
    type: 'delegation.approved',
    actor: { userId },
    target: { userId, clientId: request.clientId, credentialId: credential.id },
    detail: { requestId, scope: request.scope, perAction: request.authorizationDetails !== undefined },
  })
}

/** DELETE /api/me/approvals/{id}: the person denies the request (`delegation.denied`); the agent's poll answers access_denied. */
export async function denyRequest(core: Core, { userId, requestId, from }: { userId: string; requestId: string; from: RequestOrigin }): Promise<void> {
  const request = await pendingRequest(core, userId, requestId)
  await updateWithRetry<BackchannelRequestRecord>({
    read: inHandFirst<BackchannelRequestRecord>(request, () => pendingRequest(core, userId, requestId)),
    change: (r): BackchannelRequestRecord => ({ ...r, state: 'denied' }),
    write: (r) => core.store.updateBackchannelRequest(r),
  })
  await core.audit.record({
    ...from,
    type: 'delegation.denied',
    actor: { userId },
    target: { userId, clientId: request.clientId },
    detail: { requestId, scope: request.scope },
  })
}
