/**
 * The service's parts, wired once: settings, store, clock, challenges, key ring, tokens, sessions.
 * Routes receive this object; nothing here depends on the runtime.
 */
import type { Config } from './config.js'
import { deriveKey, deriveRotatingKey, type KeyPurpose, type SealKey, type VersionedKey } from './crypto/kek.js'
import type { Store } from './store/types.js'
import { AccessTokens } from './tokens/accessToken.js'
import { KeyRing } from './tokens/keyRing.js'
import { Sessions } from './tokens/sessions.js'
import type { Clock } from './util/clock.js'
import { Challenges } from './webauthn/challenges.js'
import { webauthnLib } from './webauthn/lib.js'
import { Authorizer } from './authz/decide.js'
import { AuditLog } from './audit/log.js'
import { PersonalDataKeys } from './audit/personal.js'
import { noTelemetry, type Telemetry } from './telemetry.js'
import { AuthenticatorMetadata, type ReadMetadataBlob } from './webauthn/metadata.js'
import { ClientMetadataDocuments, type ClientMetadataFetcherFactory } from './oauth/clientMetadata.js'
import { DPoPVerifier } from './oauth/dpop.js'

/**
 * (jkt, jti) pairs each instance remembers for DPoP replay detection, at the token endpoint and
 * sign-in, and at resources (docs/dpop.md "The replay window"): 8-byte hashes in tables at most
 * half full, 40 MB in all once both are full, allocated on first use. A generation of the
 * resource cache holds 1 000 000 pairs: about 2 400 proofs a second keep every pair for the whole
 * 7-minute window; above that, generations are dropped early and only proofs not newer than a
 * dropped one are refused (ReplayCache), so fresh proofs are accepted at any rate.
 */
const DPOP_REPLAY_CACHE_SIZE = { token: 500_000, resource: 2_000_000 }

export interface Core {
  config: Config
  store: Store
  clock: Clock
  challenges: Challenges
  keyRing: KeyRing
  tokens: AccessTokens
  sessions: Sessions
  authz: Authorizer
  /** HMAC key for decoy values shown for unknown usernames. */
  enumerationKey: Promise<CryptoKey>
  /** The hash-chained audit log (shared/audit/log.ts, docs/audit.md). */
  audit: AuditLog
  /** Each account's personal-data key, which encrypts its audit fields (shared/audit/personal.ts). */
  personal: PersonalDataKeys
  /** Seals OAuth authorization request handles and codes (shared/oauth/seal.ts). */
  oauthKey: Promise<SealKey>
  /** Spans and metrics (shared/telemetry.ts): the no-op unless APPLICATIONINSIGHTS_CONNECTION_STRING is set. */
  telemetry: Telemetry
  /** The FIDO metadata in use (METADATA_BLOB, CONTRACT "Authenticator trust"): the last good BLOB. */
  metadata: AuthenticatorMetadata
  /** Client ID metadata documents (shared/oauth/clientMetadata.ts); absent: not supported. */
  clientMetadata?: ClientMetadataDocuments
  /** DPoP proofs (RFC 9449, shared/oauth/dpop.ts): two replay caches per instance (token endpoint, resources). */
  dpop: DPoPVerifier
}

/** Attestation formats whose roots ATTESTATION_ROOTS supplies (Apple's and Google's are built in). */
const ROOTED_FORMATS = ['packed', 'fido-u2f', 'tpm'] as const

export function createCore({
  config,
  store,
  clock,
  telemetry = noTelemetry,
  readMetadataBlob,
  clientMetadataFetcher,
  log = (line) => console.log(line),
}: {
  config: Config
  store: Store
  clock: Clock
  telemetry?: Telemetry
  /** Reads METADATA_BLOB (a file needs the runtime's reader; default: https only). */
  readMetadataBlob?: ReadMetadataBlob
  /** Makes the client ID metadata document fetcher; private addresses only in local development. */
  clientMetadataFetcher?: ClientMetadataFetcherFactory
  /** The service's log lines (metadata ignored or taken). */
  log?: (line: string) => void
}): Core {
  // @simplewebauthn/server keeps trusted roots process-wide: set them once, only when configured.
  // Set once the library is loaded (webauthn/lib.ts): this reaction runs before any ceremony's.
  if (config.attestationRoots.length)
    void webauthnLib().then(({ lib }) => {
      for (const identifier of ROOTED_FORMATS)
        lib.SettingsService.setRootCertificates({ identifier, certificates: [...config.attestationRoots] })
    }, () => {}) // a library that cannot load fails every ceremony by itself
  const kek = config.keyEncryptionKey
  if (!kek) throw new TypeError('Setting KEY_ENCRYPTION_KEY is missing (the local server generates one under .azurite/)')
  // Every key comes with its KEK's key id, and with KEY_ENCRYPTION_KEY_PREVIOUS's key too while
  // the KEK is being changed (docs/security.md "Changing KEY_ENCRYPTION_KEY").
  const rotating = (purpose: KeyPurpose) => deriveRotatingKey(kek, config.keyEncryptionKeyPrevious, purpose)
  const challenges = new Challenges({
    key: rotating('challenge-seal-v1'),
    store,
    clock,
    ttlSeconds: config.challengeTtl,
  })
  const keyRing = new KeyRing({ store, config, clock, wrapKey: rotating('signing-key-wrap-v1') })
  const tokens = new AccessTokens({ config, keyRing, clock })
  const dpop = new DPoPVerifier({ clock, nonceKey: deriveKey(kek, 'dpop-nonce-v1'), nonceRequired: config.dpopNonce === 'required', replayCacheSize: DPOP_REPLAY_CACHE_SIZE })
  const authz = new Authorizer({ config, store, clock, accessTokens: tokens, keyRing, dpop })
  const sessions = new Sessions({ config, store, clock, tokens, onRevoke: (userId) => authz.forgetUser(userId) })
  // Wrapped like the signing keys: opened with either KEK during a change, re-wrapped when read.
  const personal = new PersonalDataKeys({ store, clock, wrapKey: rotating('audit-pd-wrap-v1') })
  return {
    config,
    store,
    clock,
    challenges,
    keyRing,
    tokens,
    sessions,
    authz,
    // Always the current KEK's: decoys change with it (docs/security.md "Changing KEY_ENCRYPTION_KEY").
    enumerationKey: deriveKey(kek, 'user-enumeration-v1'),
    dpop,
    // The current KEK's only: the chain's events record its key id (previous events keep theirs).
    audit: new AuditLog({
      store,
      clock,
      key: rotating('audit-chain-v1').then((k): VersionedKey => k.current),
      ready: () => keyRing.signingKey().then(() => undefined),
      personal,
    }),
    personal,
    oauthKey: rotating('oauth-seal-v1'),
    telemetry,
    metadata: new AuthenticatorMetadata({ config, clock, read: readMetadataBlob, log, store }),
    ...(clientMetadataFetcher
      ? {
          clientMetadata: new ClientMetadataDocuments({
            config,
            clock,
            // Local development (RP_ID localhost on a developer machine): documents on loopback.
            fetch: clientMetadataFetcher({ allowPrivateAddresses: config.local && config.rpId === 'localhost' }),
          }),
        }
      : {}),
  }
}
