/**
 * Every row the Table store writes, declared once: where it lives and how each field is stored
 * (the table in docs/storage.md "Tables"). Column names are the record's field names; changing
 * one would leave stored data unread.
 */
import type {
  ApiRequestDetail,
  AuditEventRecord,
  AuditKeyRecord,
  AuditHead,
  AuthorizationCodeBinding,
  BackchannelRequestRecord,
  DelegationBinding,
  ClientRecord,
  ConsentRecord,
  CredentialRecord,
  InvitationRecord,
  Permission,
  RecoveryRecord,
  RoleRecord,
  SessionRecord,
  SigningKeyRecord,
  UserRecord,
} from '../records.js'
import { bool, int64, json, optInt64, optJson, optText, rowCodec, text, textAs, type Column, type RowCodec, type RowSpec } from './codec.js'
import {
  AUDIT_HEAD_RK,
  AUDIT_KEY_RK,
  AUDIT_PK,
  auditRowKey,
  BCREQ_PREFIX,
  bcreqRowKey,
  CLIENT_RK,
  CLIENTS_PK,
  consentRowKey,
  CRED_PREFIX,
  credRowKey,
  INVITATIONS_PK,
  k,
  KEYS_PK,
  RECOVERY_RK,
  ROLES_PK,
  SESS_PREFIX,
  sessRowKey,
  unk,
  USER_RK,
} from './keys.js'

const strings = () => json<string[]>(() => [])

/**
 * The codec of a record kept in its user's partition under a prefixed row key (passkeys,
 * sessions): keys (userId, `rowKey(id)`), where `rowKey` is keys.ts's (the prefix, then the
 * escaped id), read back by cutting `prefix` off; `columns` hold every other field.
 */
function userPartitionRow<R extends { id: string; userId: string }>(
  prefix: string,
  rowKey: (id: string) => string,
  columns: RowSpec<R, 'id' | 'userId'>['columns'],
): RowCodec<R, 'id' | 'userId'> {
  return rowCodec<R, 'id' | 'userId'>({
    keys: (r) => ({ partitionKey: k(r.userId), rowKey: rowKey(r.id) }),
    fromKeys: (row) => ({ id: unk(row.rowKey.slice(prefix.length)), userId: unk(row.partitionKey) }),
    columns,
  })
}

/** `users` (userId, 'acct'): a user, or an OAuth client's principal. */
export const userRow = rowCodec<UserRecord, 'id'>({
  keys: (u) => ({ partitionKey: k(u.id), rowKey: USER_RK }),
  fromKeys: (row) => ({ id: unk(row.partitionKey) }),
  columns: { username: text, displayName: text, roles: strings(), createdAt: int64, disabledAt: optInt64, deletedAt: optInt64 },
})

/** `users` (userId, 'pdkey'): the account's wrapped personal-data key. */
export const auditKeyRow = rowCodec<AuditKeyRecord, 'userId'>({
  keys: (r) => ({ partitionKey: k(r.userId), rowKey: AUDIT_KEY_RK }),
  fromKeys: (row) => ({ userId: unk(row.partitionKey) }),
  columns: { wrappedKey: text, wrappedBy: optText, createdAt: int64 },
})

/** `users` (userId, 'acct:cred:<id>'): one passkey. */
export const credentialRow = userPartitionRow<CredentialRecord>(CRED_PREFIX, credRowKey, {
  publicKey: text,
  alg: int64,
  counter: int64,
  transports: strings(),
  aaguid: text,
  fmt: text,
  backupEligible: bool,
  backedUp: bool,
  attestationTrusted: bool,
  attestationKeyId: optText,
  label: text,
  createdAt: int64,
  lastUsedAt: optInt64,
  flaggedAt: optInt64,
  flagReason: optText,
})

/** `users` (userId, 'sess:<id>'): one session. */
export const sessionRow = userPartitionRow<SessionRecord>(SESS_PREFIX, sessRowKey, {
  credentialId: optText,
  clientId: text,
  audience: text,
  scope: text,
  amr: strings(),
  acr: text,
  authTime: int64,
  createdAt: int64,
  expiresAt: int64,
  lastUsedAt: optInt64,
  userAgent: optText,
  revokedAt: optInt64,
  revokedReason: optText,
  refreshHash: text,
  previousRefreshHashes: strings(),
  authorizationCode: optJson<AuthorizationCodeBinding>(),
  delegation: optJson<DelegationBinding>(),
  jkt: optText,
})

/** `users` (userId, 'bcreq:<id>'): an agent's backchannel authentication request (CIBA). */
export const backchannelRequestRow = userPartitionRow<BackchannelRequestRecord>(BCREQ_PREFIX, bcreqRowKey, {
  clientId: text,
  clientName: text,
  scope: text,
  bindingMessage: text,
  authorizationDetails: optJson<ApiRequestDetail[]>(),
  secretHash: text,
  createdAt: int64,
  expiresAt: int64,
  interval: int64,
  lastPolledAt: optInt64,
  state: textAs<BackchannelRequestRecord['state']>(),
  approval: optJson<NonNullable<BackchannelRequestRecord['approval']>>(),
  sessionId: optText,
})

/** `roles` ('invitations', id): one invitation. */
export const invitationRow = rowCodec<InvitationRecord, 'id'>({
  keys: (i) => ({ partitionKey: INVITATIONS_PK, rowKey: k(i.id) }),
  fromKeys: (row) => ({ id: unk(row.rowKey) }),
  columns: {
    username: text,
    displayName: optText,
    roles: strings(),
    userId: text,
    secretHash: text,
    createdAt: int64,
    expiresAt: int64,
    createdBy: optText,
    usedAt: optInt64,
    revokedAt: optInt64,
  },
})

/** `users` (userId, 'recovery'): the account's recovery link. */
export const recoveryRow = rowCodec<RecoveryRecord, 'userId'>({
  keys: (r) => ({ partitionKey: k(r.userId), rowKey: RECOVERY_RK }),
  fromKeys: (row) => ({ userId: unk(row.partitionKey) }),
  columns: { id: text, secretHash: text, createdAt: int64, expiresAt: int64, usedAt: optInt64 },
})

/** `users` (userId, 'consent:<base64url(SHA-256(clientId))>'): a remembered consent; the client's id is a column. */
export const consentRow = rowCodec<ConsentRecord, 'userId'>({
  keys: (r) => ({ partitionKey: k(r.userId), rowKey: consentRowKey(r.clientId) }),
  fromKeys: (row) => ({ userId: unk(row.partitionKey) }),
  columns: { clientId: text, clientName: text, scope: text, resources: strings(), createdAt: int64, updatedAt: int64 },
})

/** Anything but 'confidential' reads as 'public', the kind that may do less. */
const clientKind: Column<ClientRecord['kind']> = {
  write: (kind) => kind,
  read: (v) => (text.read(v) === 'confidential' ? 'confidential' : 'public'),
}

/** `users` (clientId, 'client'): an OAuth client's registration. */
export const clientRow = rowCodec<ClientRecord, 'id'>({
  keys: (c) => ({ partitionKey: k(c.id), rowKey: CLIENT_RK }),
  fromKeys: (row) => ({ id: unk(row.partitionKey) }),
  columns: {
    name: text,
    kind: clientKind,
    jwks: optJson<ClientRecord['jwks']>(),
    jwksUri: optText,
    redirectUris: strings(),
    scopes: optJson<string[]>(),
    agent: optJson<boolean>(),
    createdAt: int64,
  },
})

/** One entry of the list of clients: the key is `clientCursor` of the client (types.ts). */
export interface ClientIndexEntry {
  key: string
  clientId: string
}

/** `roles` ('clients', `<createdAt>.<clientId>`): a pointer; the registration stays in its partition. */
export const clientIndexRow = rowCodec<ClientIndexEntry, 'key'>({
  keys: (e) => ({ partitionKey: CLIENTS_PK, rowKey: e.key }),
  fromKeys: (row) => ({ key: row.rowKey }),
  columns: { clientId: text },
  etag: false,
})

/** `roles` ('roles', name). */
export const roleRow = rowCodec<RoleRecord, 'name'>({
  keys: (r) => ({ partitionKey: ROLES_PK, rowKey: k(r.name) }),
  fromKeys: (row) => ({ name: unk(row.rowKey) }),
  columns: { permissions: json<Permission[]>(() => []), updatedAt: int64 },
})

/** `signingkeys` ('keys', kid). */
export const signingKeyRow = rowCodec<SigningKeyRecord, 'kid'>({
  keys: (key) => ({ partitionKey: KEYS_PK, rowKey: k(key.kid) }),
  fromKeys: (row) => ({ kid: unk(row.rowKey) }),
  columns: {
    alg: text,
    state: textAs<SigningKeyRecord['state']>(),
    publicJwk: json<Record<string, unknown>>(() => ({})),
    encryptedPrivateKey: text,
    wrappedBy: optText,
    createdAt: int64,
    activatesAt: int64,
    retiredAt: optInt64,
    expiresAt: optInt64,
  },
})

/**
 * `audit` ('audit', zero-padded seq). Read as stored, even when edited by hand: the verifier is
 * the judge (a bad row key gives seq NaN).
 */
export const auditEventRow = rowCodec<AuditEventRecord, 'seq'>({
  keys: (e) => ({ partitionKey: AUDIT_PK, rowKey: auditRowKey(e.seq) }),
  fromKeys: (row) => ({ seq: /^\d+$/.test(row.rowKey) ? Number(row.rowKey) : NaN }),
  columns: {
    at: int64,
    type: text,
    outcome: textAs<AuditEventRecord['outcome']>(),
    actor: json<Record<string, string>>(() => ({})),
    target: json<Record<string, string>>(() => ({})),
    ip: optText,
    userAgent: optText,
    detail: json<Record<string, unknown>>(() => ({})),
    prev: text,
    hash: text,
    keyId: optText,
  },
  etag: false,
})

/** `audit` ('audit', 'head'): after every event row in key order. */
export const auditHeadRow = rowCodec<AuditHead, never>({
  keys: () => ({ partitionKey: AUDIT_PK, rowKey: AUDIT_HEAD_RK }),
  fromKeys: () => ({}),
  columns: { seq: int64, hash: text, at: int64 },
})

/** A challenge (or client assertion `jti`) marker in `challenges` (id, ''). */
export interface ChallengeMarker {
  id: string
  expiresAt: number
}

export const challengeRow = rowCodec<ChallengeMarker, 'id'>({
  keys: (c) => ({ partitionKey: k(c.id), rowKey: '' }),
  fromKeys: (row) => ({ id: unk(row.partitionKey) }),
  columns: { expiresAt: int64 },
  etag: false,
})

/** A claim in an index table (`usernames` or `credentials`): the (escaped) key belongs to `userId`. */
export interface Claim {
  key: string
  userId: string
  createdAt: number
  etag?: string
}

export const claimRow = rowCodec<Claim, 'key'>({
  keys: (c) => ({ partitionKey: c.key, rowKey: '' }),
  fromKeys: (row) => ({ key: row.partitionKey }),
  columns: { userId: text, createdAt: int64 },
})
