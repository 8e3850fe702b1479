/**
 * client_id: present once, a registered public client (RFC 6749 §4.1.1, §2.1). Confidential
 * clients use client_credentials only. Failures are shown here, never redirected.
 */
import type { Core } from '../../core.js'
import { isBase64url } from '../../util/base64url.js'
import { AuthorizationError, single, type CheckContext } from './types.js'

export async function checkClient(core: Core, ctx: CheckContext): Promise<void> {
  const clientId = single(ctx, 'client_id', false)
  if (!clientId) throw new AuthorizationError('invalid_request', 'client_id is missing', false)
  const client = isBase64url(clientId) && clientId.length <= 64 ? await core.store.getClient(clientId) : undefined
  if (!client) throw new AuthorizationError('invalid_client', 'The application (client_id) is not registered', false)
  if (client.kind !== 'public')
    throw new AuthorizationError('unauthorized_client', 'This client is a machine client: it cannot use the authorization endpoint', false)
  ctx.client = client
  ctx.request.clientId = clientId
}
