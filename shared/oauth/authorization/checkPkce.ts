/**
 * PKCE is required of every client (RFC 9700 §2.1.1), S256 only (RFC 7636 §4.3): a missing
 * code_challenge, a missing method (which would mean plain) or plain is invalid_request (§4.4.1).
 * `dpop_jkt` (RFC 9449 §10), the other binding of the code, is taken here too.
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
  // RFC 9449 §10: binds the code to a DPoP key as PKCE binds it to a verifier (a thumbprint: 43 characters).
  const dpopJkt = single(ctx, 'dpop_jkt', true)
  if (dpopJkt !== undefined) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(dpopJkt)) throw new AuthorizationError('invalid_request', 'dpop_jkt must be a JWK SHA-256 thumbprint (RFC 7638), base64url', true)
    ctx.request.dpopJkt = dpopJkt
  }
}
