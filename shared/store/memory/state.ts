/** What the memory store holds, and the two ways a record is written: as new, or etag-guarded. */
import {
  ConcurrencyError,
  type AuditEventRecord,
  type AuditHead,
  type BackchannelRequestRecord,
  type AuditKeyRecord,
  type ClientRecord,
  type ConsentRecord,
  type CredentialRecord,
  type InvitationRecord,
  type RecoveryRecord,
  type RoleRecord,
  type SessionRecord,
  type SigningKeyRecord,
  type StoredMetadataBlob,
  type UserRecord,
} from '../types.js'

export interface MemoryState {
  challenges: Map<string, number>
  usernames: Map<string, string>
  credentialOwners: Map<string, string>
  users: Map<string, UserRecord>
  /** userId → credential id → record, like a user's partition. */
  credentials: Map<string, Map<string, CredentialRecord>>
  sessions: Map<string, Map<string, SessionRecord>>
  /** userId → request id → backchannel authentication request (CIBA). */
  backchannel: Map<string, Map<string, BackchannelRequestRecord>>
  /** userId → the account's personal-data key (its partition's `pdkey` row). */
  auditKeys: Map<string, AuditKeyRecord>
  signingKeys: Map<string, SigningKeyRecord>
  roles: Map<string, RoleRecord>
  clients: Map<string, ClientRecord>
  invitations: Map<string, InvitationRecord>
  /** userId → the account's recovery link. */
  recoveries: Map<string, RecoveryRecord>
  /** userId → clientId → remembered consent. */
  consents: Map<string, Map<string, ConsentRecord>>
  auditEvents: Map<number, AuditEventRecord>
  audit: { head?: AuditHead }
  /** The shared FIDO metadata BLOB (MetadataStore). */
  metadata: { blob?: StoredMetadataBlob & { version: string } }
  /** A fresh etag, never seen before. */
  etag(): string
  /** Stores a copy with a fresh etag and gives the caller's object that etag. */
  put<T extends { etag?: string }>(target: Map<string, T>, key: string, record: T): void
  /** `put` if the stored record still has the caller's etag; ConcurrencyError(what) if not. */
  guardedReplace<T extends { etag?: string }>(target: Map<string, T>, key: string, record: T, what: string): void
}

/** Records go in and come out as copies, like rows. */
export const copy = <T>(v: T): T => structuredClone(v)

/** The inner map of one user (created empty when absent). */
export function inner<K, V>(m: Map<string, Map<K, V>>, userId: string): Map<K, V> {
  let v = m.get(userId)
  if (!v) m.set(userId, (v = new Map()))
  return v
}

export function createState(): MemoryState {
  let seq = 0
  const etag = () => `W/"${++seq}"`
  const put: MemoryState['put'] = (target, key, record) => {
    record.etag = etag()
    target.set(key, copy(record))
  }
  return {
    challenges: new Map(),
    usernames: new Map(),
    credentialOwners: new Map(),
    users: new Map(),
    credentials: new Map(),
    sessions: new Map(),
    backchannel: new Map(),
    auditKeys: new Map(),
    signingKeys: new Map(),
    roles: new Map(),
    clients: new Map(),
    invitations: new Map(),
    recoveries: new Map(),
    consents: new Map(),
    auditEvents: new Map(),
    audit: {},
    metadata: {},
    etag,
    put,
    guardedReplace(target, key, record, what) {
      if (!record.etag) throw new TypeError(`${what}: etag required (pass the record as read)`)
      const current = target.get(key)
      if (!current || current.etag !== record.etag) throw new ConcurrencyError(what)
      put(target, key, record)
    },
  }
}
