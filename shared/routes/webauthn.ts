import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { ceremonyFailed, recordRegistration, recordSignIn } from '../audit/ceremonies.js'
import { authenticateUser, bearerToken } from '../middleware/bearer.js'
import { jsonBody } from '../middleware/body.js'
import { requireRecentSignIn } from '../middleware/reauth.js'
import { authenticationOptions, completeAuthentication } from '../webauthn/authentication.js'
import { completeRegistration, registrationOptions } from '../webauthn/registration.js'

const NO_STORE = { 'cache-control': 'no-store' }

/** /api/webauthn/* — CONTRACT "WebAuthn ceremonies". */
export function webauthnRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  r.post('/registration/options', async (c) => {
    const principal = bearerToken(c) !== undefined ? await authenticateUser(core, c) : undefined
    if (principal) await requireRecentSignIn(core, c, principal, 'passkey.add')
    const body = await jsonBody(c, { allowEmpty: principal !== undefined })
    return c.json(await registrationOptions(core, body, principal), 200, NO_STORE)
  })
  r.post('/registration/verify', async (c) => {
    const principal = bearerToken(c) !== undefined ? await authenticateUser(core, c) : undefined
    if (principal) await requireRecentSignIn(core, c, principal, 'passkey.add')
    const body = await jsonBody(c)
    const result = await completeRegistration(core, body, principal).catch(ceremonyFailed(core, c, 'registration', body))
    await recordRegistration(core, c, result, principal)
    return c.json(result, 201, NO_STORE)
  })
  r.post('/authentication/options', async (c) => {
    const body = await jsonBody(c, { allowEmpty: true })
    return c.json(await authenticationOptions(core, body), 200, NO_STORE)
  })
  r.post('/authentication/verify', async (c) => {
    const body = await jsonBody(c)
    const tokens = await completeAuthentication(core, body).catch(ceremonyFailed(core, c, 'authentication', body))
    await recordSignIn(core, c, body, tokens)
    return c.json(tokens, 200, { ...NO_STORE, pragma: 'no-cache' })
  })
  return r
}
