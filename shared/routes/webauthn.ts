import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { ceremonyFailed, recordRegistration, recordSignIn } from '../audit/ceremonies.js'
import { requireBearer } from '../middleware/bearer.js'
import { jsonBody } from '../middleware/body.js'
import { noStore } from '../middleware/noStore.js'
import { requireRecentSignIn } from '../middleware/reauth.js'
import { authenticationOptions, completeAuthentication } from '../webauthn/authentication.js'
import { completeRegistration, registrationOptions } from '../webauthn/registration.js'

/** /api/webauthn/* — CONTRACT "WebAuthn ceremonies". */
export function webauthnRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  // Registration with a bearer adds a passkey to that account (a recent sign-in required); without
  // one it is a sign-up.
  const signedInOrNot = [requireBearer(core, { firstParty: true, optional: true }), requireRecentSignIn(core, 'passkey.add'), noStore()] as const
  r.post('/registration/options', ...signedInOrNot, async (c) => {
    const principal = c.var.principal
    const body = await jsonBody(c, { allowEmpty: principal !== undefined })
    return c.json(await registrationOptions(core, body, principal))
  })
  r.post('/registration/verify', ...signedInOrNot, async (c) => {
    const principal = c.var.principal
    const body = await jsonBody(c)
    const result = await completeRegistration(core, body, principal).catch(ceremonyFailed(core, c, 'registration', body))
    await recordRegistration(core, c, result, principal)
    return c.json(result, 201)
  })
  r.post('/authentication/options', noStore(), async (c) => {
    const body = await jsonBody(c, { allowEmpty: true })
    return c.json(await authenticationOptions(core, body))
  })
  r.post('/authentication/verify', noStore({ pragma: true }), async (c) => {
    const body = await jsonBody(c)
    const tokens = await completeAuthentication(core, body).catch(ceremonyFailed(core, c, 'authentication', body))
    await recordSignIn(core, c, body, tokens)
    return c.json(tokens)
  })
  return r
}
