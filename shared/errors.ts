/**
 * Errors with stable codes (CONTRACT.md "Errors").
 *
 * Every failure the service reports is a `ServiceError` carrying a machine-readable `code`.
 * `app.onError` renders it once, as RFC 9457 problem+json; the token endpoint renders
 * `OAuthError` as RFC 6749 §5.2 `{ error, error_description }`. Anything else is a bare 500.
 */

/** code → HTTP status, as CONTRACT.md lists them (plus a few of our own for other conditions). */
export const ERROR_STATUS = {
  challenge_unknown: 400,
  challenge_expired: 400,
  origin_mismatch: 400,
  rp_id_mismatch: 400,
  user_presence_required: 400,
  user_verification_required: 400,
  signature_invalid: 400,
  counter_regression: 400,
  credential_unknown: 400,
  credential_revoked: 400,
  credential_exists: 409,
  invalid_request: 400,
  unsupported_algorithm: 400,
  username_taken: 409,
  last_credential: 409,
  registration_closed: 403,
  invitation_invalid: 400,
  recovery_invalid: 400,
  user_disabled: 403,
  backup_eligibility_changed: 400,
  /** CONTRACT "Authenticator trust": the model's metadata status, or AUTHENTICATOR_POLICY, refuses it. */
  authenticator_not_allowed: 400,
  invalid_scope: 400,
  insufficient_user_authentication: 401,
  /** RFC 9449 §4.3 / §8: a DPoP proof refused, or a server nonce required (with DPoP-Nonce). */
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  rate_limited: 429,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  storage_unavailable: 503,
  /** An operator's setting is wrong in a way only the running service can see (e.g. the KEK). */
  misconfigured: 503,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

const TITLES: Record<ErrorCode, string> = {
  challenge_unknown: 'Challenge not issued, already used, or for another ceremony',
  challenge_expired: 'Challenge expired',
  origin_mismatch: 'Origin not allowed',
  rp_id_mismatch: 'RP ID mismatch',
  user_presence_required: 'User presence required',
  user_verification_required: 'User verification required',
  signature_invalid: 'Signature does not verify',
  counter_regression: 'Signature counter did not increase',
  credential_unknown: 'Credential not registered',
  credential_revoked: 'Credential revoked',
  credential_exists: 'Credential already registered',
  invalid_request: 'Invalid request',
  unsupported_algorithm: 'Unsupported public key algorithm',
  username_taken: 'Username already taken',
  last_credential: 'Cannot delete the last passkey',
  registration_closed: 'Registration is closed',
  invitation_invalid: 'Invitation unknown, used, revoked or expired',
  recovery_invalid: 'Recovery link unknown, used or expired',
  user_disabled: 'This account is disabled',
  backup_eligibility_changed: 'Backup eligibility changed since registration',
  authenticator_not_allowed: 'Authenticator model not allowed',
  invalid_scope: 'Scope may not be granted',
  insufficient_user_authentication: 'Sign in again with your passkey',
  invalid_dpop_proof: 'DPoP proof not valid',
  use_dpop_nonce: 'DPoP nonce required',
  rate_limited: 'Too many requests',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict',
  storage_unavailable: 'Storage unavailable',
  misconfigured: 'The service is misconfigured',
}

export class ServiceError extends Error {
  readonly code: ErrorCode
  readonly status: number
  /** Only client errors expose their detail; 5xx render without it. */
  readonly expose: boolean
  readonly headers: Record<string, string>

  constructor(
    code: ErrorCode,
    detail?: string,
    opts: { cause?: unknown; headers?: Record<string, string>; expose?: boolean } = {},
  ) {
    super(detail ?? TITLES[code], { cause: opts.cause })
    this.name = 'ServiceError'
    this.code = code
    this.status = ERROR_STATUS[code]
    this.expose = opts.expose ?? this.status < 500
    this.headers = opts.headers ?? {}
  }
}

/** Storage layer failure that is not the caller's fault (network, 5xx, throttling). */
export class StorageUnavailableError extends ServiceError {
  constructor(cause?: unknown) {
    super('storage_unavailable', 'The storage service did not answer; nothing was changed.', {
      cause,
      headers: { 'retry-after': '5' },
    })
    this.name = 'StorageUnavailableError'
  }
}

/**
 * The stored signing keys cannot be decrypted with KEY_ENCRYPTION_KEY (nor with
 * KEY_ENCRYPTION_KEY_PREVIOUS, when set): another key was set (two servers with their own
 * generated keys sharing one storage account, a rotated Key Vault secret without the previous
 * one kept, or the previous one removed before the keys were re-wrapped).
 * 503 with a detail naming the setting, at startup, in /api/health and on every request that signs.
 * The detail names key ids only (shared/crypto/kek.ts `keyEncryptionKeyId`), never key material.
 */
export class KeyEncryptionKeyMismatch extends ServiceError {
  constructor(kid: string, ids: { wrappedBy?: string; tried?: readonly string[] } = {}) {
    const { wrappedBy, tried = [] } = ids
    // Which key is missing, when the record says (records written before key ids did not).
    const missing = wrappedBy ? `it was stored with the key whose key id is ${wrappedBy}` : 'it is not the key the keys were stored with'
    const have = tried.length ? ` (the keys set have key ids ${tried.join(', ')})` : ''
    super(
      'misconfigured',
      `KEY_ENCRYPTION_KEY cannot decrypt the stored signing key ${kid}: ${missing}${have}. ` +
        'Set KEY_ENCRYPTION_KEY to that key (every instance sharing this storage needs the same one) — or, while changing ' +
        'the key, KEY_ENCRYPTION_KEY_PREVIOUS to it until the keys are re-wrapped — or use storage of its own.',
      { expose: true, headers: { 'retry-after': '30' } },
    )
    this.name = 'KeyEncryptionKeyMismatch'
  }
}

/** RFC 9457 problem details body for a ServiceError. */
export function toProblem(err: ServiceError): Record<string, unknown> {
  return {
    type: `https://passkey-edge.dev/problems/${err.code}`,
    title: TITLES[err.code],
    status: err.status,
    detail: err.expose ? err.message : TITLES[err.code],
    code: err.code,
  }
}

export function problemResponse(err: ServiceError): Response {
  return new Response(JSON.stringify(toProblem(err)), {
    status: err.status,
    headers: {
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...err.headers,
    },
  })
}

/**
 * RFC 6749 §5.2 error codes (plus RFC 7009's unsupported_token_type and RFC 8707's
 * invalid_target) → their default HTTP status. The OpenAPI document lists these keys.
 */
export const OAUTH_ERROR_STATUS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  unsupported_token_type: 400,
  // OpenID CIBA Core §13 (backchannel authentication) and §11 (token endpoint, poll mode).
  unknown_user_id: 400,
  invalid_binding_message: 400,
  authorization_pending: 400,
  slow_down: 400,
  access_denied: 400,
  expired_token: 400,
  // RFC 9396 §5.
  invalid_authorization_details: 400,
  // RFC 9449 §5, §8.
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  server_error: 500,
  temporarily_unavailable: 503,
} as const

export type OAuthErrorCode = keyof typeof OAUTH_ERROR_STATUS

export class OAuthError extends Error {
  readonly error: OAuthErrorCode
  readonly status: number
  /** Extra response headers (RFC 9449 §8: `DPoP-Nonce` with use_dpop_nonce). */
  readonly headers: Record<string, string>

  constructor(error: OAuthErrorCode, description: string, status?: number, headers: Record<string, string> = {}) {
    super(description)
    this.name = 'OAuthError'
    this.error = error
    this.status = status ?? OAUTH_ERROR_STATUS[error]
    this.headers = headers
  }
}

export function oauthErrorResponse(err: OAuthError): Response {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    pragma: 'no-cache',
  }
  if (err.status === 401) headers['www-authenticate'] = 'Bearer error="invalid_client"'
  Object.assign(headers, err.headers)
  return new Response(JSON.stringify({ error: err.error, error_description: err.message }), {
    status: err.status,
    headers,
  })
}

/**
 * The answer to an error nobody anticipated (a bug, a runtime failure): a generic 500 problem with
 * no detail of the cause. The one body for the app, the Functions adapter and the dev gateway.
 */
export function internalErrorResponse(): Response {
  const problem = {
    type: 'about:blank',
    title: 'Internal error',
    status: 500,
    detail: 'The service failed; nothing was changed by this request unless its answer says so.',
    code: 'internal_error',
  }
  return new Response(JSON.stringify(problem), {
    status: 500,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
  })
}
