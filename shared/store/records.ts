/**
 * The records the store keeps, as plain objects (re-exported by types.ts, which callers import).
 * Each one is a row of docs/storage.md "Tables"; how a field is stored is declared once, in
 * tables/rows.ts.
 */

export interface UserRecord {
  /** Stable user id = WebAuthn user handle, base64url of 16 random bytes (the token `sub`). */
  id: string
  /** Normalised (lower-case, trimmed) username, unique. */
  username: string
  displayName: string
  /** Role names assigned to this user (the live source the authorizer reads). */
  roles: string[]
  createdAt: number
  /**
   * Set while an administrator has disabled the account (CONTRACT v2 "Disabling and deleting
   * accounts"): its sign-ins answer user_disabled, its refresh tokens invalid_grant.
   */
  disabledAt?: number
  /**
   * Set when the account's deletion began (shared/account/deletion.ts): its audit key is gone, its
   * sessions are revoked (`disabledAt` is set with it) and its rows are being erased. A DELETE
   * that finds it finishes the job.
   */
  deletedAt?: number
  etag?: string
}

/**
 * The account's personal-data key (docs/audit.md "Personal data"): a random AES-256 key that
 * encrypts the person's username, IP addresses and user agents in audit events, wrapped under
 * the KEK's `audit-pd-wrap-v1` key. Row `pdkey` of the account's `users` partition, so erasing the
 * account destroys it (crypto-shredding).
 */
export interface AuditKeyRecord {
  userId: string
  /** base64url(iv ‖ AES-256-GCM(raw key) ‖ tag), AAD `audit-pd-key:<userId>`. */
  wrappedKey: string
  /** Key id of the KEY_ENCRYPTION_KEY that wrapped it (shared/crypto/kek.ts `keyEncryptionKeyId`). */
  wrappedBy?: string
  createdAt: number
  etag?: string
}

export interface CredentialRecord {
  /** Credential id, base64url (as in the WebAuthn JSON). */
  id: string
  userId: string
  /** COSE public key, base64url. */
  publicKey: string
  /** COSE algorithm identifier (-7 ES256, -8 EdDSA, -257 RS256). */
  alg: number
  counter: number
  transports: string[]
  aaguid: string
  fmt: string
  backupEligible: boolean
  backedUp: boolean
  /** Attestation verified against a trusted root (used for acr `phrh`). */
  attestationTrusted: boolean
  /**
   * fido-u2f passkeys: hex SHA-1 of the attestation certificate's subject public key, the key
   * identifier U2F models are known by in the FIDO metadata (their AAGUID is all zeros).
   */
  attestationKeyId?: string
  label: string
  createdAt: number
  lastUsedAt?: number
  /** Set when a counter regression was seen: a possible clone. Flagged credentials are refused. */
  flaggedAt?: number
  flagReason?: string
  etag?: string
}

export interface SessionRecord {
  /** Session id (`sid` claim), base64url of 16 random bytes. */
  id: string
  userId: string
  /** Credential used to sign in (absent for client sessions). Deleting it revokes the session. */
  credentialId?: string
  clientId: string
  audience: string
  scope: string
  amr: string[]
  acr: string
  /** Seconds since the epoch, as the `auth_time` claim. */
  authTime: number
  createdAt: number
  expiresAt: number
  /**
   * The last sign-in or refresh (set when the session is made, moved by every write that rotates
   * its refresh token). Absent on sessions stored before it was recorded: read as `createdAt`.
   */
  lastUsedAt?: number
  /** The User-Agent of the sign-in (≤ 256 characters, as the audit's); absent for client sessions. */
  userAgent?: string
  revokedAt?: number
  revokedReason?: string
  /** base64url SHA-256 of the current refresh token secret. */
  refreshHash: string
  /** Hashes of rotated-out refresh secrets (newest last, bounded): presenting one is reuse. */
  previousRefreshHashes: string[]
  /** Sessions made by the authorization endpoint: the code that hands them to the client. */
  authorizationCode?: AuthorizationCodeBinding
  /**
   * A delegated session (CONTRACT v2 "Agents acting for people"): `clientId` is the agent, the
   * user the person who approved. Standing (no `authorizationDetails`): a refresh token, listed
   * as a delegation; per action: no refresh token, lives as long as its access token.
   */
  delegation?: DelegationBinding
  /**
   * RFC 9449: the thumbprint of the DPoP key the session's tokens are bound to (`cnf.jkt`), from
   * the proof of the request that made it. Its refresh token is usable only with a proof by it.
   */
  jkt?: string
  etag?: string
}

/** What a delegated session was approved for (shared/agents/). */
export interface DelegationBinding {
  /** The backchannel authentication request the person approved. */
  requestId: string
  /** RFC 9396 details, per action: each allowed once at the authorizer. */
  authorizationDetails?: ApiRequestDetail[]
}

/** RFC 9396 `authorization_details` entry of type `api_request` (CONTRACT v2 "Approval per action"). */
export interface ApiRequestDetail {
  type: 'api_request'
  /** Upper-case HTTP method. */
  method: string
  /** The path as normalised by the authorizer (shared/authz/glob.ts normalisePath). */
  path: string
  apiId?: string
}

/**
 * A backchannel authentication request (OpenID CIBA Core §7, poll mode): an agent asks, the
 * person approves with a passkey or denies, the agent polls the token endpoint. Lives in the
 * person's `users` partition (row `bcreq:<id>`), so listing, approving (with the passkey's
 * counter) and issuing (with the new session) are single-partition operations.
 *
 * state: pending → approved → issued, or pending → denied. `expiresAt` bounds all of them.
 */
export interface BackchannelRequestRecord {
  id: string
  /** The person (login_hint). */
  userId: string
  /** The agent. */
  clientId: string
  /** The agent's name when it asked (shown to the person). */
  clientName: string
  scope: string
  bindingMessage: string
  authorizationDetails?: ApiRequestDetail[]
  /** base64url SHA-256 of the secret part of `auth_req_id`. */
  secretHash: string
  createdAt: number
  expiresAt: number
  /** Seconds the agent waits between polls (CIBA §7.3 `interval`). */
  interval: number
  lastPolledAt?: number
  state: 'pending' | 'approved' | 'denied' | 'issued'
  /** The approving passkey assertion (CONTRACT: the token's auth_time, amr, acr). */
  approval?: { at: number; authTime: number; amr: string[]; acr: string; credentialId: string }
  /** The session issued (state issued). */
  sessionId?: string
  etag?: string
}

// --- Invitations and recovery (CONTRACT v2 "People and sessions") -------------------------------

/**
 * An invitation: an administrator makes room for one person's account (shared/admin/invitations.ts).
 * Its token `<id>.<secret>` is shown once; only SHA-256 of the secret is kept. Pending while not
 * used, not revoked and not expired; kept after that until the housekeeping sweep deletes it.
 */
export interface InvitationRecord {
  /** base64url of 16 random bytes: the token's first part and the row key. */
  id: string
  /** Normalised username the account will get. */
  username: string
  displayName?: string
  /** Role names the account gets (each defined, or `admin`, when invited). */
  roles: string[]
  /**
   * The id the account will have (its WebAuthn user handle), drawn when invited: every enrolment
   * with this invitation makes the same account, so the username claim lets at most one through.
   */
  userId: string
  /** base64url SHA-256 of the token's secret. */
  secretHash: string
  createdAt: number
  expiresAt: number
  /** The administrator who invited (user id). */
  createdBy?: string
  usedAt?: number
  revokedAt?: number
  etag?: string
}

/**
 * An account's recovery link (shared/admin/recovery.ts): at most one per account, in the account's
 * own partition, replaced by a new issue and marked used by its use (an etag-guarded Replace: a
 * transaction's delete cannot be guarded). Its token is `<userId>.<secret>`.
 */
/**
 * A person's remembered consent to one client (CONTRACT v2 "AI clients and MCP servers": the
 * person approves with a passkey): the scopes and resource approved, so that a later request for
 * no more than that shows no consent step. One row per person and client, in the person's
 * partition; revoking it also ends that client's sessions for the person.
 */
export interface ConsentRecord {
  userId: string
  clientId: string
  /** The client's name as shown when consent was given. */
  clientName: string
  /** Space-separated scopes approved (the union of every approval). */
  scope: string
  /** The resources (token audiences) approved. */
  resources: string[]
  createdAt: number
  updatedAt: number
  etag?: string
}

export interface RecoveryRecord {
  userId: string
  /** base64url of 16 random bytes, new with every issue: the challenge names the issue it was made for. */
  id: string
  /** base64url SHA-256 of the token's secret. */
  secretHash: string
  createdAt: number
  expiresAt: number
  /** Set by the use that added a passkey with it. */
  usedAt?: number
  etag?: string
}

// --- OAuth clients and authorization codes (shared/oauth/**) -----------------------------------

/**
 * What an authorization code is bound to (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3.6).
 * Kept on the session the code hands over; the code itself is a sealed pointer to that session.
 */
export interface AuthorizationCodeBinding {
  redirectUri: string
  /** BASE64URL(SHA-256(code_verifier)): S256 only. */
  codeChallenge: string
  nonce?: string
  /** What the authorization request asked of the sign-in (OIDC Core §3.1.2.1), as it was met. */
  maxAge?: number
  acrValues?: string[]
  promptLogin?: true
  /** RFC 9449 §10: the authorization request's `dpop_jkt`; the exchange must prove that key. */
  dpopJkt?: string
  /** ms; codes live 60 s. */
  expiresAt: number
  /** Set by the one exchange that succeeds; a second exchange revokes the session. */
  usedAt?: number
}

/**
 * A registered OAuth client. Its id is also a principal in the users table (an `acct` row with
 * roles and no username), so client tokens carry `sub` = client id and the authorizer reads its
 * roles like a user's.
 */
export interface ClientRecord {
  /** client_id: base64url of 16 random bytes, like a user id (they share one namespace). */
  id: string
  name: string
  /** confidential: private_key_jwt with `jwks` or `jwksUri`; public: authorization code + PKCE. */
  kind: 'confidential' | 'public'
  /** Public JWKs only (validated at registration). */
  jwks?: { keys: Record<string, unknown>[] }
  jwksUri?: string
  /** Public clients: exact-match redirect URIs. */
  redirectUris: string[]
  /** API scopes (from SCOPES) this client may be granted besides openid and profile. */
  scopes?: string[]
  /**
   * An agent (CONTRACT v2 "Agents acting for people"): a confidential client that acts for
   * people who approve it (CIBA); its roles are the ceiling of what they can delegate.
   */
  agent?: boolean
  createdAt: number
  etag?: string
}

export type SigningKeyState = 'next' | 'active' | 'retired' | 'revoked'

export interface SigningKeyRecord {
  kid: string
  alg: string
  state: SigningKeyState
  /** Public JWK (kty, crv/n/e/x/y), no private members. */
  publicJwk: Record<string, unknown>
  /** Private key PKCS#8, AES-256-GCM encrypted with KEY_ENCRYPTION_KEY, base64url(iv ‖ ciphertext). */
  encryptedPrivateKey: string
  /**
   * Key id (shared/crypto/kek.ts `keyEncryptionKeyId`) of the KEY_ENCRYPTION_KEY that wrapped
   * `encryptedPrivateKey`: tried first, and named when no key set opens it. Absent on keys stored
   * before key ids were recorded.
   */
  wrappedBy?: string
  createdAt: number
  /** When it starts (or started) signing. */
  activatesAt: number
  /** When it stopped signing. */
  retiredAt?: number
  /** When it may leave the JWKS. */
  expiresAt?: number
  etag?: string
}

/** CONTRACT "Authorizer": one permission of a role. */
export interface Permission {
  /** Upper-case HTTP methods, or ['*']. */
  methods: string[]
  /** Path glob: `*` one segment, `**` any depth. */
  path: string
  apiId?: string
  acr?: string
  /** For delegated tokens (CONTRACT v2 "Approval per action"): default `allow`. */
  delegation?: 'allow' | 'approve' | 'deny'
  /** Seconds: the token's auth_time must be at most this old (CONTRACT v2 "Step-up"). */
  maxAge?: number
}

export interface RoleRecord {
  /** Role name: 1–64 of a-z 0-9 . _ - (lower case). */
  name: string
  permissions: Permission[]
  updatedAt: number
  etag?: string
}

/**
 * One audit event as stored (docs/audit.md): table `audit`, partition `audit`, RowKey = `seq`
 * zero-padded to 16 digits. Append-only; `hash` chains it to the previous event's hash (`prev`).
 * Holds ids and usernames, never a secret (no token, assertion or key material).
 */
export interface AuditEventRecord {
  /** 1, 2, 3, … without gaps; the row key. */
  seq: number
  /** Milliseconds since the epoch; never less than the previous event's (monotone along the chain). */
  at: number
  type: string
  outcome: 'success' | 'failure'
  /** Who: `userId`, `username`, `clientId` or `system`. */
  actor: Record<string, string>
  /** Whom or what it was done to: `userId`, `credentialId`, `sessionId`, `role`, `clientId`, `kid`, … */
  target: Record<string, string>
  ip?: string
  userAgent?: string
  /** More about what happened: JSON values, never secrets. */
  detail: Record<string, unknown>
  /** The previous event's `hash` (the chain's genesis value for seq 1). */
  prev: string
  /** base64url HMAC-SHA-256 of the event without `hash`, then `prev` (shared/audit/chain.ts). */
  hash: string
  /**
   * Key id (shared/crypto/kek.ts `keyEncryptionKeyId`) of the KEY_ENCRYPTION_KEY whose chain key
   * made `hash`; part of the hashed content. Absent: the key in use before key ids were recorded.
   */
  keyId?: string
}

/** The audit head row: the latest event's seq, hash and time, moved in the same transaction. */
export interface AuditHead extends Pick<AuditEventRecord, 'seq' | 'hash' | 'at'> {
  etag?: string
}

/** A user with everything sign-in needs, read in one partition query. */
export interface Account {
  user: UserRecord
  credentials: CredentialRecord[]
}
