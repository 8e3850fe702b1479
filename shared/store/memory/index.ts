/**
 * The Store in memory, for unit tests and the HTTP tests: the same semantics as the Table store
 * (etags, ConcurrencyError, UniquenessError, single-use challenges), with each verb atomic. Web
 * APIs only. One file per aggregate, like tables/.
 *
 * Tests make storage fail with `store.down = true` (every call throws StorageUnavailableError
 * until reset) or `store.failNext('recordSignIn')` (the next call of that verb, or of any verb,
 * throws). A failing call changes nothing.
 */
import { StorageUnavailableError } from '../../errors.js'
import { composeStore } from '../compose.js'
import type { Store } from '../types.js'
import { accountDeletionVerbs } from './accountDeletion.js'
import { accountVerbs } from './accounts.js'
import { auditVerbs } from './audit.js'
import { backchannelVerbs } from './backchannel.js'
import { challengeVerbs } from './challenges.js'
import { clientVerbs } from './clients.js'
import { housekeepingVerbs } from './housekeeping.js'
import { invitationVerbs } from './invitations.js'
import { metadataVerbs } from './metadata.js'
import { recoveryVerbs } from './recovery.js'
import { consentVerbs } from './consents.js'
import { roleVerbs } from './roles.js'
import { sessionVerbs } from './sessions.js'
import { signingKeyVerbs } from './signingKeys.js'
import { userVerbs } from './users.js'
import { createState } from './state.js'

export type StoreVerb = keyof Store

export interface MemoryStore extends Store {
  /** While true, every call throws StorageUnavailableError and changes nothing. */
  down: boolean
  /** The next call of `verb` (of any verb when omitted) throws StorageUnavailableError. */
  failNext(verb?: StoreVerb): void
  /** Calls per verb since creation (tests can assert on how often storage was asked). */
  readonly calls: Partial<Record<StoreVerb, number>>
  /**
   * When set, `sweepExpired` waits for it between reading the expired rows and deleting them,
   * as another writer can act between the Table store's query and its etag-guarded deletes.
   */
  beforeSweepDeletes?: () => Promise<void>
}

/**
 * @example
 * const store = createMemoryStore()
 * store.down = true // → every route that needs storage answers 503 storage_unavailable
 */
export function createMemoryStore(): MemoryStore {
  const state = createState()
  const pending: (StoreVerb | undefined)[] = []
  const calls: Partial<Record<StoreVerb, number>> = {}
  const verbs = composeStore({
    housekeeping: housekeepingVerbs(state, () => store),
    challenges: challengeVerbs(state),
    accounts: { ...accountVerbs(state), ...userVerbs(state), ...accountDeletionVerbs(state) },
    sessions: sessionVerbs(state),
    roles: roleVerbs(state),
    audit: auditVerbs(state),
    signingKeys: signingKeyVerbs(state),
    clients: clientVerbs(state),
    backchannel: backchannelVerbs(state),
    invitations: invitationVerbs(state),
    recovery: recoveryVerbs(state),
    metadata: metadataVerbs(state),
    consents: consentVerbs(state),
  })
  const store: MemoryStore = {
    ...verbs,
    down: false,
    calls,
    failNext(verb) {
      pending.push(verb)
    },
  }

  // Every verb: count it, fail it when asked (before touching anything), then run it atomically.
  for (const verb of Object.keys(verbs) as StoreVerb[]) {
    const impl = verbs[verb] as (...args: unknown[]) => Promise<unknown>
    ;(store as unknown as Record<string, unknown>)[verb] = async (...args: unknown[]) => {
      calls[verb] = (calls[verb] ?? 0) + 1
      await Promise.resolve() // asynchronous like the real store; the body itself is atomic
      const i = pending.findIndex((v) => v === undefined || v === verb)
      if (store.down || i !== -1) {
        if (i !== -1) pending.splice(i, 1)
        throw new StorageUnavailableError(new Error(`memory store: ${verb} failed on purpose`))
      }
      return impl(...args)
    }
  }
  return store
}
