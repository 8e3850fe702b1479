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

/** `createAccount`/`addCredential` refusal reasons. */
export class UniquenessError extends Error {
  constructor(readonly field: 'username' | 'credential') {
    super(`${field} already exists`)
    this.name = 'UniquenessError'
  }
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
   * row. Returns false when it did not exist.
   */
  deleteCredential(userId: string, credentialId: string, reason: string): Promise<boolean>

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

  // Signing keys (partition 'keys')
  listSigningKeys(): Promise<SigningKeyRecord[]>
  /** Insert; ConcurrencyError if the kid exists. */
  createSigningKey(key: SigningKeyRecord): Promise<void>
  /** Etag-guarded replace. ConcurrencyError when it lost. */
  updateSigningKey(key: SigningKeyRecord): Promise<void>
}
