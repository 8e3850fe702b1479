/**
 * Invitations: partition 'invitations' of `roles`, one row per invitation (keys.ts). Every verb is
 * a point operation or one partition query; expired rows are deleted by the housekeeping timer.
 */
import { ConcurrencyError, type InvitationStore } from '../types.js'
import { odata, type Calls } from './calls.js'
import { int64 } from './codec.js'
import { eachLimited } from './housekeeping.js'
import { INVITATIONS_PK, k } from './keys.js'
import { invitationRow } from './rows.js'

/** `sweepInvitations`: deletes in flight at once. */
const SWEEP_CONCURRENCY = 8

export function invitationVerbs(db: Calls): InvitationStore {
  return {
    async createInvitation(invitation) {
      const r = await db.attempt(() => db.t('roles').createEntity(invitationRow.entity(invitation)), 409)
      if (r.status !== undefined) throw new ConcurrencyError(`invitation ${invitation.id} exists`)
      invitation.etag = r.value.etag
    },

    async getInvitation(id) {
      const row = await db.getRow('roles', INVITATIONS_PK, k(id))
      return row && invitationRow.record(row)
    },

    async listInvitations() {
      return (await db.query('roles', odata`PartitionKey eq ${INVITATIONS_PK}`)).map(invitationRow.record)
    },

    async updateInvitation(invitation) {
      invitation.etag = await db.replace('roles', invitationRow.entity(invitation), invitation.etag, `invitation ${invitation.id}`)
    },

    async deleteInvitation(id) {
      const r = await db.attempt(() => db.t('roles').deleteEntity(INVITATIONS_PK, k(id)), 404)
      return r.status === undefined
    },

    async sweepInvitations({ before, max }) {
      const t = Math.trunc(before)
      if (!Number.isSafeInteger(t)) throw new TypeError(`sweepInvitations: before must be a time in ms, got ${before}`)
      const budget = Math.max(0, Math.trunc(max))
      if (budget === 0) return 0
      // Int64 literal with OData's `L` suffix, as sweepFilters explains; rows checked again here.
      const rows = await db.query('roles', odata`PartitionKey eq ${INVITATIONS_PK} and expiresAt lt ${t}L`, {
        limit: budget,
        select: ['PartitionKey', 'RowKey', 'expiresAt'],
        keep: (r) => Boolean(r.etag) && r.partitionKey === INVITATIONS_PK && int64.read(r.expiresAt) < t,
      })
      let deleted = 0
      await eachLimited(rows, SWEEP_CONCURRENCY, async (r) => {
        if (await db.deleteUnchanged('roles', r)) deleted++
      })
      return deleted
    },
  }
}
