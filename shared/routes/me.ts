import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { auditContext } from '../audit/context.js'
import { ServiceError } from '../errors.js'
import { authenticateUser } from '../middleware/bearer.js'
import { jsonBody } from '../middleware/body.js'
import { requireRecentSignIn } from '../middleware/reauth.js'
import { ConcurrencyError, LastCredentialError } from '../store/types.js'
import { parseText } from '../webauthn/input.js'
import { credentialView } from '../webauthn/policy.js'
import { isKeyId } from '../util/base64url.js'

const NO_STORE = { 'cache-control': 'no-store' }

/** /api/me* — CONTRACT "Account self-service". */
export function meRoutes(core: Core) {
  const { store } = core
  const r = new Hono<AppEnv>()

  const account = async (userId: string) => {
    const a = await store.getAccount(userId)
    if (!a) throw new ServiceError('unauthorized', 'The account of this token no longer exists')
    return a
  }

  r.get('/', async (c) => {
    const p = await authenticateUser(core, c)
    const { user } = await account(p.userId)
    return c.json({ id: user.id, username: user.username, displayName: user.displayName, roles: user.roles }, 200, NO_STORE)
  })

  r.get('/credentials', async (c) => {
    const p = await authenticateUser(core, c)
    const { credentials } = await account(p.userId)
    const list = credentials.sort((a, b) => a.createdAt - b.createdAt).map(credentialView)
    return c.json(list, 200, NO_STORE)
  })

  r.patch('/credentials/:id', async (c) => {
    const p = await authenticateUser(core, c)
    await requireRecentSignIn(core, c, p, 'passkey.rename')
    const body = await jsonBody(c)
    const label = parseText(body.label, 'label')
    if (!label) throw new ServiceError('invalid_request', 'label is required')
    for (let attempt = 0; ; attempt++) {
      const id = c.req.param('id')
      const cred = isKeyId(id) ? await store.getCredential(p.userId, id) : undefined
      if (!cred) throw new ServiceError('not_found', 'No such passkey on this account')
      const updated = { ...cred, label }
      try {
        await store.updateCredential(updated)
        await core.audit.record({ ...auditContext(c), type: 'passkey.renamed', actor: { userId: p.userId }, target: { userId: p.userId, credentialId: cred.id }, detail: { from: cred.label, to: label } })
        return c.json(credentialView(updated), 200, NO_STORE)
      } catch (e) {
        if (!(e instanceof ConcurrencyError) || attempt >= 2) throw e
      }
    }
  })

  r.delete('/credentials/:id', async (c) => {
    const p = await authenticateUser(core, c)
    await requireRecentSignIn(core, c, p, 'passkey.delete')
    const id = c.req.param('id')
    if (!isKeyId(id)) throw new ServiceError('not_found', 'No such passkey on this account')
    // The last-passkey guard and the delete are one atomic step in the store (concurrent
    // deletions can never leave the account without a usable passkey).
    let deleted: boolean
    try {
      deleted = await store.deleteCredential(p.userId, id, 'passkey deleted', { keepUsable: true })
    } catch (e) {
      if (e instanceof LastCredentialError)
        throw new ServiceError('last_credential', 'This is the last passkey of the account; add another before deleting it')
      if (e instanceof ConcurrencyError) throw new ServiceError('conflict', 'The passkeys of this account changed meanwhile; retry')
      throw e
    }
    if (!deleted) throw new ServiceError('not_found', 'No such passkey on this account')
    core.authz.forgetUser(p.userId)
    await core.audit.record({ ...auditContext(c), type: 'passkey.deleted', actor: { userId: p.userId }, target: { userId: p.userId, credentialId: id } })
    return c.body(null, 204)
  })

  return r
}
