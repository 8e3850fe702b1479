/**
 * Partition and row keys: how ids become keys (`k`, one-to-one) and where each row lives
 * (docs/storage.md "Tables").
 */
import { sha256Sync } from '../../crypto/fast.js'
import { encode } from '../../util/base64url.js'

/**
 * PartitionKey/RowKey may not contain / \ # ? or control characters. Ids are base64url and pass
 * unchanged; anything else (a username) has those characters and '%' percent-escaped, which keeps
 * the mapping one-to-one.
 */
export function k(s: string): string {
  return s.replace(
    /[%/\\#?\u0000-\u001f\u007f-\u009f]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  )
}

export function unk(s: string): string {
  return s.replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
}

// One `users` partition per user (or OAuth client): the account row, its passkeys, its sessions
// and, for a client, its registration. A prefix `p:` is the range [`p:`, `p;`): ';' follows ':'.
export const USER_RK = 'acct'
export const CRED_PREFIX = 'acct:cred:'
export const SESS_PREFIX = 'sess:'
/** The end of the `acct` range (the account row and its passkeys) and of the `sess:` range. */
export const ACCT_END = 'acct;'
export const SESS_END = 'sess;'
/**
 * A person's personal-data key (audit crypto-shredding): between the passkeys and the sessions in
 * key order ('acct;' < 'pdkey' < 'sess:'), outside both prefixes, inside [CRED_PREFIX, SESS_END).
 */
export const AUDIT_KEY_RK = 'pdkey'
/** OAuth clients: row 'client' beside the client's principal row ('acct'). */
export const CLIENT_RK = 'client'
/** The end of a client partition's registration rows: [`acct`, `client;`) is principal + registration. */
export const CLIENT_END = 'client;'
/**
 * The list of clients (`listClients`): partition 'clients' of `roles` (the administration's
 * table; roles are partition 'roles', and `users` keeps one partition per account), one row per
 * client keyed `<createdAt, 16 digits>.<clientId>` (oldest first), and the marker 'indexed' once
 * clients registered before the list existed were added. Index keys start with a digit, so
 * [`0`, `:`) holds exactly them.
 */
export const CLIENTS_PK = 'clients'
export const CLIENTS_INDEXED_RK = 'indexed'
export const CLIENT_INDEX_FROM = '0'
export const CLIENT_INDEX_END = ':'

/** Agents' backchannel authentication requests (CIBA) in the person's partition. */
export const BCREQ_PREFIX = 'bcreq:'
export const BCREQ_END = 'bcreq;'
export const bcreqRowKey = (requestId: string) => BCREQ_PREFIX + k(requestId)

/** Remembered consents in the person's partition, one per client (inside [CRED_PREFIX, SESS_END), like bcreq:). */
export const CONSENT_PREFIX = 'consent:'
export const CONSENT_END = 'consent;'
/**
 * The consent row of a client: base64url(SHA-256(clientId)), 43 characters whatever the id (a
 * client ID metadata document URL, escaped, could pass Table Storage's 1 KiB key limit); the id
 * itself is the row's `clientId` column.
 */
export const consentRowKey = (clientId: string) => CONSENT_PREFIX + encode(sha256Sync(clientId))

/**
 * Invitations: partition 'invitations' of `roles` (the administration's table, beside 'roles' and
 * 'clients'), the invitation id as row key.
 */
export const INVITATIONS_PK = 'invitations'
/**
 * An account's recovery link: row 'recovery' in its `users` partition. It sorts between the
 * passkeys (`acct:cred:`) and the sessions (`sess:`): every range over that span filters by prefix.
 */
export const RECOVERY_RK = 'recovery'

export const credRowKey = (credentialId: string) => CRED_PREFIX + k(credentialId)
export const sessRowKey = (sessionId: string) => SESS_PREFIX + k(sessionId)

/** Role definitions and signing keys: one partition each, the name or kid as row key. */
export const ROLES_PK = 'roles'
export const KEYS_PK = 'keys'

// Audit log: partition 'audit'; events under their zero-padded seq (ordered by key), and 'head'
// (after every digit) holding the latest seq and hash.
export const AUDIT_PK = 'audit'
export const AUDIT_HEAD_RK = 'head'
const AUDIT_SEQ_DIGITS = 16
export const auditRowKey = (seq: number) => String(Math.trunc(seq)).padStart(AUDIT_SEQ_DIGITS, '0')
export const AUDIT_LAST_RK = '9'.repeat(AUDIT_SEQ_DIGITS)
