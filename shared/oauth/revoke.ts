/**
 * Token revocation (RFC 7009). The caller is a confidential client (private_key_jwt), a public
 * client identified by `client_id`, or — with neither — the first-party page, whose tokens come
 * from the WebAuthn endpoints (client_id `passkey-web`). Revoking a refresh or access token ends
 * its whole session (§2.1: the server may revoke related tokens). A token issued to another
 * client is refused (§2.1); an invalid or unknown token is not an error (§2.2). A DPoP-bound
 * token is revoked without a proof: RFC 9449 asks for proofs at the token endpoint and resources
 * only, and revocation is client-authenticated (docs/dpop.md "What is bound").
 */
import type { Core } from '../core.js'
import { OAuthError } from '../errors.js'
import { FIRST_PARTY_CLIENT } from '../tokens/sessions.js'
import type { ClientAuthentication } from './clientAuth.js'
import { findToken } from './tokenLookup.js'

export const TOKEN_TYPE_HINTS = ['access_token', 'refresh_token'] as const

export async function revoke(core: Core, { caller, token }: { caller: ClientAuthentication; token: string }): Promise<void> {
  const found = await findToken(core, token)
  const session = found?.session
  if (!session) return
  if (session.clientId !== (caller.clientId ?? FIRST_PARTY_CLIENT))
    throw new OAuthError('invalid_request', 'This token was not issued to this client')
  if (!session.revokedAt) await core.sessions.revoke(session, 'revoked by client')
}
