/** Role definitions: partition 'roles' of `roles`, a few dozen rows read whole. */
import type { RoleStore } from '../types.js'
import { odata, type Calls } from './calls.js'
import { k, ROLES_PK } from './keys.js'
import { roleRow } from './rows.js'

export function roleVerbs(db: Calls): RoleStore {
  return {
    async listRoles() {
      return (await db.query('roles', odata`PartitionKey eq ${ROLES_PK}`)).map(roleRow.record)
    },

    async putRole(role) {
      const r = await db.attempt(() => db.t('roles').upsertEntity(roleRow.entity(role), 'Replace'))
      role.etag = r.value!.etag
    },

    async deleteRole(name) {
      const r = await db.attempt(() => db.t('roles').deleteEntity(ROLES_PK, k(name)), 404)
      return r.status === undefined
    },
  }
}
