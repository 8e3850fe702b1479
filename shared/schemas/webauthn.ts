/**
 * WebAuthn Level 3 JSON forms and the ceremony requests and results (CONTRACT "WebAuthn
 * ceremonies"). Request fields people choose (username, display name, label) are validated and
 * normalised here, once; the credential responses are checked by the ceremony itself after it has
 * consumed their challenge (shared/webauthn/shape.ts uses RegistrationResponseJSON and
 * AuthenticationResponseJSON below), so a malformed response still uses the challenge up.
 */
import * as v from 'valibot'
import { about, Base64URL, DateTime, described } from './common.js'

const USERNAME = /^[a-z0-9](?:[a-z0-9._@+-]{1,62})[a-z0-9]$/
// Control characters and bidi overrides have no place in names shown to people.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

/** The message of a missing username (also for the sign-up ceremony, where it is required). */
export const USERNAME_REQUIRED = 'username is required (a string)'
const USERNAME_RULE = 'username must be 3–64 characters: letters, digits and . _ @ + - (starting and ending with a letter or digit)'
/** Lower-cased, trimmed username of 3–64 of a-z 0-9 . _ @ + - (emails fit). */
export const Username = v.pipe(
  v.string(USERNAME_REQUIRED),
  v.trim(),
  v.toLowerCase(),
  v.regex(USERNAME, USERNAME_RULE),
)

/** Text shown to people: trimmed, NFC, at most `max` printable characters; absent, null or blank → undefined. */
export const text = (name: string, max = 64) =>
  v.pipe(
    v.nullish(
      v.pipe(
        v.string(`${name} must be a string`),
        v.metadata({ maxLength: max }),
        v.trim(),
        v.normalize('NFC'),
        v.check((s) => s.length <= max && !UNSAFE.test(s), `${name} must be at most ${max} printable characters`),
      ),
    ),
    v.transform((s) => s || undefined),
  )

/** OAuth scope (RFC 6749 §3.3): space-delimited scope-tokens, de-duplicated; absent or '' → undefined. */
const SCOPE_TOKENS = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/
const SCOPE_RULE = 'scope must be space-separated scope tokens'
export const Scope = described(
  v.pipe(
    v.nullish(v.pipe(v.string(SCOPE_RULE), v.check((s) => s === '' || (s.length <= 1024 && SCOPE_TOKENS.test(s)), SCOPE_RULE))),
    v.transform((s) => (s ? [...new Set(s.split(' '))].join(' ') : undefined)),
  ),
  'Space-separated scopes.',
)

export const AuthenticatorTransport = v.pipe(
  v.string(),
  v.description('WebAuthn AuthenticatorTransport; unknown values are kept as given.'),
  v.examples(['usb', 'nfc', 'ble', 'smart-card', 'hybrid', 'internal']),
)
export const UserVerificationRequirement = v.picklist(['required', 'preferred', 'discouraged'])
const PublicKey = v.picklist(['public-key'])
const Attachment = v.picklist(['platform', 'cross-platform'])
const Extensions = v.looseObject({})

export const PublicKeyCredentialDescriptorJSON = v.object({
  type: PublicKey,
  id: Base64URL,
  transports: v.optional(v.array(AuthenticatorTransport)),
})
export const PublicKeyCredentialRpEntity = v.object({ id: v.optional(v.string()), name: v.string() })
export const PublicKeyCredentialUserEntityJSON = v.object({
  id: about(Base64URL, 'User handle: the stable user id (the token `sub`).'),
  name: v.string(),
  displayName: v.string(),
})
export const PublicKeyCredentialParameters = v.object({
  type: PublicKey,
  alg: described(v.picklist([-7, -8, -257]), 'COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256.'),
})
export const AuthenticatorSelectionCriteria = v.object({
  authenticatorAttachment: v.optional(Attachment),
  residentKey: v.optional(v.picklist(['required', 'preferred', 'discouraged'])),
  requireResidentKey: v.optional(v.boolean()),
  userVerification: v.optional(UserVerificationRequirement),
})
const Milliseconds = described(v.pipe(v.number(), v.integer()), 'Milliseconds.')

export const PublicKeyCredentialCreationOptionsJSON = described(
  v.object({
    rp: PublicKeyCredentialRpEntity,
    user: PublicKeyCredentialUserEntityJSON,
    challenge: Base64URL,
    pubKeyCredParams: v.array(PublicKeyCredentialParameters),
    timeout: v.optional(Milliseconds),
    excludeCredentials: v.optional(described(v.array(PublicKeyCredentialDescriptorJSON), "The account's existing passkeys.")),
    authenticatorSelection: v.optional(AuthenticatorSelectionCriteria),
    hints: v.optional(v.array(v.string())),
    attestation: v.optional(v.picklist(['none', 'indirect', 'direct', 'enterprise'])),
    extensions: v.optional(Extensions),
  }),
  'Pass to `PublicKeyCredential.parseCreationOptionsFromJSON()` and `navigator.credentials.create()`.',
)
export const PublicKeyCredentialRequestOptionsJSON = described(
  v.object({
    challenge: Base64URL,
    timeout: v.optional(Milliseconds),
    rpId: v.optional(v.string()),
    allowCredentials: v.optional(v.array(PublicKeyCredentialDescriptorJSON)),
    userVerification: v.optional(UserVerificationRequirement),
    hints: v.optional(v.array(v.string())),
    extensions: v.optional(Extensions),
  }),
  'Pass to `PublicKeyCredential.parseRequestOptionsFromJSON()` and `navigator.credentials.get()`. ' +
    '`allowCredentials` is empty for usernameless / autofill sign-in.',
)

// --- The responses, with the ceremony's own messages (checked in this order) ----------------

/** WebAuthn §5.4.3 `user.id`: at most 64 bytes, so at most 86 base64url characters. */
export const MAX_USER_HANDLE_BYTES = 64
const MAX_USER_HANDLE_CHARS = Math.ceil((MAX_USER_HANDLE_BYTES * 4) / 3)
const B64 = /^[A-Za-z0-9_-]+$/
const b64 = (message: string) => v.pipe(v.string(message), v.regex(B64, message))

const credentialEntries = {
  id: v.pipe(b64('credential.id must be base64url (at most 1023 bytes)'), v.maxLength(1400, 'credential.id must be base64url (at most 1023 bytes)')),
  rawId: v.optional(Base64URL),
  type: v.picklist(['public-key'], 'credential.type must be "public-key"'),
  authenticatorAttachment: v.optional(v.unknown()),
  clientExtensionResults: v.optional(v.unknown()),
}
const RAW_ID = 'credential.rawId must equal credential.id'
const sameRawId = (c: { id: string; rawId?: string }) => c.rawId === undefined || c.rawId === c.id
const responseObject = (entries: v.ObjectEntries) => v.looseObject(entries, 'credential.response must be an object')
const clientDataJSON = b64('credential.response.clientDataJSON must be base64url')

const TRANSPORTS = 'credential.response.transports must be a list of strings'
export const AuthenticatorAttestationResponseJSON = responseObject({
  clientDataJSON,
  attestationObject: b64('credential.response.attestationObject must be base64url'),
  authenticatorData: v.optional(Base64URL),
  transports: v.optional(
    v.pipe(v.array(v.pipe(v.string(TRANSPORTS), v.maxLength(31, TRANSPORTS)), TRANSPORTS), v.maxLength(10, TRANSPORTS)),
  ),
  publicKeyAlgorithm: v.optional(v.number()),
  publicKey: v.optional(Base64URL),
})
export const RegistrationResponseJSON = described(
  v.pipe(
    v.looseObject({ ...credentialEntries, response: AuthenticatorAttestationResponseJSON }, 'credential must be an object (PublicKeyCredential.toJSON())'),
    v.check((c) => sameRawId(c), RAW_ID),
  ),
  'Exactly what `PublicKeyCredential.toJSON()` returns after `navigator.credentials.create()`.',
)

const USER_HANDLE = `credential.response.userHandle must be base64url of at most ${MAX_USER_HANDLE_BYTES} bytes (WebAuthn user.id)`
export const AuthenticatorAssertionResponseJSON = responseObject({
  clientDataJSON,
  authenticatorData: b64('credential.response.authenticatorData must be base64url'),
  signature: b64('credential.response.signature must be base64url'),
  // WebAuthn user.id is at most 64 bytes; a longer handle would only become a storage key.
  userHandle: v.nullish(
    v.pipe(
      v.string(USER_HANDLE),
      v.check((s) => s === '' || (B64.test(s) && s.length <= MAX_USER_HANDLE_CHARS && s.length % 4 !== 1), USER_HANDLE),
    ),
  ),
})
export const AuthenticationResponseJSON = described(
  v.pipe(
    v.looseObject({ ...credentialEntries, response: AuthenticatorAssertionResponseJSON }, 'credential must be an object (PublicKeyCredential.toJSON())'),
    v.check((c) => sameRawId(c), RAW_ID),
  ),
  'Exactly what `PublicKeyCredential.toJSON()` returns after `navigator.credentials.get()`.',
)

// --- Ceremony requests and results ------------------------------------------------------------

/** An invitation or recovery token as sent: any string (a wrong one is `invitation_invalid` / `recovery_invalid`). */
const LinkTokenInput = (name: string) =>
  v.optional(described(v.pipe(v.string(`${name} must be a string (the token of the link)`), v.maxLength(128, `${name} is not a token this service gave out`)), `The token from the link's \`#${name}=\`.`))

export const RegistrationOptionsRequest = described(
  v.object({
    username: v.optional(Username),
    displayName: text('displayName'),
    invitation: LinkTokenInput('invitation'),
    recovery: LinkTokenInput('recovery'),
  }),
  'Exactly one of: `username` (and optionally `displayName`) to sign up, when registration is open; `invitation` ' +
    '(also when it is closed; `displayName` is used when the invitation has none); `recovery` to add a passkey to the ' +
    "link's account without signing in. Or, to add a passkey to the signed-in account: a bearer token and `{}` " +
    '(an empty body is accepted). Combinations are refused (400).',
)
export const RegistrationVerifyRequest = v.object({
  credential: RegistrationResponseJSON,
  label: described(text('label'), 'Name of the passkey shown in self-service.'),
})
/** Sign-in's optional username: absent, null or '' means none (usernameless); anything else must be valid. */
const OptionalUsername = v.nullish(
  v.pipe(
    v.string(USERNAME_REQUIRED),
    v.check((raw) => raw === '' || USERNAME.test(raw.trim().toLowerCase()), USERNAME_RULE),
    v.trim(),
    v.toLowerCase(),
  ),
)
export const AuthenticationOptionsRequest = described(
  v.object({ username: OptionalUsername }),
  'Without `username`: discoverable credentials (usernameless and autofill sign-in).',
)
export const AuthenticationVerifyRequest = v.object({
  credential: AuthenticationResponseJSON,
  audience: v.optional(described(v.string('audience must be one of the configured audiences'), 'One of the configured audiences; default the first.')),
  scope: Scope,
})

/**
 * A request whose `credential` the handler checks itself, after matching its challenge (the route
 * validates the rest). Derived from the one schema, not restated.
 */
export function deferCredential<E extends v.ObjectEntries>(schema: v.ObjectSchema<E, undefined>) {
  return v.object({ ...schema.entries, credential: v.unknown() })
}

export const UserRef = v.object({ id: described(v.string(), 'Stable user id (the token `sub`).'), username: v.string() })

export const Credential = described(
  v.object({
    id: Base64URL,
    label: v.string(),
    createdAt: DateTime,
    lastUsedAt: v.nullable(DateTime),
    aaguid: v.pipe(v.string(), v.uuid()),
    backupEligible: v.boolean(),
    backedUp: v.boolean(),
    transports: v.array(AuthenticatorTransport),
    deviceBound: described(v.boolean(), 'Not backup-eligible: the key cannot leave the authenticator.'),
    authenticatorName: v.optional(described(v.string(), 'The authenticator model, when its AAGUID is a known one.')),
    authenticator: v.optional(
      described(
        v.object({
          name: described(v.string(), "The model's name in the FIDO metadata (metadataStatement.description)."),
          certified: described(v.boolean(), 'The model has a FIDO certification status in the metadata and this passkey came with a verified attestation (without one its AAGUID is only a claim).'),
          status: v.optional(described(v.string(), "The status of the model's latest status report in the metadata (e.g. FIDO_CERTIFIED_L1, REVOKED).")),
          refused: v.optional(described(v.literal(true), 'Present when that status refuses the model (REVOKED or a compromise): the passkey is refused at sign-in with authenticator_not_allowed.')),
          icon: v.optional(described(v.string(), "Path of the model's icon from the metadata, served by this service (GET /api/authenticators/{id}/icon), when it has one.")),
        }),
        'The authenticator model, when the FIDO metadata in use (METADATA_BLOB) knows its AAGUID.',
      ),
    ),
    flagged: v.optional(described(v.string(), 'Present when the passkey was flagged (e.g. counter regression) and is refused.')),
  }),
  'A passkey of an account.',
)
export const CredentialList = v.array(Credential)

/**
 * The body of a ceremony's verify call as the route passes it on: any JSON object. The ceremony
 * reads the challenge from it, consumes it, and only then parses the whole body with its schema
 * (RegistrationVerifyRequest, AuthenticationVerifyRequest), so a refused body of any kind still
 * uses its challenge up.
 */
export const CeremonyBody = v.record(v.string(), v.unknown())

/** What the ceremonies take: the validated bodies (credential still to be checked by the ceremony). */
export type RegistrationOptionsInput = v.InferOutput<typeof RegistrationOptionsRequest>
export type AuthenticationOptionsInput = v.InferOutput<typeof AuthenticationOptionsRequest>


export type CredentialView = v.InferOutput<typeof Credential>
export type CreationOptions = v.InferOutput<typeof PublicKeyCredentialCreationOptionsJSON>
export type RequestOptions = v.InferOutput<typeof PublicKeyCredentialRequestOptionsJSON>
