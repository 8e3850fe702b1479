/** The signing key ring: partition 'keys' of `signingkeys`, so a rotation step is one transaction. */
import { ConcurrencyError, type SigningKeyStore } from '../types.js'
import { MAX_TX_OPS, odata, transactionError, type Calls, type TransactionAction } from './calls.js'
import { KEYS_PK } from './keys.js'
import { signingKeyRow } from './rows.js'

export function signingKeyVerbs(db: Calls): SigningKeyStore {
  return {
    async listSigningKeys() {
      return (await db.query('signingkeys', odata`PartitionKey eq ${KEYS_PK}`)).map(signingKeyRow.record)
    },

    async createSigningKey(key) {
      const r = await db.attempt(() => db.t('signingkeys').createEntity(signingKeyRow.entity(key)), 409)
      if (r.status !== undefined) throw new ConcurrencyError(`signing key ${key.kid} exists`)
      key.etag = r.value.etag
    },

    async updateSigningKey(key) {
      key.etag = await db.replace('signingkeys', signingKeyRow.entity(key), key.etag, `signing key ${key.kid}`)
    },

    async commitSigningKeys(keys) {
      if (keys.length === 0) return
      if (keys.length > MAX_TX_OPS || new Set(keys.map((k) => k.kid)).size !== keys.length)
        throw new TypeError(`commitSigningKeys: at most ${MAX_TX_OPS} keys, each kid once`)
      // All rows are in partition 'keys': one entity group transaction.
      const actions: TransactionAction[] = keys.map((key) =>
        key.etag
          ? ['update', signingKeyRow.entity(key), 'Replace', { etag: key.etag }]
          : ['create', signingKeyRow.entity(key)],
      )
      let etags: (string | undefined)[]
      try {
        etags = await db.transact('signingkeys', actions)
      } catch (err) {
        const lost = `signing keys ${keys.map((k) => k.kid).join(', ')}`
        throw transactionError(err, { 404: lost, 409: lost, 412: lost })
      }
      etags.forEach((etag, i) => (keys[i]!.etag = etag))
    },
  }
}
