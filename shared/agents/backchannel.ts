/**
 * POST /api/oauth2/bc-authorize: an agent asks to act for a person (OpenID CIBA Core 1.0 §7, poll
 * mode; CONTRACT v2 "Agents acting for people").
 *
 * Checks, in order (errors are RFC 6749 §5.2 JSON, CIBA §13 codes):
 * 1. the caller authenticates with private_key_jwt (else `invalid_client`) and is registered as an
 *    agent (else `unauthorized_client`);
 * 2. exactly the `login_hint` hint (`login_hint_token`, `id_token_hint`: `invalid_request`), no
 *    `client_notification_token` (poll mode only);
 * 3. `scope` present and grantable to this agent (`invalid_scope`); `binding_message` present,
 *    ≤ 100 printable characters (`invalid_binding_message`); `authorization_details` (RFC 9396,
 *    `invalid_authorization_details`); `requested_expiry` a positive integer (capped at 600 s);
 * 4. `login_hint` names an enabled person (else `unknown_user_id`, §13: only registered agents
 *    authenticated with their keys can ask, so this does not enumerate accounts to the public);
 * 5. this agent has fewer than MAX_PENDING requests waiting for this person (else `access_denied`).
 *
 * The request is stored in the person's partition with the hash of a secret; `auth_req_id` is a
 * sealed pointer to it that carries the secret (shared/oauth/seal.ts), so it names neither the
 * person nor the request to the agent, cannot be forged, and is worthless without the store.
 */
import type { Core } from '../core.js'
import type { RequestOrigin } from '../audit/context.js'
import { OAuthError, ServiceError } from '../errors.js'
import type { ClientAuthentication } from '../oauth/clientAuth.js'
import { allowedScopes, requestedScope, scopeRefusal, ungrantable } from '../oauth/scopes.js'
import { openJson, sealJson } from '../oauth/seal.js'
import type { BackchannelRequestRecord, ClientRecord } from '../store/types.js'
import { isBase64url } from '../util/base64url.js'
import { sha256b64u } from '../util/hash.js'
import { randomId } from '../util/random.js'
import { parseUsername } from '../webauthn/input.js'
import { parseAuthorizationDetails } from './authorizationDetails.js'

/** CIBA §7.3 `interval`: seconds between polls. */
export const POLL_INTERVAL = 5
/** How long a request waits for the person without `requested_expiry`, and at most (seconds). */
export const DEFAULT_EXPIRY = 300
export const MAX_EXPIRY = 600
/**
 * Requests one agent may have waiting for one person: more is refused (`access_denied`), so an
 * agent cannot flood a person's list of approvals (or partition).
 */
export const MAX_PENDING = 10
/** Decided or expired requests are deleted when the person is next asked, once this old (ms). */
export const KEEP_DONE_MS = 60 * 60_000
/** At most this many such deletions per request (the rest wait for the next one). */
const CLEANUP_PER_REQUEST = 10

/** CONTRACT: the binding message shown to the person, ≤ 100 characters. */
export const MAX_BINDING_MESSAGE = 100

const PRINTABLE = /^[^\u0000-\u001f\u007f-\u009f]*$/

interface SealedAuthReq {
  /** person */
  u: string
  /** request id */
  q: string
  /** secret (its hash is stored) */
  s: string
}

/** The authenticated agent, or the OAuth error CIBA §13 names. */
export function agentOf(client: ClientAuthentication): ClientRecord {
  if (client.method !== 'private_key_jwt')
    throw new OAuthError('invalid_client', 'An agent authenticates with private_key_jwt (client_assertion)')
  if (client.client.agent !== true) throw new OAuthError('unauthorized_client', 'This client is not registered as an agent ("agent": true)')
  return client.client
}

/**
 * @example
 * const { auth_req_id, expires_in, interval } = await backchannelAuthentication(core, { params, client, from })
 */
export async function backchannelAuthentication(
  core: Core,
  { params, client, from }: { params: Map<string, string>; client: ClientAuthentication; from: RequestOrigin },
): Promise<{ auth_req_id: string; expires_in: number; interval: number }> {
  const { config, store, clock } = core
  const agent = agentOf(client)
  for (const hint of ['login_hint_token', 'id_token_hint'])
    if (params.has(hint)) throw new OAuthError('invalid_request', `${hint} is not supported: name the person with login_hint (a username)`)
  if (params.has('client_notification_token'))
    throw new OAuthError('invalid_request', 'Only the poll mode is supported: no client_notification_token')
  const loginHint = params.get('login_hint')
  if (!loginHint) throw new OAuthError('invalid_request', 'login_hint (the username of the person) is required')

  const scope = requestedScope(params)
  if (!scope) throw new OAuthError('invalid_request', 'scope is required (CIBA §7.1)')
  const refused = ungrantable(scope, allowedScopes(config, agent))
  if (refused.length) throw new OAuthError('invalid_scope', scopeRefusal(refused))

  const bindingMessage = params.get('binding_message')?.trim()
  if (!bindingMessage) throw new OAuthError('invalid_request', 'binding_message (shown to the person) is required')
  if (bindingMessage.length > MAX_BINDING_MESSAGE || !PRINTABLE.test(bindingMessage))
    throw new OAuthError('invalid_binding_message', `binding_message must be at most ${MAX_BINDING_MESSAGE} printable characters`)
  const authorizationDetails = parseAuthorizationDetails(params.get('authorization_details'))
  const expiresIn = requestedExpiry(params.get('requested_expiry'))

  const person = await findPerson(core, loginHint)
  const now = clock.now()
  await limitPending(core, { userId: person, agentId: agent.id, now })
  const secret = randomId(32)
  const request: BackchannelRequestRecord = {
    id: randomId(16),
    userId: person,
    clientId: agent.id,
    clientName: agent.name,
    scope,
    bindingMessage,
    ...(authorizationDetails ? { authorizationDetails } : {}),
    secretHash: await sha256b64u(secret),
    createdAt: now,
    expiresAt: now + expiresIn * 1000,
    interval: POLL_INTERVAL,
    state: 'pending',
  }
  await store.createBackchannelRequest(request)
  await core.audit.record({
    ...from,
    type: 'delegation.requested',
    actor: { clientId: agent.id },
    target: { userId: person, clientId: agent.id },
    detail: { requestId: request.id, scope, perAction: authorizationDetails !== undefined, expiresIn },
  })
  const auth_req_id = await sealJson(core.oauthKey, 'ciba-auth-req-v1', { u: person, q: request.id, s: secret } satisfies SealedAuthReq)
  return { auth_req_id, expires_in: expiresIn, interval: POLL_INTERVAL }
}

/**
 * One partition query of the person's requests: refuses a new one while this agent has
 * MAX_PENDING waiting, and deletes (best effort, etag-guarded) a few that expired more than
 * KEEP_DONE_MS ago, so that the rows stay bounded by recent activity (Table Storage has no TTL).
 */
async function limitPending(core: Core, { userId, agentId, now }: { userId: string; agentId: string; now: number }): Promise<void> {
  const rows = await core.store.listBackchannelRequests(userId)
  if (rows.filter((r) => r.clientId === agentId && r.state === 'pending' && now < r.expiresAt).length >= MAX_PENDING)
    throw new OAuthError('access_denied', `This agent already has ${MAX_PENDING} requests waiting for this person`)
  const old = rows.filter((r) => r.expiresAt + KEEP_DONE_MS < now).slice(0, CLEANUP_PER_REQUEST)
  await Promise.all(old.map((r) => core.store.deleteBackchannelRequest(r).catch(() => false)))
}

/** CIBA §7.1 `requested_expiry`: a positive integer of seconds; more than MAX_EXPIRY is capped. */
function requestedExpiry(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_EXPIRY
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) throw new OAuthError('invalid_request', 'requested_expiry must be a positive integer of seconds')
  return Math.min(Number(raw), MAX_EXPIRY)
}

/** The enabled person a username names, else `unknown_user_id` (a disabled account alike). */
async function findPerson(core: Core, loginHint: string): Promise<string> {
  const unknown = () => new OAuthError('unknown_user_id', 'No person with this login_hint can be asked')
  let username: string
  try {
    username = parseUsername(loginHint)
  } catch (e) {
    if (e instanceof ServiceError) throw unknown()
    throw e
  }
  const id = await core.store.findUserIdByUsername(username)
  const user = id ? await core.store.getUser(id) : undefined
  if (!user || !user.username || user.disabledAt !== undefined) throw unknown()
  return user.id
}

/**
 * The request an `auth_req_id` points at, when it is one of ours, names a stored request of this
 * agent, and carries its secret; else undefined (`invalid_grant` for the caller).
 */
export async function requestOf(core: Core, authReqId: string, agentId: string): Promise<BackchannelRequestRecord | undefined> {
  const ref = await openJson<SealedAuthReq>(core.oauthKey, 'ciba-auth-req-v1', authReqId)
  if (!ref || !isBase64url(ref.u) || !isBase64url(ref.q) || typeof ref.s !== 'string') return undefined
  const request = await core.store.getBackchannelRequest(ref.u, ref.q)
  if (!request || request.clientId !== agentId || request.secretHash !== (await sha256b64u(ref.s))) return undefined
  return request
}
