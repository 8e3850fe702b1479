/**
 * PKCE is required of every client (RFC 9700 §2.1.1), S256 only (RFC 7636 §4.3): a missing
 * code_challenge, a missing method (which would mean plain) or plain is invalid_request (§4.4.1).
 */
import { CODE_CHALLENGE, CODE_CHALLENGE_METHODS } from '../pkce.js'
import { AuthorizationError, single, type CheckContext } from './types.js'

export function checkPkce(ctx: CheckContext): void {
  const challenge = single(ctx, 'code_challenge', true)
  const method = single(ctx, 'code_challenge_method', true)
  if (!challenge) throw new AuthorizationError('invalid_request', 'code_challenge is required (PKCE, S256)', true)
  if (method === undefined) throw new AuthorizationError('invalid_request', 'code_challenge_method S256 is required', true)
  if (!(CODE_CHALLENGE_METHODS as readonly string[]).includes(method))
    throw new AuthorizationError('invalid_request', `code_challenge_method ${method} is not supported (use S256)`, true)
  if (!CODE_CHALLENGE.test(challenge))
    throw new AuthorizationError('invalid_request', 'code_challenge must be BASE64URL(SHA-256(code_verifier)): 43 characters', true)
  ctx.request.codeChallenge = challenge
}
