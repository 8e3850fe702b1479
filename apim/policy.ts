/**
 * One description of what the APIM policy (apim/policy.xml) does, in data.
 *
 * Two readers: the dev gateway (local/gateway.ts) takes every name, status, header and timeout it
 * applies from here, and test/gateway/policy.test.ts reads apim/policy.xml and checks that the XML
 * says the same. Change a value here and the test points at the line of XML to change with it
 * (in apim/render.ts, the template both policy files are rendered from by `npm run build`).
 *
 * The helpers below are the policy's C# expressions, written again in TypeScript (Web APIs only):
 * `operationPath` (the path sent to the authorizer), `decisionCacheKey`, `readDecision` (how the
 * authorizer's answer is judged, fail closed), `challengeOf` (the 401's WWW-Authenticate) and
 * `sanitizeParam` / `wwwAuthenticate`.
 */

/** APIM named values the policies reference as `{{name}}` (described in apim/named-values.json). */
export const NAMED_VALUES = {
  openidConfigUrl: 'passkey-openid-config-url',
  issuer: 'passkey-issuer',
  audience: 'passkey-audience',
  authzUrl: 'passkey-authz-url',
  authzKey: 'passkey-authz-key',
  /** apim/policy-managed-identity.xml only: the Entra application the Function App accepts. */
  authzResource: 'passkey-authz-resource',
  /**
   * The API's resource identifier (RFC 8707, RFC 9728 `resource`): the URL clients call it by,
   * e.g. `https://contoso.azure-api.net/sample`; one of the service's AUDIENCES, and accepted as
   * an audience by validate-jwt.
   */
  resource: 'passkey-resource',
  /** Its protected resource metadata URL (RFC 9728 §3.1), sent as `resource_metadata` in every 401. */
  resourceMetadataUrl: 'passkey-resource-metadata-url',
  /** The API's scopes for `scopes_supported` (space-separated; may be empty). */
  resourceScopes: 'passkey-resource-scopes',
} as const

export const POLICY = {
  namedValues: NAMED_VALUES,

  /**
   * Deleted from the client's request before anything else. APIM's `set-header` takes one literal
   * name (no prefix match), so the policy deletes exactly the headers it sets; a backend must trust
   * no other `X-User-*` (or `X-Actor-Id`) header.
   */
  stripHeaders: ['X-User-Id', 'X-User-Roles', 'X-Actor-Id'],

  /** `validate-jwt` attributes, and APIM's documented key-refresh behaviour for `openid-config`. */
  jwt: {
    headerName: 'Authorization',
    /** The scheme of the policy's own challenges (RFC 6750). */
    scheme: 'Bearer',
    /**
     * Schemes validate-jwt takes the token from (`token-value`, see `presentedToken`): Bearer, and
     * DPoP (RFC 9449 §7.1), whose proof the authorizer checks. Matched case-insensitively.
     */
    schemes: ['Bearer', 'DPoP'],
    failedValidationStatus: 401,
    requireExpirationTime: true,
    requireSignedTokens: true,
    clockSkewSeconds: 30,
    outputTokenVariable: 'passkey-jwt',
    /** Asymmetric algorithms validate-jwt supports (no ES256, no EdDSA). */
    algorithms: ['RS256', 'PS256', 'RS512'],
    /** openid-config (discovery + JWKS) is pulled every hour and cached. */
    configRefreshSeconds: 3600,
    /** On an unknown `kid` (or a failed pull) APIM pulls again at most once per 5 minutes. */
    unknownKidRefetchSeconds: 300,
  },

  /**
   * The path the authorizer sees: the path the client called on the gateway with the API URL
   * suffix removed (`/sample/orders/42` → `/orders/42`), percent-encoding as sent, no query.
   * Role permissions are written against these operation paths, whatever the backend URL is.
   */
  path: { variable: 'authz-path', source: 'context.Request.OriginalUrl.Path', suffix: 'context.Api.Path' },

  /** Decision cache: `cache-lookup-value` / `cache-store-value`. */
  cache: {
    keyVariable: 'authz-cache-key',
    /** Holds the authorizer's answer (compact JSON) after a hit or a fresh call. */
    decisionVariable: 'authz-decision',
    keyPrefix: 'passkey-authz:',
    /** SHA-256 over these fields joined by `keySeparator` (UTF-8), Base64 (with padding). */
    // The scheme too: an unbound token's allow as Bearer must not answer it sent as DPoP (RFC 9449 §7.1).
    keyFields: ['scheme', 'token', 'method', 'apiId', 'path'],
    keySeparator: '\n',
    /** Stored only when the answer's `ttl` (whole seconds, floored) is above 0. */
    ttlField: 'ttl',
    /** Never stored longer than this, whatever the answer says (guards the policy's int cast). */
    maxTtlSeconds: 3600,
  },

  /** The `send-request` to POST /api/authz/check. */
  authorizer: {
    mode: 'new',
    method: 'POST',
    timeoutSeconds: 5,
    ignoreError: true,
    responseVariable: 'authz-response',
    keyHeader: 'x-functions-key',
    forwardHeader: 'Authorization',
    contentType: 'application/json',
    /**
     * Body fields, from context.Request.Method, the operation path, context.Api.Id,
     * context.Operation.Id, the client's DPoP header (`dpopHeader`, as sent, "" without one) and the
     * URL the client called at the gateway (context.Request.OriginalUrl: scheme, host, port and
     * path, no query; not context.Request.Url, the backend's).
     */
    fields: ['method', 'path', 'apiId', 'operationId', 'dpop', 'url'],
    dpopHeader: 'DPoP',
    /** RFC 9449 §9: a decision's `dpopNonce` (with use_dpop_nonce) is answered as this header. */
    nonceField: 'dpopNonce',
    nonceHeader: 'DPoP-Nonce',
    /** Only 200 with a JSON decision counts as an answer; anything else fails closed (503). */
    okStatus: 200,
    /**
     * The decision member holding the `WWW-Authenticate` value of a 401 (CONTRACT v2 "Step-up",
     * RFC 9470 §3: `Bearer error="insufficient_user_authentication", …, acr_values="…", max_age=…`).
     * Sent as is once made printable ASCII; absent, empty or longer than `challengeMaxLength`, the
     * policy sends `Bearer error="invalid_token", error_description="<reason>"` instead.
     */
    challengeField: 'wwwAuthenticate',
    challengeVariable: 'authz-challenge',
    challengeMaxLength: 2048,
  },

  /** What the backend receives on an allowed request. */
  backend: {
    userIdHeader: 'X-User-Id',
    rolesHeader: 'X-User-Roles',
    /** A delegated token's agent (the decision's `actor`, CONTRACT v2 "Agents acting for people"); absent otherwise. */
    actorHeader: 'X-Actor-Id',
    rolesSeparator: ',',
    /** APIM forwards the caller's Authorization header unless a policy removes it; this one does not. */
    forwardAuthorization: true,
  },

  /** Every answer the policy itself makes (RFC 9457 bodies, RFC 6750 challenges). */
  failures: {
    /** validate-jwt found no bearer token: RFC 6750 §3.1, a challenge without an error code. */
    missingToken: {
      id: 'passkey-invalid-token',
      status: 401,
      code: 'unauthorized',
      title: 'Unauthorized',
      error: undefined,
    },
    /** validate-jwt refused the token (on-error, context.LastError.Source == "validate-jwt"). */
    invalidToken: {
      id: 'passkey-invalid-token',
      status: 401,
      code: 'unauthorized',
      title: 'Unauthorized',
      error: 'invalid_token',
    },
    /**
     * The authorizer answered status 401 (revoked session, deleted user, typ not at+jwt…, or a
     * step-up): the challenge is the decision's own (`authorizer.challengeField`), `error` only
     * the fallback's.
     */
    authzUnauthorized: { id: 'passkey-authz-401', status: 401, code: 'unauthorized', title: 'Unauthorized', error: 'invalid_token' },
    /** The authorizer answered status 403 (no role permits this method and path). */
    authzForbidden: { id: 'passkey-authz-403', status: 403, code: 'forbidden', title: 'Forbidden', error: 'insufficient_scope' },
    /** No answer, a non-200 answer, or an answer that is not a decision: fail closed. */
    authzUnavailable: {
      id: 'passkey-authz-503',
      status: 503,
      code: 'authorizer_unavailable',
      title: 'Service Unavailable',
      error: undefined,
      detail: 'the authorizer could not decide',
    },
  },
  /**
   * Protected resource metadata (RFC 9728, CONTRACT v2 "AI clients and MCP servers"): served at
   * `wellKnown` (root form) and at `wellKnown` + the API's path (§3.1), by the policy fragment
   * `fragmentId` (apim/fragment-protected-resource.xml); every 401 carries `param="<url>"` in its
   * WWW-Authenticate, the value made once into the variable `variable`.
   */
  resourceMetadata: {
    wellKnown: '/.well-known/oauth-protected-resource',
    param: 'resource_metadata',
    variable: 'passkey-resource-metadata',
    fragmentId: 'passkey-protected-resource-metadata',
    bearerMethods: ['header'],
    /** RFC 9728 §2 `dpop_signing_alg_values_supported`: the proofs the authorizer checks (shared/oauth/dpop.ts DPOP_ALGS). */
    dpopAlgs: ['ES256', 'PS256', 'RS256', 'EdDSA'],
    contentType: 'application/json',
    /** Clients may cache the document this long (seconds). */
    maxAgeSeconds: 3600,
  },
  problemTypeBase: 'https://passkey-edge.dev/problems/',
  problemContentType: 'application/problem+json',

  /**
   * `context.LastError.Reason` of validate-jwt → the error_description the policy sends. Reasons
   * from Microsoft's "Error handling in API Management policies" (predefined errors for policies).
   */
  jwtErrors: {
    TokenNotPresent: 'access token missing',
    TokenExpired: 'token expired',
    TokenSignatureInvalid: 'signature invalid',
    TokenSignatureKeyNotFound: 'signing key not found',
    TokenAudienceNotAllowed: 'audience not allowed',
    TokenIssuerNotAllowed: 'issuer not allowed',
    JwtInvalid: 'token invalid',
  },
  /** Description for any other validate-jwt reason. */
  jwtErrorDefault: 'token invalid',
} as const

export type JwtErrorReason = keyof typeof POLICY.jwtErrors
export type Failure = (typeof POLICY.failures)[keyof typeof POLICY.failures]

/**
 * The operation path sent to the authorizer: `originalPath` minus the API URL suffix (compared
 * case-insensitively, whole segments only), `/` when nothing is left. Mirrors the policy's
 * `authz-path` expression.
 *
 * @example
 * operationPath('/sample/orders/42', 'sample') // '/orders/42'
 */
export function operationPath(originalPath: string, apiSuffix: string): string {
  let path = originalPath
  const suffix = '/' + apiSuffix.replace(/^\/+|\/+$/g, '')
  if (suffix.length > 1) {
    const lower = path.toLowerCase()
    const s = suffix.toLowerCase()
    if (lower === s) path = '/'
    else if (lower.startsWith(s + '/')) path = path.slice(suffix.length)
  }
  return path.length === 0 ? '/' : path
}

/**
 * The token validate-jwt checks, like the policy's `token-value` expression: the credentials of
 * an `Authorization: Bearer …` or `DPoP …` value (`POLICY.jwt.schemes`), else '' (no token).
 */
export function presentedToken(authorization: string | null): string {
  return /^(?:bearer|dpop) +(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? ''
}

/** The URL the client called, as the policy sends it in `url`: scheme, host, port and path, no query. */
export function calledUrl(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  return `${url.protocol}//${url.hostname}:${port}${url.pathname}`
}

/** The bearer token from an Authorization value the way the policy's expressions take it. */
export function tokenOf(authorization: string): string {
  return authorization.slice(authorization.indexOf(' ') + 1).trim()
}

/** The scheme of an Authorization value, lower case, the way the policy's expressions take it. */
export function schemeOf(authorization: string): string {
  return authorization.slice(0, Math.max(0, authorization.indexOf(' '))).toLowerCase()
}

/**
 * The decision cache key: `passkey-authz:` + Base64(SHA-256(scheme \n token \n method \n apiId \n path)),
 * the scheme lower case.
 * Mirrors the policy's `authz-cache-key` expression byte for byte.
 *
 * @example
 * await decisionCacheKey({ scheme: 'bearer', token, method: 'GET', apiId: 'sample', path: '/orders' })
 */
export async function decisionCacheKey(input: {
  scheme: string
  token: string
  method: string
  apiId: string
  path: string
}): Promise<string> {
  const { keyPrefix, keyFields, keySeparator } = POLICY.cache
  const material = keyFields.map((f) => input[f]).join(keySeparator)
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(material))
  return keyPrefix + btoa(String.fromCharCode(...new Uint8Array(digest)))
}

/** What the policy makes of the authorizer's answer. */
export type Verdict =
  | { status: 200; reason: string; sub?: string; actor?: string; roles: string[]; ttl: number }
  | { status: 401; reason: string; ttl: number; wwwAuthenticate: string; dpopNonce?: string }
  | { status: 403; reason: string; ttl: number }
  | { status: 503 }

/**
 * Judges the authorizer's answer (compact JSON text, `''` when there was none) like the policy's
 * `authz-status`, `authz-store-ttl`, `authz-reason`, `authz-sub`, `authz-actor` and `authz-roles` expressions:
 * `status` must be the integer 200, 401 or 403, and 200 counts only with `allow: true`;
 * anything else is 503 (fail closed). `ttl` is floored to whole seconds (0 when absent or not a
 * number) and capped at `POLICY.cache.maxTtlSeconds`; a non-string `reason` counts as `''`.
 */
export function readDecision(text: string): Verdict {
  let d: unknown
  try {
    d = JSON.parse(text)
  } catch {
    return { status: 503 }
  }
  if (!d || typeof d !== 'object' || Array.isArray(d)) return { status: 503 }
  const o = d as Record<string, unknown>
  if (typeof o.status !== 'number' || !Number.isInteger(o.status)) return { status: 503 }
  const ttl =
    typeof o.ttl === 'number' && Number.isFinite(o.ttl) && o.ttl >= 1
      ? Math.min(Math.floor(o.ttl), POLICY.cache.maxTtlSeconds)
      : 0
  const reason = sanitizeParam(typeof o.reason === 'string' ? o.reason : '')
  if (o.status === 200) {
    if (o.allow !== true) return { status: 503 }
    const sub = typeof o.sub === 'string' && o.sub ? o.sub : undefined
    const actor = typeof o.actor === 'string' && o.actor ? o.actor : undefined
    const roles = Array.isArray(o.roles) ? o.roles.filter((r): r is string => typeof r === 'string') : []
    return { status: 200, reason, ...(sub ? { sub } : {}), ...(actor ? { actor } : {}), roles, ttl }
  }
  if (o.status === 401) {
    // RFC 9449 §8.1 nonce syntax (NQCHAR, here the unreserved characters): nothing else is sent.
    const nonce = o[POLICY.authorizer.nonceField]
    const dpopNonce = typeof nonce === 'string' && /^[A-Za-z0-9._~-]{1,128}$/.test(nonce) ? { dpopNonce: nonce } : {}
    return { status: 401, reason, ttl, wwwAuthenticate: challengeOf(o[POLICY.authorizer.challengeField], reason), ...dpopNonce }
  }
  if (o.status === 403) return { status: 403, reason, ttl }
  return { status: 503 }
}

/**
 * The `WWW-Authenticate` value of the authorizer's 401 like the policy's `authz-challenge`
 * expression: the decision's own, every character outside printable ASCII made `'` (no header
 * injection); absent, empty or over `challengeMaxLength`, `Bearer error="invalid_token"` with the
 * (already sanitised) reason as error_description.
 */
export function challengeOf(value: unknown, reason: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > POLICY.authorizer.challengeMaxLength)
    return `${POLICY.jwt.scheme} error="${POLICY.failures.authzUnauthorized.error}", error_description="${reason}"`
  return value.replace(/[^ -~]/g, "'")
}

/**
 * Makes a string safe inside an RFC 7235 quoted-string: every character outside printable ASCII,
 * and `"` and `\`, becomes `'` (the policy's `Regex.Replace(…, "[^ -~]|[\"\\\\]", "'")`).
 */
export function sanitizeParam(s: string): string {
  return s.replace(/[^ -~]|["\\]/g, "'")
}

/**
 * The `WWW-Authenticate` value for a failure (RFC 6750 §3): `Bearer` alone without an error code,
 * else `Bearer error="…", error_description="…"`.
 */
export function wwwAuthenticate(failure: Failure, description: string): string | undefined {
  if (failure.status === 503) return undefined
  if (!failure.error) return POLICY.jwt.scheme
  return `${POLICY.jwt.scheme} error="${failure.error}", error_description="${sanitizeParam(description)}"`
}

/** The RFC 9457 body the policy returns for a failure. */
export function problemBody(failure: Failure, detail: string) {
  return {
    type: POLICY.problemTypeBase + failure.code,
    title: failure.title,
    status: failure.status,
    detail,
    code: failure.code,
  }
}

/** error_description for a validate-jwt `context.LastError.Reason`. */
export function jwtErrorDescription(reason: string): string {
  return (POLICY.jwtErrors as Record<string, string>)[reason] ?? POLICY.jwtErrorDefault
}

/**
 * The protected resource metadata URL of `resource` (RFC 9728 §3.1): the well-known path inserted
 * between the host and the resource's path, e.g. `https://gw/sample` →
 * `https://gw/.well-known/oauth-protected-resource/sample`.
 *
 * @example
 * resourceMetadataUrl('http://localhost:7072/sample') // 'http://localhost:7072/.well-known/oauth-protected-resource/sample'
 */
export function resourceMetadataUrl(resource: string): string {
  const u = new URL(resource)
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '')
  return `${u.origin}${POLICY.resourceMetadata.wellKnown}${path}`
}

/**
 * The one place a 401's challenge gets `resource_metadata` (RFC 9728 §5.1): appended to whatever
 * challenge it carries (validate-jwt's, the authorizer's, a step-up's) as one more auth-param.
 *
 * @example
 * withResourceMetadata('Bearer', url) // 'Bearer resource_metadata="…"'
 * withResourceMetadata('Bearer error="invalid_token"', url) // 'Bearer error="invalid_token", resource_metadata="…"'
 * withResourceMetadata('Bearer', '') // 'Bearer'
 */
export function withResourceMetadata(challenge: string, metadataUrl: string | undefined): string {
  // None known (APIM: the variable unset when a product or global policy failed first): as is.
  if (!metadataUrl) return challenge
  const param = `${POLICY.resourceMetadata.param}="${sanitizeParam(metadataUrl)}"`
  return challenge + (challenge.includes(' ') ? ', ' : ' ') + param
}

/** The RFC 9728 §2 document for one API, as the policy fragment and the dev gateway answer it. */
export function protectedResourceMetadata(input: { resource: string; issuer: string; scopes: readonly string[] }) {
  return {
    resource: input.resource,
    authorization_servers: [input.issuer],
    bearer_methods_supported: [...POLICY.resourceMetadata.bearerMethods],
    scopes_supported: [...input.scopes],
    dpop_signing_alg_values_supported: [...POLICY.resourceMetadata.dpopAlgs],
  }
}
