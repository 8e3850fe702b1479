/**
 * Token introspection (RFC 7662) for confidential clients authenticated with private_key_jwt
 * (§2.1: the endpoint requires authorization, to stop token scanning).
 *
 * A client sees tokens issued to it (`client_id`) or about it (`sub`); a client holding role
 * `admin` or `introspect` (e.g. a resource server) sees every token. Anything else — unknown,
 * expired, revoked, or not the caller's to see — is `{ "active": false }` (§2.2), so the answer
 * tells nothing about tokens the caller may not see.
 */
import { findClient } from './clientMetadata.js'
import type { Core } from '../core.js'
import { OAuthError } from '../errors.js'
import type { ClientAuthentication } from './clientAuth.js'
import { FIRST_PARTY_CLIENT } from '../tokens/sessions.js'
import { findToken } from './tokenLookup.js'

/** Roles whose holders may introspect any token (define `introspect` like any role to grant it). */
export const INTROSPECT_ROLES = ['admin', 'introspect'] as const

export async function introspect(core: Core, { caller, token }: { caller: ClientAuthentication; token: string }): Promise<Record<string, unknown>> {
  if (caller.method !== 'private_key_jwt')
    throw new OAuthError('invalid_client', 'Introspection needs client authentication with private_key_jwt (client_assertion)')
  const inactive = { active: false }
  const found = await findToken(core, token)
  if (!found) return inactive
  const now = core.clock.now()
  const session = found.session
  if (!session || session.revokedAt || session.expiresAt <= now) return inactive
  if (found.kind === 'refresh_token' && !found.current) return inactive
  // A token issued to a third-party client is live only while that client is registered (a
  // deleted client's users' sessions are not revoked one by one: admin/clientChanges.ts).
  const thirdParty = session.clientId !== FIRST_PARTY_CLIENT && session.clientId !== session.userId
  const [subject, callerRoles, client] = await Promise.all([
    core.store.getUser(session.userId),
    core.store.getUser(caller.clientId).then((u) => u?.roles ?? []),
    thirdParty ? findClient(core, session.clientId).catch(() => undefined) : undefined,
  ])
  // A disabled account's tokens are inactive even before its sessions' revocation lands.
  if (!subject || subject.disabledAt !== undefined || (thirdParty && !client)) return inactive
  const privileged = callerRoles.some((r) => (INTROSPECT_ROLES as readonly string[]).includes(r))
  if (!privileged && session.clientId !== caller.clientId && session.userId !== caller.clientId) return inactive
  // RFC 9449 §6.2: a DPoP-bound token says so, with its cnf (among the claims).
  if (found.kind === 'access_token') return { active: true, token_type: found.claims.cnf ? 'DPoP' : 'Bearer', ...found.claims }
  return {
    active: true,
    token_type: 'refresh_token',
    iss: core.config.issuer,
    sub: session.userId,
    aud: session.audience,
    client_id: session.clientId,
    scope: session.scope,
    ...(session.jkt !== undefined ? { cnf: { jkt: session.jkt } } : {}),
    iat: Math.floor(session.createdAt / 1000),
    exp: Math.floor(session.expiresAt / 1000),
    sid: session.id,
  }
}
