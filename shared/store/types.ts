/**
 * The storage interface: a few domain verbs, each one a bounded number of Table Storage round
 * trips (see docs/storage.md). Two implementations: `memory/` (unit tests) and `tables/` (Azure
 * Table Storage / Azurite, the only `@azure/data-tables` user). `Store` is one interface per
 * aggregate, so a module can ask for just the part it uses (`Pick<Store, …>` works as well).
 *
 * Rules every implementation keeps:
 * - A failure of the storage service (network, 5xx, throttling) throws `StorageUnavailableError`
 *   (from ../errors.ts) and leaves nothing half-written.
 * - Races are decided by the store: `consumeChallenge` is true exactly once, `createAccount`
 *   claims a username exactly once, ETag-guarded updates throw `ConcurrencyError` when they lose.
 * - Records are returned as plain objects; `etag` is opaque and passed back unchanged.
 * - Time values are milliseconds since the epoch.
 */
import type {
  Account,
  AuditEventRecord,
  AuditKeyRecord,
  AuditHead,
  BackchannelRequestRecord,
  ClientRecord,
  ConsentRecord,
  CredentialRecord,
  InvitationRecord,
  RecoveryRecord,
  RoleRecord,
  SessionRecord,
  SigningKeyRecord,
  UserRecord,
} from './records.js'

export type * from './records.js'

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

/** `listUsers` was handed a cursor it did not make (or one it can no longer read). */
export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this service gave out')
    this.name = 'InvalidCursorError'
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

/** Start-up, health and the timer's clean-up: the verbs no request path depends on for data. */
export interface Housekeeping {
  /** Create tables if missing. Idempotent. */
  init(): Promise<void>
  /** One cheap round trip; throws StorageUnavailableError when storage does not answer. */
  ping(): Promise<void>
  /**
   * Deletes challenge and `jti` markers and session rows (revoked ones too) whose `expiresAt` is
   * before `before`, at most `max` of them in all (shared as `sweepShares` says). Each row is
   * deleted with the etag it was read with, so a row changed meanwhile is kept; rows that are
   * not expired are never touched. Returns how many of each kind were deleted. It scans the
   * challenges and users tables: for a timer, never for a request path (Table Storage has no TTL).
   */
  sweepExpired(opts: { before: number; max: number }): Promise<{ challenges: number; sessions: number }>
}

/** Single-use markers. The challenge's content is sealed in the challenge itself. */
export interface ChallengeStore {
  putChallenge(id: string, expiresAt: number): Promise<void>
  /** Deletes the marker; true for exactly one caller, false if absent (never issued or used). */
  consumeChallenge(id: string): Promise<boolean>
}

/** Users, their passkeys and the two global indexes (usernames, credential ids). */
export interface AccountStore {
  findUserIdByUsername(username: string): Promise<string | undefined>
  /** The user row and all credentials, one partition query. undefined when no such user. */
  getAccount(userId: string): Promise<Account | undefined>
  getUser(userId: string): Promise<UserRecord | undefined>
  /** Etag-guarded replace of the user row (roles, displayName). */
  updateUser(user: UserRecord): Promise<void>
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
    /** The account's personal-data key (docs/audit.md "Personal data"), in the same transaction. */
    auditKey?: AuditKeyRecord
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
  /**
   * Disables an account: replaces `user` (its `disabledAt` set) guarded by its etag and revokes the
   * account's live sessions, in one partition transaction that also rewrites every passkey row
   * guarded by the etag it was read with, so that a sign-in which read the account before cannot
   * commit after it (recordSignIn is guarded by the passkey's etag). ConcurrencyError when a guard
   * lost; then nothing was written. Sessions beyond one transaction are revoked right after.
   */
  disableUser(user: UserRecord, reason: string): Promise<void>
  /** The account's personal-data key (row `pdkey`); undefined when it has none, or no longer. */
  getAuditKey(userId: string): Promise<AuditKeyRecord | undefined>
  /**
   * Adds a personal-data key to an existing account that has none, in one partition transaction
   * with an etag-guarded touch of the user row as read (`user`), so that no key can be added once
   * the account's deletion has begun (shredUser replaces that row). ConcurrencyError when the user
   * row changed or a key exists already (read it again: the winner's); then nothing was written.
   */
  createAuditKey(key: AuditKeyRecord, user: UserRecord): Promise<void>
  /** Etag-guarded replace of a personal-data key (re-wrapping under a new KEK). ConcurrencyError when it lost. */
  updateAuditKey(key: AuditKeyRecord): Promise<void>
  /**
   * The first step of deleting an account (shared/account/deletion.ts): as disableUser (the user
   * row replaced, here with `deletedAt` and `disabledAt` set, guarded by its etag; every passkey
   * row guarded; live sessions revoked), and the account's personal-data key deleted, in the same
   * partition transaction. ConcurrencyError when a guard lost; then nothing was written.
   */
  shredUser(user: UserRecord, reason: string): Promise<void>
  /**
   * The last step of deleting an account: the credential-id index rows that point at it, every
   * row of its partition but the user row (sessions, passkeys, anything else), the username claim
   * while it is still the account's, and last the user row. Each step can be repeated: a failure
   * midway (StorageUnavailableError) leaves the user row for a retry to find and finish. Returns
   * false when there was no user row.
   */
  eraseAccount(userId: string): Promise<boolean>
  /**
   * Ids of accounts whose deletion began (`deletedAt`) before `before` and was never finished (the
   * user row is still there), at most `max`: the housekeeping timer finishes them. A scan of the
   * users table's account rows: for a timer, never for a request path.
   */
  listDeletedAccounts(opts: { before: number; max: number }): Promise<string[]>
  /**
   * Personal-data keys wrapped by the KEK `wrappedBy` (the previous one, during a change of
   * KEY_ENCRYPTION_KEY), at most `max`, with their etags: the rotation timer wraps them again
   * under the current one. A scan of the users table's `pdkey` rows: for a timer, never for a
   * request path.
   */
  listAuditKeysWrappedBy(opts: { wrappedBy: string; max: number }): Promise<AuditKeyRecord[]>
  /**
   * One page of people's accounts in id order, client principals (no username) left out: at most
   * `limit`, and `next` (url-safe, opaque) while more may follow. InvalidCursorError for a cursor
   * it did not make.
   */
  listUsers(opts: { limit: number; cursor?: string }): Promise<{ users: UserRecord[]; next?: string }>
}

/** Sessions, in their user's (or client's) partition. Sign-in creates them with `recordSignIn`. */
export interface SessionStore {
  getSession(userId: string, sessionId: string): Promise<SessionRecord | undefined>
  /** Etag-guarded replace (refresh rotation, revocation). ConcurrencyError when it lost. */
  updateSession(session: SessionRecord): Promise<void>
  listSessions(userId: string): Promise<SessionRecord[]>
  /** Inserts a session no passkey sign-in made (client_credentials); ConcurrencyError if it exists. */
  createSession(session: SessionRecord): Promise<void>
}

/**
 * Agents' backchannel authentication requests (OpenID CIBA, shared/agents/): rows `bcreq:<id>` in
 * the person's `users` partition, beside the passkeys and sessions they are approved with and
 * issue, so each step is one point operation or one partition transaction.
 */
export interface BackchannelStore {
  /** Inserts a new request; ConcurrencyError if the id exists. */
  createBackchannelRequest(request: BackchannelRequestRecord): Promise<void>
  getBackchannelRequest(userId: string, requestId: string): Promise<BackchannelRequestRecord | undefined>
  /** The person's requests, any state (one partition range query). */
  listBackchannelRequests(userId: string): Promise<BackchannelRequestRecord[]>
  /** Etag-guarded replace (a poll's lastPolledAt, a denial). ConcurrencyError when it lost. */
  updateBackchannelRequest(request: BackchannelRequestRecord): Promise<void>
  /** Deletes a request if it still has the etag it was read with (clean-up); false when changed or gone. */
  deleteBackchannelRequest(request: BackchannelRequestRecord): Promise<boolean>
  /**
   * The approval: replaces the passkey (counter, lastUsedAt) and the request, each guarded by the
   * etag it was read with, in one transaction. ConcurrencyError when either lost; nothing written.
   */
  recordApproval(credential: CredentialRecord, request: BackchannelRequestRecord): Promise<void>
  /**
   * The token: replaces the request (state issued) guarded by its etag and inserts the delegated
   * session, in one transaction, so that of two concurrent polls exactly one issues.
   * ConcurrencyError when the etag lost (or the session id exists); nothing written.
   */
  issueBackchannel(request: BackchannelRequestRecord, session: SessionRecord): Promise<void>
}

/** Role definitions (partition 'roles'): a few dozen rows, read whole and cached by the authorizer. */
export interface RoleStore {
  listRoles(): Promise<RoleRecord[]>
  /** Insert or replace (administrators' PUT). */
  putRole(role: RoleRecord): Promise<void>
  /** false when it did not exist. */
  deleteRole(name: string): Promise<boolean>
}

/** The audit log (table 'audit', partition 'audit'; docs/audit.md): append-only, hash-chained. */
export interface AuditStore {
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
}

/** The token signing key ring (partition 'keys'). */
export interface SigningKeyStore {
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
}

/**
 * OAuth clients (shared/oauth/**): the client row and its principal row live in the client's own
 * `users` partition.
 */
export interface ClientStore {
  /**
   * Writes `principal` (id = client id, no username) and the client row in one transaction;
   * ConcurrencyError if the id exists.
   */
  createClient(client: ClientRecord, principal: UserRecord): Promise<void>
  getClient(clientId: string): Promise<ClientRecord | undefined>
  /**
   * Clients oldest first, at most `limit`, after the cursor `after` (a page's `next`), each with
   * its principal (absent only if a half-deleted client is read). `next` when more may follow.
   */
  listClients(opts: { after?: string; limit: number }): Promise<{ clients: { client: ClientRecord; principal?: UserRecord }[]; next?: string }>
  /**
   * Replaces the client row and, when given, its principal, both guarded by the etags they were
   * read with, in one transaction (one partition): ConcurrencyError when either changed or went.
   */
  updateClient(client: ClientRecord, principal?: UserRecord): Promise<void>
  /**
   * Deletes the client row, its principal and the sessions in its partition (client_credentials),
   * the registration and the principal in one transaction. Returns the deleted registration, or
   * undefined when there was none.
   */
  deleteClient(clientId: string): Promise<ClientRecord | undefined>
}

/**
 * Invitations (CONTRACT v2 "Invitations"): partition 'invitations' of the `roles` table (the
 * administration's table), one row per invitation keyed by its id.
 */
export interface InvitationStore {
  /** Insert; ConcurrencyError if the id exists. */
  createInvitation(invitation: InvitationRecord): Promise<void>
  /** Point read. */
  getInvitation(id: string): Promise<InvitationRecord | undefined>
  /** Every invitation row (pending, used, revoked and expired ones not swept yet): one partition query. */
  listInvitations(): Promise<InvitationRecord[]>
  /** Etag-guarded replace (used, revoked). ConcurrencyError when it lost. */
  updateInvitation(invitation: InvitationRecord): Promise<void>
  /** Deletes one invitation row whatever its state (account deletion); false when it was not there. */
  deleteInvitation(id: string): Promise<boolean>
  /**
   * Deletes invitations whose `expiresAt` is before `before`, at most `max`, each guarded by the
   * etag it was read with (the housekeeping timer; one partition query). Returns how many.
   */
  sweepInvitations(opts: { before: number; max: number }): Promise<number>
}

/**
 * Recovery links (CONTRACT v2 "Recovery"): one row per account, RowKey 'recovery' in the account's
 * `users` partition, so its use is one transaction with the passkey and the session it makes.
 */
export interface ConsentStore {
  /**
   * Inserts the person's consent to the client (no etag: ConcurrencyError when one exists) or
   * replaces the one read (its etag: ConcurrencyError when it changed or went away).
   */
  putConsent(consent: ConsentRecord): Promise<void>
  /** Point read. */
  getConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined>
  /** The person's consents (one partition range). */
  listConsents(userId: string): Promise<ConsentRecord[]>
  /** Deletes one; false when there was none. */
  deleteConsent(userId: string, clientId: string): Promise<boolean>
}

export interface RecoveryStore {
  /** Insert or replace the account's recovery row: a new issue replaces the last (its token stops working). */
  putRecovery(recovery: RecoveryRecord): Promise<void>
  /** Point read. */
  getRecovery(userId: string): Promise<RecoveryRecord | undefined>
  /**
   * A recovery's use, all or nothing: claims the credential id (UniquenessError('credential') if
   * taken), then in one partition transaction replaces the recovery row (`usedAt` set) guarded by
   * its etag, guards
   * the user row by its etag (a disabling that committed meanwhile makes it lose), inserts the
   * passkey and the new session, and revokes the account's first live sessions; the claim is
   * released when that fails. ConcurrencyError when a guard lost: then nothing was written. The
   * other live sessions made before `session` are revoked right after. Returns how many sessions
   * were revoked.
   */
  recoverAccount(input: {
    user: UserRecord
    recovery: RecoveryRecord
    credential: CredentialRecord
    session: SessionRecord
    reason: string
  }): Promise<{ revoked: number }>
}

/** The most a FIDO metadata BLOB may be: downloaded, or read back from storage decompressed (the FIDO BLOB is 5–10 MB). */
export const MAX_METADATA_BLOB_BYTES = 20 * 1024 * 1024

/**
 * A FIDO metadata BLOB as stored for every instance (`MetadataStore`): its `no`, its JWS text and
 * `source`, a hash of the METADATA_BLOB and METADATA_ROOT it came from (a copy of another source
 * is replaced whatever its `no`).
 */
export interface StoredMetadataBlob {
  no: number
  text: string
  source?: string | undefined
}

/**
 * The stored BLOB as read: its `no`, `source` and `version` (which write it is:
 * `putMetadataBlob`'s `replace`) from the head, and its text; `text` undefined when its rows cannot be read whole
 * (a writer replaced them meanwhile, or they are damaged, too many or too large: at most
 * MAX_BLOB_BYTES once decompressed). Nothing here is verified: the caller verifies the text.
 */
export interface StoredMetadataRead {
  no: number
  source: string | undefined
  version: string
  text: string | undefined
}

/**
 * The last good FIDO metadata BLOB (docs/authenticators.md "The timer and storage"), shared by
 * every instance: the timer job stores what it downloaded and verified, instances read it from
 * here instead of each from the internet. Partition 'metadata' of `roles`.
 */
export interface MetadataStore {
  /** The stored BLOB when its `no` is greater than `newerThan` (else one point read and undefined). */
  getMetadataBlob(opts?: { newerThan?: number }): Promise<StoredMetadataRead | undefined>
  /**
   * Stores a BLOB the caller verified, unless the stored one's `no` is at least as great (or
   * another writer stored one meanwhile): true when stored. With `replace` (the `version` of a
   * stored copy the caller found not to verify or not to be readable), it is stored whatever the
   * stored one's `no`, if the stored one is still that version.
   */
  putMetadataBlob(blob: StoredMetadataBlob, opts?: { replace?: string }): Promise<boolean>
}

/** `listClients` cursors: the creation time (16 digits), then the client id. */
export const clientCursor = (c: Pick<ClientRecord, 'id' | 'createdAt'>) => `${String(Math.trunc(c.createdAt)).padStart(16, '0')}.${c.id}`
export const CLIENT_CURSOR = /^\d{16}\.[A-Za-z0-9_-]{1,64}$/

/** Everything the service keeps; each implementation builds it from one part per aggregate. */
export interface Store
  extends Housekeeping,
    ChallengeStore,
    AccountStore,
    SessionStore,
    RoleStore,
    AuditStore,
    SigningKeyStore,
    ClientStore,
    BackchannelStore,
    InvitationStore,
    RecoveryStore,
    MetadataStore,
    ConsentStore {}
