/**
 * The Store on Azure Table Storage (or Azurite). Its client.ts and calls.ts are the only files in
 * shared/ that import @azure/* (verb files get `odata` and the SDK types from calls.ts).
 *
 * Layout and the round trips of every verb: docs/storage.md. In short, one `users` partition per
 * user holds the user row (`acct`), its credentials (`acct:cred:<id>`) and its sessions
 * (`sess:<id>`), so sign-in work is point reads and single-partition transactions; global
 * uniqueness (usernames, credential ids) and single use (challenges) come from `createEntity`
 * (409 when the key exists) and `deleteEntity` (404 when it is gone) in small index tables.
 *
 * Failure model: 404/409/412 are answers and become `undefined`, `false`, `UniquenessError` or
 * `ConcurrencyError`; anything else (refused connection, timeout, 5xx, 429, auth failure) throws
 * `StorageUnavailableError` with the original error as `cause` (calls.ts). Requests are bounded
 * (2 s per try, 3 s in all) and only retried when a retry cannot apply a write twice (client.ts).
 *
 * Files: client.ts (Table clients, HTTP pipeline), calls.ts (SDK calls, failure model), keys.ts
 * (key escaping, row keys), codec.ts and rows.ts (each record's columns, declared once), then one
 * file per aggregate.
 */
import { composeStore } from '../compose.js'
import type { Store } from '../types.js'
import { accountDeletionVerbs } from './accountDeletion.js'
import { accountVerbs } from './accounts.js'
import { auditVerbs } from './audit.js'
import { backchannelVerbs } from './backchannel.js'
import { createCalls } from './calls.js'
import { challengeVerbs } from './challenges.js'
import { makeClients, type TablesStoreOptions } from './client.js'
import { clientVerbs } from './clients.js'
import { credentialRemovalVerbs } from './credentialRemoval.js'
import { housekeepingVerbs } from './housekeeping.js'
import { invitationVerbs } from './invitations.js'
import { metadataVerbs } from './metadata.js'
import { recoveryVerbs } from './recovery.js'
import { consentVerbs } from './consents.js'
import { roleVerbs } from './roles.js'
import { sessionVerbs } from './sessions.js'
import { signingKeyVerbs } from './signingKeys.js'
import { userVerbs } from './users.js'

export { TABLE_NAMES, type StorageRequest, type TableName, type TablesStoreOptions } from './client.js'
export { STALE_CLAIM_MS } from './claims.js'
export { sweepFilters } from './housekeeping.js'

/**
 * Creates the Table Storage store. Nothing is sent until the first call; `init()` creates tables.
 *
 * @example
 * const store = createTablesStore({ config, onRequest: (r) => trips.push(r) })
 * await store.init()
 */
export function createTablesStore(opts: TablesStoreOptions): Store {
  const db = createCalls(makeClients(opts))
  return composeStore({
    housekeeping: housekeepingVerbs(db),
    challenges: challengeVerbs(db),
    // Taking a passkey out of use (credentialRemoval.ts), disabling and listing accounts (users.ts),
    // personal-data keys and deleting accounts (accountDeletion.ts): files of their own.
    accounts: { ...accountVerbs(db), ...credentialRemovalVerbs(db), ...userVerbs(db), ...accountDeletionVerbs(db) },
    sessions: sessionVerbs(db),
    roles: roleVerbs(db),
    audit: auditVerbs(db),
    signingKeys: signingKeyVerbs(db),
    clients: clientVerbs(db),
    backchannel: backchannelVerbs(db),
    invitations: invitationVerbs(db),
    recovery: recoveryVerbs(db),
    metadata: metadataVerbs(db),
    consents: consentVerbs(db),
  })
}
