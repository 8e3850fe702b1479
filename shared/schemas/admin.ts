/**
 * Administration shapes (CONTRACT "Administration", role admin). Client registrations and role
 * permissions are parsed by their domain modules (shared/oauth/clients.ts, shared/authz/decide.ts:
 * key import, SCOPES, glob compilation), which these schemas document and type.
 */
import * as v from 'valibot'
import { AUDIT_EVENT_TYPES, PERSONAL_FIELDS } from '../audit/events.js'
import { DateTime, described, ROLE_NAME, ROLE_NAME_RULE, StringList } from './common.js'
import { Permission } from './authz.js'
import { Credential, text, Username } from './webauthn.js'

const Uri = v.pipe(v.string(), v.metadata({ format: 'uri' }))
const Disabled = described(v.boolean(), 'true while an administrator has disabled the account (absent: enabled).')
const SigningAlg = v.picklist(['RS256', 'PS256', 'ES256'])

export const ManagedUser = v.object({
  id: v.string(),
  username: v.string(),
  displayName: v.optional(v.string()),
  roles: StringList,
  createdAt: v.optional(DateTime),
  credentials: v.array(Credential),
  disabled: v.optional(Disabled),
})
export const ManagedUserList = v.array(ManagedUser)

/** A user without passkeys: what a page of the list and PATCH /manage/users/{userId} answer. */
export const ManagedUserSummary = described(
  v.object({
    id: v.string(),
    username: v.string(),
    displayName: v.string(),
    roles: StringList,
    createdAt: DateTime,
    disabled: v.boolean(),
  }),
  'A user without passkeys (listing them would cost a read per user: look the user up by `username` for them).',
)
export const ManagedUserPage = described(
  v.object({
    users: described(v.pipe(v.array(ManagedUserSummary), v.maxLength(100)), 'At most 100 people, in id order; machine clients are not listed (GET /manage/clients).'),
    next: v.optional(described(v.string(), 'Opaque: pass it as `cursor` for the next page; absent on the last page.')),
  }),
  'One page of the users.',
)
export const ManagedUsersResult = described(
  v.union([ManagedUserList, ManagedUserPage]),
  'GET /manage/users with `username`: a list of at most one user (with passkeys); without: one page.',
)
export const UserStatusUpdate = described(
  v.object({ disabled: v.boolean() }),
  'true: sign-ins answer 403 user_disabled, sessions are revoked at once; false: the account may sign in again.',
)

export const Role = v.object({
  name: v.pipe(v.string(), v.regex(ROLE_NAME)),
  permissions: v.array(Permission),
  updatedAt: v.optional(DateTime),
})
export const RoleList = v.array(Role)
export const UserRoles = described(v.object({ id: v.string(), username: v.string(), roles: StringList }), "A user's roles after the change.")
export const RolePermissions = v.object({ permissions: v.pipe(v.array(Permission), v.maxLength(100)) })

export const SigningKey = v.object({
  kid: v.string(),
  alg: SigningAlg,
  state: described(
    v.picklist(['next', 'active', 'retired']),
    '`next`: published, not signing yet; `active`: signs; `retired`: published until its tokens expire. A revoked key is not listed.',
  ),
  createdAt: DateTime,
  activatesAt: DateTime,
  retiredAt: v.optional(DateTime),
  expiresAt: v.optional(described(DateTime, 'When it leaves the JWKS.')),
  wrappedBy: v.optional(
    described(v.string(), 'Only while KEY_ENCRYPTION_KEY is being changed (KEY_ENCRYPTION_KEY_PREVIOUS set): key id of the KEK that wraps the private key.'),
  ),
})
export const SigningKeyList = v.array(SigningKey)

/** GET /api/manage/authenticators: the authenticator trust in force (CONTRACT "Authenticator trust"). */
export const AuthenticatorTrust = described(
  v.object({
    policy: described(
      v.union([v.picklist(['any', 'certified']), v.array(v.pipe(v.string(), v.uuid()))]),
      'AUTHENTICATOR_POLICY: `any`, `certified`, or the AAGUIDs allowed.',
    ),
    attestation: described(v.picklist(['none', 'direct']), 'ATTESTATION: what registration asks authenticators for.'),
    note: described(v.string(), 'What the policy can prove: an AAGUID without a verified attestation is only what the client claims.'),
    metadata: described(
      v.object({
        configured: described(v.boolean(), 'METADATA_BLOB is set.'),
        source: v.optional(described(v.picklist(['file', 'url']), 'A file, or an https URL (downloaded daily by the timer, shared through storage).')),
        no: v.optional(described(v.number(), "The BLOB in use: its serial number.")),
        nextUpdate: v.optional(described(v.string(), 'The BLOB in use: its nextUpdate (YYYY-MM-DD).')),
        stale: v.optional(described(v.boolean(), 'Its nextUpdate is past (still used until a newer one verifies).')),
        models: v.optional(described(v.number(), 'Authenticator models it describes.')),
        refusedModels: v.optional(described(v.number(), 'Models whose latest status refuses them (REVOKED or a compromise).')),
      }),
      'The FIDO metadata in use.',
    ),
  }),
  'The authenticator trust in force: policy, attestation and the FIDO metadata in use.',
)

const Maybe = v.optional(v.string())
export const AuditEvent = described(
  v.object({
    id: described(v.pipe(v.string(), v.regex(/^[0-9]{16}$/)), 'The sequence number, zero-padded: the cursor for `since`.'),
    seq: v.pipe(v.number(), v.integer(), v.minValue(1)),
    time: DateTime,
    type: v.picklist(AUDIT_EVENT_TYPES),
    outcome: v.picklist(['success', 'failure']),
    actor: described(
      v.object({ userId: Maybe, username: Maybe, clientId: Maybe, system: Maybe }),
      'Who acted (absent members: unknown, e.g. an unauthenticated caller).',
    ),
    target: described(
      v.object({ userId: Maybe, username: Maybe, credentialId: Maybe, sessionId: Maybe, role: Maybe, clientId: Maybe, kid: Maybe }),
      'What was acted on.',
    ),
    ip: v.optional(described(v.string(), 'The caller\'s address: the X-Forwarded-For entry TRUSTED_PROXY_HOPS from the right, else the local server\'s socket address.')),
    userAgent: v.optional(v.pipe(v.string(), v.maxLength(256))),
    detail: v.looseObject({}),
    prev: described(v.string(), "The previous event's hash."),
    hash: described(v.string(), 'base64url HMAC-SHA-256 chaining this event to `prev`.'),
    keyId: v.optional(
      described(v.string(), 'Key id of the KEY_ENCRYPTION_KEY whose chain key made `hash` (absent: the key in use before key ids were recorded).'),
    ),
    erased: v.optional(
      described(
        v.array(v.picklist(PERSONAL_FIELDS)),
        'Personal fields left out because their account was deleted and their key destroyed (crypto-shredding, docs/audit.md).',
      ),
    ),
    undecryptable: v.optional(
      described(
        v.array(v.picklist(PERSONAL_FIELDS)),
        'Personal fields left out because they do not decrypt under their key: altered, or moved from another field or event.',
      ),
    ),
  }),
  'One hash-chained audit event (docs/audit.md). Ids, and personal fields decrypted for display; never a token, assertion or key.',
)
export const AuditEventList = described(v.array(AuditEvent), 'Oldest first.')

export const ClientJsonWebKeySet = described(
  v.object({
    keys: v.pipe(
      v.array(
        described(
          v.object({
            kty: v.picklist(['RSA', 'EC', 'OKP']),
            kid: Maybe,
            alg: v.optional(v.picklist(['RS256', 'PS256', 'ES256', 'EdDSA'])),
            use: v.optional(v.picklist(['sig'])),
            n: v.optional(described(v.string(), 'RSA modulus (at least 2048 bits).')),
            e: Maybe,
            crv: v.optional(v.picklist(['P-256', 'Ed25519'])),
            x: Maybe,
            y: Maybe,
          }),
          'Public members only: a key with d, p, q, dp, dq, qi, oth or k is refused.',
        ),
      ),
      v.minLength(1),
      v.maxLength(10),
    ),
  }),
  "A client's public keys for private_key_jwt (RFC 7517 JWK Set).",
)

export const ClientRegistration = described(
  v.object({
    name: v.pipe(v.string(), v.minLength(1)),
    jwks: v.optional(ClientJsonWebKeySet),
    jwks_uri: v.optional(Uri),
    roles: v.optional(
      described(StringList, 'Machine clients only: roles of the client (each defined with PUT /manage/roles/{role}, or `admin`).'),
    ),
    redirect_uris: v.optional(
      described(
        v.array(Uri),
        'Public clients only (required): absolute https URIs (http only for loopback hosts), no fragment; matched exactly.',
      ),
    ),
    scopes: v.optional(
      described(
        StringList,
        'API scopes (from the SCOPES setting) this client may be granted besides openid and profile; others are refused with invalid_scope.',
      ),
    ),
    agent: v.optional(
      described(
        v.boolean(),
        'An agent acting for people who approve it with a passkey (OpenID CIBA); needs `jwks` or `jwks_uri`. Its `roles` are the ceiling of any delegation.',
      ),
    ),
  }),
  'With `jwks` or `jwks_uri` (not both): a confidential machine client (private_key_jwt, client_credentials). ' +
    'Without keys: a public client for the authorization code flow (PKCE required, `redirect_uris` needed).',
)

export const ClientCreated = described(
  v.object({
    client_id: v.string(),
    name: v.string(),
    token_endpoint_auth_method: v.picklist(['private_key_jwt', 'none']),
    grant_types: v.array(v.picklist(['client_credentials', 'authorization_code', 'refresh_token', 'urn:openid:params:grant-type:ciba'])),
    agent: v.optional(described(v.boolean(), 'An agent (CIBA): true; absent for other clients.')),
    backchannel_token_delivery_mode: v.optional(described(v.picklist(['poll']), 'Agents: CIBA poll mode.')),
    response_types: v.optional(v.array(v.picklist(['code']))),
    redirect_uris: v.optional(v.array(Uri)),
    jwks: v.optional(ClientJsonWebKeySet),
    jwks_uri: v.optional(Uri),
    roles: v.optional(StringList),
    scopes: v.optional(StringList),
    createdAt: DateTime,
  }),
  'The registration as stored (RFC 7591 §3.2.1 member names); there is no client secret.',
)

export const ClientUpdate = described(
  v.object({
    name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
    jwks: v.optional(ClientJsonWebKeySet),
    jwks_uri: v.optional(Uri),
    roles: v.optional(described(StringList, 'Replaces the roles (each defined, or `admin`); the authorizer uses them at once.')),
    redirect_uris: v.optional(described(v.array(Uri), 'Public clients only: replaces the redirect URIs (rules as at registration).')),
    scopes: v.optional(described(StringList, 'Replaces the API scopes the client may be granted.')),
    agent: v.optional(described(v.boolean(), 'Makes a client with keys an agent (CIBA), or not.')),
  }),
  'Only the members given change, each checked as at registration. `jwks` and `jwks_uri` (not both) replace the keys of a ' +
    'confidential client; a public client cannot get keys and a confidential client cannot get `redirect_uris` (the kind ' +
    'never changes). Unknown members are refused.',
)

export const ClientList = described(
  v.object({
    clients: v.array(ClientCreated),
    next: v.optional(described(v.string(), 'The `cursor` of the next page; absent on the last page.')),
  }),
  'Clients, oldest first, 100 a page.',
)

// --- Invitations and recovery (CONTRACT v2 "People and sessions") ----------------------------

const DAY = 86_400
/** Invitation lifetimes, seconds: CONTRACT v2 "Invitations" (default 7 days, at most 30). */
export const INVITATION_TTL = { min: 60, default: 7 * DAY, max: 30 * DAY } as const
/** Recovery link lifetimes, seconds: CONTRACT v2 "Recovery" (default 24 hours, at most 7 days). */
export const RECOVERY_TTL = { min: 60, default: DAY, max: 7 * DAY } as const

const ttl = (limits: { min: number; default: number; max: number }, what: string) => {
  const rule = `ttl must be a whole number of seconds from ${limits.min} to ${limits.max}`
  return v.optional(
    described(
      v.pipe(v.number(rule), v.integer(rule), v.minValue(limits.min, rule), v.maxValue(limits.max, rule)),
      `Lifetime of the ${what}, seconds (default ${limits.default}, at most ${limits.max}).`,
    ),
  )
}
const ROLE_LIST_RULE = `roles must be a list of at most 32 role names (${ROLE_NAME_RULE})`
const InvitedRoles = v.optional(
  described(
    v.pipe(v.array(v.pipe(v.string(ROLE_LIST_RULE), v.regex(ROLE_NAME, ROLE_LIST_RULE)), ROLE_LIST_RULE), v.maxLength(32, ROLE_LIST_RULE)),
    'Roles the account gets when it is made (each defined with PUT /manage/roles/{role}, or `admin`).',
  ),
)
const LinkToken = described(
  v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/)),
  'Shown only in this answer (stored as a hash); single use.',
)
const PageLink = described(Uri, 'The page with the token in the fragment, which never reaches a server log.')

export const InvitationCreate = described(
  v.object({ username: Username, displayName: text('displayName'), roles: InvitedRoles, ttl: ttl(INVITATION_TTL, 'invitation') }),
  'Who is invited: the username the account will have (taken → 409 `username_taken`), its display name and roles.',
)
export const Invitation = described(
  v.object({
    id: v.string(),
    username: v.string(),
    displayName: v.optional(v.string()),
    roles: StringList,
    createdAt: DateTime,
    expiresAt: DateTime,
  }),
  'A pending invitation (not used, not revoked, not expired). No token: it is shown only when made.',
)
export const InvitationList = described(v.array(Invitation), 'Pending invitations, oldest first.')
export const InvitationCreated = described(
  v.object({
    id: v.string(),
    username: v.string(),
    displayName: v.optional(v.string()),
    roles: StringList,
    expiresAt: DateTime,
    token: LinkToken,
    url: described(PageLink, 'The page with `#invitation=<token>`: send it to the person.'),
  }),
  'The invitation, with its token and link (shown this once).',
)
export const RecoveryIssue = described(
  v.object({ ttl: ttl(RECOVERY_TTL, 'recovery link') }),
  'A recovery link for the account: the person adds a passkey without signing in.',
)
export const RecoveryIssued = described(
  v.object({
    token: LinkToken,
    url: described(PageLink, 'The page with `#recovery=<token>`: send it to the person.'),
    expiresAt: DateTime,
  }),
  'The recovery link (shown this once); it replaces any earlier one of the account.',
)

export type RoleBody = v.InferOutput<typeof Role>
export type ManagedUserBody = v.InferOutput<typeof ManagedUser>
export type ManagedUserSummaryBody = v.InferOutput<typeof ManagedUserSummary>
export type AuditEventBody = v.InferOutput<typeof AuditEvent>
export type ClientCreatedBody = v.InferOutput<typeof ClientCreated>
export type InvitationCreateBody = v.InferOutput<typeof InvitationCreate>
export type InvitationBody = v.InferOutput<typeof Invitation>
export type InvitationCreatedBody = v.InferOutput<typeof InvitationCreated>
export type RecoveryIssuedBody = v.InferOutput<typeof RecoveryIssued>
export type AuthenticatorTrustBody = v.InferOutput<typeof AuthenticatorTrust>
