import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { deleteAccount } from '../account/deletion.js'
import { accountOf, deletePasskey, listPasskeys, renamePasskey } from '../account/passkeys.js'
import { auditContext } from '../audit/context.js'
import { requireBearer } from '../middleware/bearer.js'
import { noStore } from '../middleware/noStore.js'
import { requireRecentSignIn } from '../middleware/reauth.js'
import { validJson } from '../middleware/validate.js'
import { CredentialLabelUpdate } from '../schemas/account.js'
import { credentialView, credentialViews } from '../webauthn/credentialView.js'

/** /api/me* — CONTRACT "Account self-service". */
export function meRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  const person = requireBearer(core, { firstParty: true })

  r.get('/', person, noStore(), async (c) => {
    const { user } = await accountOf(core, c.var.principal.userId)
    return c.json({ id: user.id, username: user.username, displayName: user.displayName, roles: user.roles, ...(user.disabledAt !== undefined ? { disabled: true } : {}) })
  })

  // CONTRACT v2 "Disabling and deleting accounts": the account's own token, signed in recently.
  r.delete('/', person, requireRecentSignIn(core, 'account.delete'), async (c) => {
    await deleteAccount(core, { userId: c.var.principal.userId, by: 'self', from: auditContext(c) })
    return c.body(null, 204)
  })

  r.get('/credentials', person, noStore(), async (c) => c.json(await credentialViews(core.metadata, await listPasskeys(core, c.var.principal.userId))))

  r.patch('/credentials/:id', person, requireRecentSignIn(core, 'passkey.rename'), noStore(), validJson(CredentialLabelUpdate), async (c) => {
    const { label } = c.req.valid('json')
    const cred = await renamePasskey(core, { userId: c.var.principal.userId, credentialId: c.req.param('id'), label, from: auditContext(c) })
    return c.json(credentialView(cred, await core.metadata.lookupCredential(cred)))
  })

  r.delete('/credentials/:id', person, requireRecentSignIn(core, 'passkey.delete'), async (c) => {
    await deletePasskey(core, { userId: c.var.principal.userId, credentialId: c.req.param('id'), from: auditContext(c) })
    return c.body(null, 204)
  })

  return r
}
