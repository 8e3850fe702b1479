/**
 * The audit event vocabulary (docs/audit.md): which events exist, what a caller hands to
 * `core.audit.record()`, and how an event is shown by `GET /api/manage/audit`.
 *
 * An event says who (`actor`), what (`type`, `outcome`, `target`, `detail`), when (`at`) and from
 * where (`ip`, `userAgent`). It never holds a secret: no access, refresh or id token, no
 * assertion or attestation, no key material. `sanitizeAuditInput` enforces that as a second line
 * of defence: detail keys that name secrets are dropped and values shaped like tokens redacted.
 */
import type { AuditEventRecord } from '../store/types.js'

/** Every event type, `<noun>.<past participle>`. */
export const AUDIT_EVENT_TYPES = [
  /** Sign-up: account, first passkey and first session created. */
  'user.signed_up',
  /** Passkey sign-in: a new session and its tokens. */
  'user.signed_in',
  /** A registration or authentication verify was refused (4xx); `detail.code` says why. */
  'ceremony.failed',
  /** A passkey added to a signed-in account. */
  'passkey.added',
  /** A passkey's label changed (self-service). */
  'passkey.renamed',
  /** A passkey deleted by its owner; its sessions are revoked. */
  'passkey.deleted',
  /** A passkey revoked by an administrator; its sessions are revoked. */
  'passkey.revoked',
  /**
   * An account change (adding, renaming, deleting a passkey; deleting the account) refused
   * because the sign-in was older than REAUTH_MAX_AGE (`detail.change`, `signInAge`, `maxAge`).
   */
  'account.change_refused',
  /** Tokens issued by a grant other than refresh_token (`detail.grant`). */
  'token.issued',
  /** grant_type=refresh_token: the refresh token rotated, new access token. */
  'token.refreshed',
  /** A token request refused (`detail.error`), e.g. refresh-token reuse, which revokes the session. */
  'token.failed',
  /** RFC 7009 revocation: a session revoked by a client. */
  'token.revoked',
  /**
   * A session revoked from the session list: by its person (one, or all but the current) or by
   * an administrator (all of an account's); one event per session (`detail.reason`, `clientId`).
   */
  'session.revoked',
  /** A person approved an application on the hosted page with a passkey (`target.clientId`; `detail.scope`, `resource`, `registered`). */
  'consent.given',
  /** A person withdrew an application's approval; its sessions for them are revoked (`detail.sessionsRevoked`). */
  'consent.revoked',
  /** A role defined or redefined (`detail.permissions`). */
  'role.put',
  'role.deleted',
  'user.role_granted',
  'user.role_removed',
  /** An administrator disabled an account (`actor` the admin); its sessions are revoked. */
  'user.disabled',
  /** An administrator enabled a disabled account again. */
  'user.enabled',
  /** An administrator invited a person (`target.username`; `detail.invitationId`, `roles`, `expiresAt`). */
  'invitation.created',
  /** An invitation enrolled its person: the account made (`actor`/`target` the new user; `detail.invitationId`). */
  'invitation.used',
  /** An administrator revoked a pending invitation (`detail.invitationId`). */
  'invitation.revoked',
  /** An administrator issued a recovery link for an account (`detail.expiresAt`); it replaces the last one. */
  'recovery.issued',
  /** A recovery link added a passkey; every earlier session of the account was revoked. */
  'recovery.used',
  /** An account erased, by an administrator or its person (`detail.by`); its personal audit fields are shredded. */
  'user.deleted',
  /** An OAuth client registered (`target.clientId`). */
  'client.registered',
  /** A client's registration changed (`detail.changed`: the fields; `roles`, `scopes` when changed; never keys). */
  'client.changed',
  /** A client and its principal deleted; its tokens stop being accepted. */
  'client.deleted',
  /**
   * An agent asked to act for a person (OpenID CIBA, POST /api/oauth2/bc-authorize): `actor.clientId`
   * the agent, `target.userId` the person; `detail.requestId`, `scope`, `perAction`, `expiresIn`.
   */
  'delegation.requested',
  /** The person approved an agent's request with a passkey (`target.clientId` the agent, `credentialId`). */
  'delegation.approved',
  /** The person denied an agent's request (`target.clientId` the agent). */
  'delegation.denied',
  /** The person revoked a standing delegation (`target.clientId` the agent, `sessionId`). */
  'delegation.revoked',
  /** A signing key promoted (`target.kid`; `detail.previousKid`, `detail.reason`). */
  'key.rotated',
  /** A signing key revoked at once (compromise). */
  'key.revoked',
  /**
   * A signing key's private key wrapped again under the current KEY_ENCRYPTION_KEY during a change
   * of the KEK (`target.kid`; `detail.from`, `detail.to`: key ids, never keys).
   */
  'key.rewrapped',
] as const

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number]

/** Who acted. Ids and usernames only. */
export interface AuditActor {
  userId?: string
  username?: string
  clientId?: string
  /** A process acting on its own, e.g. `key-rotation-timer`. */
  system?: string
}

/** What was acted on. */
export interface AuditTarget {
  userId?: string
  username?: string
  credentialId?: string
  sessionId?: string
  role?: string
  clientId?: string
  kid?: string
}

/** Where the request came from (`auditContext(c)` fills these from the HTTP request). */
export interface AuditOrigin {
  ip?: string
  userAgent?: string
}

/** What a caller records. `outcome` defaults to 'success'. */
export interface AuditInput extends AuditOrigin {
  type: AuditEventType
  outcome?: 'success' | 'failure'
  actor?: AuditActor
  target?: AuditTarget
  /** JSON values that explain the event; never secrets. */
  detail?: Record<string, unknown>
}

/**
 * An event as `GET /api/manage/audit` shows it: the record with its id, time as ISO 8601, and its
 * personal fields decrypted (shared/audit/personal.ts `revealPersonal`): those whose key was
 * destroyed with their account are absent and named in `erased`, those that do not decrypt
 * (altered or moved) absent and named in `undecryptable`.
 */
export type AuditEventView = Omit<AuditEventRecord, 'at'> & {
  id: string
  time: string
  erased?: PersonalField[]
  undecryptable?: PersonalField[]
}

/**
 * The fields that hold a person's data, encrypted under their account's key (shared/audit/
 * personal.ts): named so in the encryption's additional data and in a view's `erased` list.
 */
export const PERSONAL_FIELDS = ['actor.username', 'target.username', 'ip', 'userAgent'] as const
export type PersonalField = (typeof PERSONAL_FIELDS)[number]

/** Width of the zero-padded sequence: ids and row keys sort like the numbers. */
export const AUDIT_ID_DIGITS = 16

/** The event id: its sequence number, zero-padded (also its row key). */
export const auditId = (seq: number): string => String(seq).padStart(AUDIT_ID_DIGITS, '0')

export function auditView(e: AuditEventRecord & { erased?: PersonalField[]; undecryptable?: PersonalField[] }): AuditEventView {
  const v: AuditEventView = {
    id: auditId(e.seq),
    seq: e.seq,
    time: new Date(e.at).toISOString(),
    type: e.type,
    outcome: e.outcome,
    actor: e.actor,
    target: e.target,
    detail: e.detail,
    prev: e.prev,
    hash: e.hash,
  }
  if (e.ip !== undefined) v.ip = e.ip
  if (e.userAgent !== undefined) v.userAgent = e.userAgent
  if (e.keyId !== undefined) v.keyId = e.keyId
  if (e.erased?.length) v.erased = e.erased
  if (e.undecryptable?.length) v.undecryptable = e.undecryptable
  return v
}

// ---------------------------------------------------------------------------------------------
// Sanitising: bounded sizes, no secrets.

const MAX_ID = 256
/** CONTRACT-independent bound: user agents are truncated to 256 characters. */
export const MAX_USER_AGENT = 256
const MAX_IP = 64
const MAX_DETAIL_STRING = 512
const MAX_DETAIL_ITEMS = 50
const MAX_DETAIL_DEPTH = 4
/** The whole detail, as JSON; an entity string property holds at most 32 Ki UTF-16 characters. */
const MAX_DETAIL_JSON = 8192

/** Detail keys that would name a secret: dropped whatever their value. */
const SECRET_KEY = /token|secret|assertion|attestation|signature|password|private|authorization|cookie|^jwks?$|^d$|^kek$/i
/**
 * A JWS/JWT (compact, header starting `ey`), our refresh token shape `<id>.<id>.<secret>`, or an
 * invitation or recovery token `<16-byte id>.<32-byte secret>` (shared/util/linkToken.ts; 66
 * characters, longer than any username).
 */
const TOKEN_SHAPE = /^(ey[\w-]+\.[\w-]+\.[\w-]*|[\w-]{8,}\.[\w-]{8,}\.[\w-]{20,}|[\w-]{22}\.[\w-]{43})$/
/** A link that carries an invitation or recovery token in its fragment (or query). */
const TOKEN_LINK = /[#?&](invitation|recovery)=/
export const REDACTED = '[redacted]'

const ACTOR_KEYS = ['userId', 'username', 'clientId', 'system'] as const
const TARGET_KEYS = ['userId', 'username', 'credentialId', 'sessionId', 'role', 'clientId', 'kid'] as const

function clip(v: string, max: number): string {
  return v.length > max ? v.slice(0, max) : v
}

/** A string value, unless it looks like a token: then `[redacted]`. */
function safeString(v: string, max: number): string {
  return TOKEN_SHAPE.test(v.trim()) || TOKEN_LINK.test(v) ? REDACTED : clip(v, max)
}

function pick(obj: object | undefined, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  if (!obj) return out
  for (const k of keys) {
    const v = (obj as Record<string, unknown>)[k]
    if (typeof v === 'string' && v !== '') out[k] = safeString(v, MAX_ID)
  }
  return out
}

function safeValue(v: unknown, depth: number): unknown {
  if (v === null || typeof v === 'boolean') return v
  if (typeof v === 'number') return Number.isFinite(v) ? v : null
  if (typeof v === 'string') return safeString(v, MAX_DETAIL_STRING)
  if (depth >= MAX_DETAIL_DEPTH) return undefined
  if (Array.isArray(v)) return v.slice(0, MAX_DETAIL_ITEMS).map((x) => safeValue(x, depth + 1) ?? null)
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v as Record<string, unknown>).slice(0, MAX_DETAIL_ITEMS)) {
      if (SECRET_KEY.test(k)) continue
      const s = safeValue(x, depth + 1)
      if (s !== undefined) out[clip(k, 64)] = s
    }
    return out
  }
  return undefined // functions, symbols, bigint, undefined
}

/**
 * The parts of an event that come from callers, bounded and cleaned: only known actor/target
 * keys; ip ≤ 64, user agent ≤ 256 characters; detail without secret-named keys, token-shaped
 * strings redacted, at most 8 KiB of JSON (else `{ truncated: true }`).
 *
 * @example
 * sanitizeAuditInput({ type: 'user.signed_in', detail: { refresh_token: 'x' } }).detail // {}
 */
export function sanitizeAuditInput(input: AuditInput): Omit<AuditEventRecord, 'seq' | 'at' | 'prev' | 'hash'> {
  if (!(AUDIT_EVENT_TYPES as readonly string[]).includes(input.type))
    throw new TypeError(`audit: unknown event type ${JSON.stringify(input.type)}`)
  let detail = (safeValue(input.detail ?? {}, 0) ?? {}) as Record<string, unknown>
  if (JSON.stringify(detail).length > MAX_DETAIL_JSON) detail = { truncated: true }
  const out: Omit<AuditEventRecord, 'seq' | 'at' | 'prev' | 'hash'> = {
    type: input.type,
    outcome: input.outcome === 'failure' ? 'failure' : 'success',
    actor: pick(input.actor, ACTOR_KEYS),
    target: pick(input.target, TARGET_KEYS),
    detail,
  }
  const ip = input.ip?.trim()
  if (ip) out.ip = clip(ip, MAX_IP)
  const ua = input.userAgent?.trim()
  if (ua) out.userAgent = clip(ua, MAX_USER_AGENT)
  return out
}
