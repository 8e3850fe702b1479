/**
 * Both stores (memory/ and tables/) are built the same way: one part per aggregate of `Store`,
 * put together here, so adding an aggregate to `Store` fails to compile in both until each has
 * its part.
 */
import type {
  AccountStore,
  AuditStore,
  BackchannelStore,
  ChallengeStore,
  ClientStore,
  Housekeeping,
  InvitationStore,
  MetadataStore,
  RecoveryStore,
  ConsentStore,
  RoleStore,
  SessionStore,
  SigningKeyStore,
  Store,
} from './types.js'

/** One implementation's parts, by aggregate. */
export interface StoreParts {
  housekeeping: Housekeeping
  challenges: ChallengeStore
  accounts: AccountStore
  sessions: SessionStore
  roles: RoleStore
  audit: AuditStore
  signingKeys: SigningKeyStore
  clients: ClientStore
  backchannel: BackchannelStore
  invitations: InvitationStore
  recovery: RecoveryStore
  metadata: MetadataStore
  consents: ConsentStore
}

/**
 * The Store made of its parts (each part's verbs, as they are).
 *
 * @example
 * const store = composeStore({ housekeeping: housekeepingVerbs(db), challenges: challengeVerbs(db), … })
 */
export function composeStore(parts: StoreParts): Store {
  return {
    ...parts.housekeeping,
    ...parts.challenges,
    ...parts.accounts,
    ...parts.sessions,
    ...parts.roles,
    ...parts.audit,
    ...parts.signingKeys,
    ...parts.clients,
    ...parts.backchannel,
    ...parts.invitations,
    ...parts.recovery,
    ...parts.metadata,
    ...parts.consents,
  }
}
