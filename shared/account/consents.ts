/**
 * Remembered consent (CONTRACT v2 "AI clients and MCP servers": "the person approves with a
 * passkey"): what a person approved for an application on the hosted page — its scopes and the
 * APIs (resources) — kept per person and application, listed and revocable on the self-service
 * page. Revoking one also ends that application's sessions for the person (their refresh tokens
 * at once, access tokens at the authorizer within AUTHZ_CACHE_TTL), as Keycloak and Auth0 do.
 *
 * The approval is the passkey assertion itself: the hosted page shows who asks, for what, and the
 * assertion answers a challenge bound to that very request (shared/oauth/authorization/handle.ts),
 * so there is no separate click to replay.
 */
import type { RequestOrigin } from '../audit/context.js'
import type { Core } from '../core.js'
import { ServiceError } from '../errors.js'
import { isMetadataDocumentClientId, MAX_CLIENT_ID_URL } from '../oauth/clientMetadata.js'
import type { ConsentView } from '../schemas/sessions.js'
import { updateWithRetry } from '../store/retry.js'
import type { ConsentRecord } from '../store/types.js'
import { revokeClientSessions } from './sessions.js'

const iso = (ms: number) => new Date(ms).toISOString()

/** Whether `consent` covers a request for `scope` and `resource`. */
export function consentCovers(consent: Pick<ConsentRecord, 'scope' | 'resources'> | undefined, { scope, resource }: { scope: string; resource: string }): boolean {
  if (!consent) return false
  const granted = new Set(consent.scope.split(' ').filter(Boolean))
  return scope.split(' ').filter(Boolean).every((s) => granted.has(s)) && consent.resources.includes(resource)
}

/** Attempts at merging an approval into a consent another request changes at the same time. */
const MERGE_ATTEMPTS = 5

/**
 * Records the person's approval of `client` for `scope` and `resource` (the union with what was
 * approved before) and audits `consent.given` when it adds anything. Returns whether it did.
 * Read, merge, write guarded by the etag read (insert when new; store/retry.ts): two approvals
 * at once both count, the loser merges again over the winner's row.
 *
 * @example
 * await rememberConsent(core, { userId, client, scope: 'openid', resource: 'https://gw/sample', from })
 */
export async function rememberConsent(
  core: Core,
  { userId, client, scope, resource, from }: { userId: string; client: { id: string; name: string }; scope: string; resource: string; from: RequestOrigin },
): Promise<boolean> {
  const written = await updateWithRetry({
    read: () => core.store.getConsent(userId, client.id),
    change: (existing): ConsentRecord | undefined => {
      if (consentCovers(existing, { scope, resource })) return undefined
      const now = core.clock.now()
      const scopes = new Set([...(existing?.scope.split(' ') ?? []), ...scope.split(' ')].filter(Boolean))
      return {
        userId,
        clientId: client.id,
        clientName: client.name,
        scope: [...scopes].join(' '),
        resources: [...new Set([...(existing?.resources ?? []), resource])],
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
        ...(existing?.etag ? { etag: existing.etag } : {}),
      }
    },
    write: async (consent) => {
      if (consent) await core.store.putConsent(consent)
    },
    attempts: MERGE_ATTEMPTS,
  })
  if (!written) return false
  await core.audit.record({
    ...from,
    actor: { userId },
    type: 'consent.given',
    target: { userId, clientId: client.id },
    detail: { scope, resource, registered: !isMetadataDocumentClientId(client.id) },
  })
  return true
}

function consentView(c: ConsentRecord): ConsentView {
  return {
    clientId: c.clientId,
    clientName: c.clientName,
    registered: !isMetadataDocumentClientId(c.clientId),
    scope: c.scope,
    resources: c.resources,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  }
}

/** GET /api/me/consents: the person's approvals, most recent first. */
export async function listConsents(core: Core, userId: string): Promise<ConsentView[]> {
  return (await core.store.listConsents(userId)).sort((a, b) => b.updatedAt - a.updatedAt).map(consentView)
}

/**
 * DELETE /api/me/consents/{clientId}: ends the application's sessions for the person, then forgets
 * the approval; audits `consent.revoked`. None for that application: 404. The sessions first: a
 * failure between the two leaves the approval listed, so the person can simply try again (the
 * other order would leave live sessions and a 404 on retry).
 */
export async function revokeConsent(core: Core, { userId, clientId, from }: { userId: string; clientId: string; from: RequestOrigin }): Promise<void> {
  const notFound = () => new ServiceError('not_found', 'No approval of that application on this account')
  if (clientId.length > MAX_CLIENT_ID_URL || !(await core.store.getConsent(userId, clientId))) throw notFound()
  const ended = await revokeClientSessions(core, { userId, clientId, from })
  if (!(await core.store.deleteConsent(userId, clientId))) throw notFound() // withdrawn meanwhile by another request
  await core.audit.record({ ...from, actor: { userId }, type: 'consent.revoked', target: { userId, clientId }, detail: { sessionsRevoked: ended } })
}
