/**
 * client_id: present once, a registered public client (RFC 6749 §4.1.1, §2.1), or an https URL
 * naming a client ID metadata document (shared/oauth/clientMetadata.ts: fetched, checked, a
 * public client). Confidential clients use client_credentials only. Failures are shown here,
 * never redirected.
 */
import type { Core } from '../../core.js'
import { ClientMetadataError, findClient } from '../clientMetadata.js'
import { AuthorizationError, single, type CheckContext } from './types.js'

export async function checkClient(core: Core, ctx: CheckContext): Promise<void> {
  const clientId = single(ctx, 'client_id', false)
  if (!clientId) throw new AuthorizationError('invalid_request', 'client_id is missing', false)
  let client
  try {
    client = await findClient(core, clientId)
  } catch (e) {
    if (e instanceof ClientMetadataError) throw new AuthorizationError('invalid_client', `The application's client metadata document cannot be used: ${e.message}`, false)
    throw e
  }
  if (!client) throw new AuthorizationError('invalid_client', 'The application (client_id) is not registered', false)
  if (client.kind !== 'public')
    throw new AuthorizationError('unauthorized_client', 'This client is a machine client: it cannot use the authorization endpoint', false)
  ctx.client = client
  ctx.request.clientId = clientId
}
