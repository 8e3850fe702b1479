/**
 * The storage interface: a few domain verbs, each one a bounded number of Table Storage round
 * trips (see docs/storage.md). Two implementations: `memory.ts` (unit tests) and `tables.ts`
 * (Azure Table Storage / Azurite, the only `@azure/data-tables` user).
 *
 * Rules every implementation keeps:
 * - A failure of the storage service (network, 5xx, throttling) throws `StorageUnavailableError`
 *   (from ../errors.ts) and leaves nothing half-written.
 * - Races are decided by the store: `consumeChallenge` is true exactly once, `createAccount`
 *   claims a username exactly once, ETag-guarded updates throw `ConcurrencyError` when they lose.
 * - Records are returned as plain objects; `etag` is opaque and passed back unchanged.
 * - Time values are milliseconds since the epoch.
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
  revokedAt?: number
  revokedReason?: string
  /** base64url SHA-256 of the current refresh token secret. */
  refreshHash: string
  /** Hashes of rotated-out refresh secrets (newest last, bounded): presenting one is reuse. */
  previousRefreshHashes: string[]
  /** Sessions made by the authorization endpoint: the code that hands them to the client. */
  authorizationCode?: AuthorizationCodeBinding
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
}

/** The audit head row: the latest event's seq, hash and time, moved in the same transaction. */
export interface AuditHead {
  seq: number
  hash: string
  at: number
  etag?: string
}

/** A user with everything sign-in needs, read in one partition query. */
export interface Account {
  user: UserRecord
  credentials: CredentialRecord[]
}

export class ConcurrencyError extends Error {
  constructor(what: string) {
    super(`Concurrent update lost: ${what}`)
    this.name = 'ConcurrencyError'
  }
}

/** `deleteCredential` with `keepUsable`: no other usable (unflagged) passkey would remain. */
export class LastCredentialError extends Error {
  constructor() {
    super('no other usable passkey would remain')
    this.name = 'LastCredentialError'
  }
}

/** `createAccount`/`addCredential` refusal reasons. */
export class UniquenessError extends Error {
  constructor(readonly field: 'username' | 'credential') {
    super(`${field} already exists`)
    this.name = 'UniquenessError'
  }
}

/**
 * How `sweepExpired` shares its `max` deletions between the two kinds of rows: each kind gets
 * half, and what one kind leaves unused goes to the other, so a flood of one kind (client
 * assertion `jti` markers, say) never starves the other.
 */
export function sweepShares(
  max: number,
  challenges: number,
  sessions: number,
): { challenges: number; sessions: number } {
  const c = Math.min(challenges, Math.max(Math.ceil(max / 2), max - sessions))
  return { challenges: c, sessions: Math.min(sessions, max - c) }
}

export interface Store {
  /** Create tables if missing. Idempotent. */
  init(): Promise<void>
  /** One cheap round trip; throws StorageUnavailableError when storage does not answer. */
  ping(): Promise<void>

  // Challenges: single-use markers. The challenge's content is sealed in the challenge itself.
  putChallenge(id: string, expiresAt: number): Promise<void>
  /** Deletes the marker; true for exactly one caller, false if absent (never issued or used). */
  consumeChallenge(id: string): Promise<boolean>

  // Users and credentials
  findUserIdByUsername(username: string): Promise<string | undefined>
  /** The user row and all credentials, one partition query. undefined when no such user. */
  getAccount(userId: string): Promise<Account | undefined>
  getUser(userId: string): Promise<UserRecord | undefined>
  /** Point read of one credential of a user. */
  getCredential(userId: string, credentialId: string): Promise<CredentialRecord | undefined>
  /** Owner of a credential id (global index); undefined when unknown. */
  findCredentialOwner(credentialId: string): Promise<string | undefined>
  /**
   * Sign-up, all or nothing: claims the username (UniquenessError('username') if taken), claims the
   * credential id (UniquenessError('credential')), then writes user + credential + session in one
   * partition transaction. On failure the claims are released; a claim left behind by a crash
   * whose user row never appeared is taken over by the next sign-up.
   */
  createAccount(input: {
    user: UserRecord
    credential: CredentialRecord
    session?: SessionRecord
  }): Promise<void>
  /** Adds a passkey to an existing user: claims the credential id, then writes the row. */
  addCredential(credential: CredentialRecord): Promise<void>
  /**
   * After a successful assertion: update the credential (counter, lastUsedAt, backedUp) guarded by
   * its etag, and insert the session, in one transaction. ConcurrencyError when the etag lost.
   */
  recordSignIn(credential: CredentialRecord, session: SessionRecord): Promise<void>
  /** Update credential fields (label, flag) guarded by etag. */
  updateCredential(credential: CredentialRecord): Promise<void>
  /**
   * Deletes a credential and revokes every live session signed in with it, and releases its index
   * row. Returns false when it did not exist. With `keepUsable`, the check that another usable
   * (unflagged) passkey remains and the delete are one atomic step: `LastCredentialError` when
   * none would, and of concurrent deletions (or a deletion racing a revocation) at most all but
   * one succeed (CONTRACT v2 "The last passkey stays").
   */
  deleteCredential(userId: string, credentialId: string, reason: string, opts?: { keepUsable?: boolean }): Promise<boolean>
  /**
   * An administrator's revocation: flags the credential (refused from now on, still listed) and
   * revokes every live session signed in with it, in one partition transaction. Returns the
   * flagged record, or undefined when it does not exist. Flagging an already flagged credential
   * only revokes sessions still live.
   */
  revokeCredential(userId: string, credentialId: string, reason: string, at: number): Promise<CredentialRecord | undefined>

  // Sessions
  getSession(userId: string, sessionId: string): Promise<SessionRecord | undefined>
  /** Etag-guarded replace (refresh rotation, revocation). ConcurrencyError when it lost. */
  updateSession(session: SessionRecord): Promise<void>
  listSessions(userId: string): Promise<SessionRecord[]>

  // Roles
  /** Etag-guarded replace of the user row (roles, displayName). */
  updateUser(user: UserRecord): Promise<void>

  // Role definitions (partition 'roles'): a few dozen rows, read whole and cached by the authorizer.
  listRoles(): Promise<RoleRecord[]>
  /** Insert or replace (administrators' PUT). */
  putRole(role: RoleRecord): Promise<void>
  /** false when it did not exist. */
  deleteRole(name: string): Promise<boolean>

  // Audit log (table 'audit', partition 'audit'; docs/audit.md): append-only, hash-chained.
  /** Point read of the head row; undefined before the first event. */
  getAuditHead(): Promise<AuditHead | undefined>
  /**
   * Appends 1–99 events numbered `head.seq + 1, …` and moves the head to the last of them, in one
   * partition transaction guarded by the head's etag (no head yet: inserted). ConcurrencyError
   * when another writer moved the head first; then nothing was written. Returns the new head.
   */
  appendAudit(events: AuditEventRecord[], head: AuditHead | undefined): Promise<AuditHead>
  /** Events with seq ≥ `fromSeq`, ascending, at most `limit` (one partition range query). */
  listAudit(fromSeq: number, limit: number): Promise<AuditEventRecord[]>
  /** Point read of one event. */
  getAuditEvent(seq: number): Promise<AuditEventRecord | undefined>

  // Signing keys (partition 'keys')
  listSigningKeys(): Promise<SigningKeyRecord[]>
  /** Insert; ConcurrencyError if the kid exists. */
  createSigningKey(key: SigningKeyRecord): Promise<void>
  /** Etag-guarded replace. ConcurrencyError when it lost. */
  updateSigningKey(key: SigningKeyRecord): Promise<void>
  /**
   * Several key changes, all or nothing (one partition transaction): a key with an `etag` replaces
   * its row guarded by that etag, a key without one is inserted. ConcurrencyError when any etag
   * lost or any kid exists; then nothing was written. Each key gets its new etag.
   */
  commitSigningKeys(keys: SigningKeyRecord[]): Promise<void>

  // OAuth clients (shared/oauth/**): the client row and its principal row live in the client's
  // own `users` partition.
  /**
   * Writes `principal` (id = client id, no username) and the client row in one transaction;
   * ConcurrencyError if the id exists.
   */
  createClient(client: ClientRecord, principal: UserRecord): Promise<void>
  getClient(clientId: string): Promise<ClientRecord | undefined>
  /** Inserts a session no passkey sign-in made (client_credentials); ConcurrencyError if it exists. */
  createSession(session: SessionRecord): Promise<void>

  // Housekeeping (shared/housekeeping.ts): Table Storage has no TTL.
  /**
   * Deletes challenge and `jti` markers and session rows (revoked ones too) whose `expiresAt` is
   * before `before`, at most `max` of them in all (shared as `sweepShares` says). Each row is
   * deleted with the etag it was read with, so a row changed meanwhile is kept; rows that are
   * not expired are never touched. Returns how many of each kind were deleted. It scans the
   * challenges and users tables: for a timer, never for a request path.
   */
  sweepExpired(opts: { before: number; max: number }): Promise<{ challenges: number; sessions: number }>
}
