/** The authorizer's wire shapes (CONTRACT "Authorizer") and the permissions roles grant. */
import * as v from 'valibot'
import { described, StringList } from './common.js'
import { ACR_VALUES } from '../webauthn/assurance.js'

const Int = v.pipe(v.number(), v.integer())

/** Upper bound of a permission's `maxAge` (seconds): a year. */
export const MAX_AGE_LIMIT = 365 * 24 * 3600

export const Permission = described(
  v.strictObject({
    methods: v.pipe(
      v.array(v.pipe(v.string(), v.regex(/^(\*|[A-Za-z]{1,16})$/))),
      v.minLength(1),
      v.maxLength(16),
      v.description('HTTP methods (stored upper-case), or `["*"]` for any.'),
      v.examples([['GET', 'POST'], ['*']]),
    ),
    path: v.pipe(v.string(), v.examples(['/orders/*', '/admin/**'])),
    apiId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
    acr: v.optional(v.picklist(ACR_VALUES)),
    maxAge: v.optional(
      described(
        v.pipe(Int, v.minValue(1), v.maxValue(MAX_AGE_LIMIT)),
        "Seconds: only tokens whose `auth_time` is at most this old (machine clients' tokens have none, so never). " +
          'Too weak an `acr` or too old a sign-in answers 401 `insufficient_user_authentication` (RFC 9470).',
      ),
    ),
    delegation: v.optional(
      described(
        v.picklist(['allow', 'approve', 'deny']),
        "For agents' delegated tokens: `allow` (default), `approve` (only a call the person approved one by one, once), `deny` (never).",
      ),
    ),
  }),
  'Allows `methods` on paths matching `path` (glob: `*` one segment, `**` any number), ' +
    'for the API `apiId` when given, and only to tokens whose `acr` satisfies `acr` when given ' +
    '(`phrh` satisfies `phr`) and whose sign-in is within `maxAge` seconds when given.',
)
export type PermissionBody = v.InferOutput<typeof Permission>

// Control characters have no place in a method, path or id (a gateway sends paths percent-encoded);
// refusing them also keeps the decision cache's NUL-separated keys unambiguous.
const CONTROL = /[\u0000-\u001f\u007f]/
/** 1–max characters, none of them a control character, else `message`. */
const field = (max: number, message: string) =>
  v.pipe(v.string(message), v.minLength(1, message), v.maxLength(max, message), v.check((s) => !CONTROL.test(s), message))

export const AuthzRequest = described(
  v.object({
    method: v.pipe(field(16, 'method must be an HTTP method'), v.regex(/^[A-Za-z]+$/, 'method must be an HTTP method'), v.examples(['GET'])),
    path: v.pipe(
      field(4096, 'path must start with / (no control characters)'),
      v.startsWith('/', 'path must start with / (no control characters)'),
      v.examples(['/orders/42']),
    ),
    apiId: v.nullish(field(256, 'apiId must be a string (no control characters)')),
    operationId: v.nullish(field(256, 'operationId must be a string')),
    token: v.nullish(described(v.string('token must be a string'), "The caller's access token, when the Authorization header is the gateway's own.")),
    scheme: v.nullish(
      described(
        v.pipe(v.string('scheme must be Bearer or DPoP'), v.regex(/^([Bb][Ee][Aa][Rr][Ee][Rr]|[Dd][Pp][Oo][Pp])$/, 'scheme must be Bearer or DPoP')),
        "With `token`: the scheme of the caller's Authorization header (`Bearer` or `DPoP`, case-insensitive), treated as the header's would be (RFC 9449 §7.1: a DPoP-bound token sent as Bearer is refused). Absent: unknown (older policies).",
      ),
    ),
    dpop: v.nullish(
      described(
        // No length limit here (the body's is 64 KiB): an oversized proof is the client's, refused as invalid_dpop_proof, not a malformed call (which the gateway would answer 503).
        v.string('dpop must be a string'),
        "The client's `DPoP` proof header as sent (RFC 9449): required for a DPoP-bound token.",
      ),
    ),
    url: v.nullish(
      described(
        // Checked only against a DPoP proof's htu (a URL that is not one, or longer than 4096, matches
        // none): a bearer call never fails on it, nor on its length (path + the gateway's origin and
        // suffix can be longer than `path`'s cap).
        v.string('url must be a string'),
        'The URL the client called at the gateway, without query (what a DPoP proof\'s `htu` names).',
      ),
    ),
  }),
  "The gateway's request to decide. The caller's token is the forwarded `Authorization: Bearer` (or `DPoP`) header, " +
    "or `token` when the gateway's managed identity takes the Authorization header.",
)
export const AuthzDecision = v.object({
  allow: v.boolean(),
  status: described(
    v.picklist([200, 401, 403]),
    'What the gateway should answer: 401 no/bad/expired/revoked token, or a step-up (`error`); 403 no permitting role.',
  ),
  reason: v.string(),
  error: v.optional(
    described(
      v.picklist(['insufficient_user_authentication']),
      'RFC 9470: a permission would allow this with a stronger `acr` or a more recent sign-in.',
    ),
  ),
  acr_values: v.optional(described(v.picklist(ACR_VALUES), 'The weakest acr that would satisfy (when the acr was short).')),
  max_age: v.optional(described(v.pipe(Int, v.minValue(1)), 'Seconds: the sign-in must be at most this old (when auth_time was too old or absent).')),
  wwwAuthenticate: v.optional(
    described(
      v.string(),
      'On every 401: the `WWW-Authenticate` value the gateway answers with — `Bearer` (no token), `Bearer error="invalid_token"`, ' +
        '`DPoP error="invalid_dpop_proof", error_description="…", algs="…"` (a DPoP-bound token without a good proof), ' +
        'or `Bearer error="insufficient_user_authentication", error_description="…", acr_values="…", max_age=…`.',
    ),
  ),
  dpopNonce: v.optional(described(v.string(), 'With `use_dpop_nonce` (RFC 9449 §9): the gateway answers it as the `DPoP-Nonce` header.')),
  sub: v.optional(v.string()),
  actor: v.optional(described(v.string(), "A delegated token's agent (`act.sub`): the gateway sends it to the backend as X-Actor-Id.")),
  roles: StringList,
  scopes: StringList,
  ttl: described(
    v.pipe(Int, v.minValue(0)),
    "Seconds the gateway may cache this decision (never past the token's exp, nor past `auth_time + maxAge` for an allow that rests on one).",
  ),
})
export type AuthzDecisionBody = v.InferOutput<typeof AuthzDecision>
