import { Hono } from 'hono'
import type { AppEnv } from '../app.js'
import type { Core } from '../core.js'
import { authenticate, bearerToken } from '../middleware/bearer.js'
import { jsonBody } from '../middleware/body.js'
import { authenticationOptions, completeAuthentication } from '../webauthn/authentication.js'
import { completeRegistration, registrationOptions } from '../webauthn/registration.js'

const NO_STORE = { 'cache-control': 'no-store' }

/** /api/webauthn/* — CONTRACT "WebAuthn ceremonies". */
export function webauthnRoutes(core: Core) {
  const r = new Hono<AppEnv>()
  r.post('/registration/options', async (c) => {
    const principal = bearerToken(c) !== undefined ? await authenticate(core, c) : undefined
    const body = await jsonBody(c, { allowEmpty: principal !== undefined })
    return c.json(await registrationOptions(core, body, principal), 200, NO_STORE)
  })
  r.post('/registration/verify', async (c) => {
    const principal = bearerToken(c) !== undefined ? await authenticate(core, c) : undefined
    const body = await jsonBody(c)
    return c.json(await completeRegistration(core, body, principal), 201, NO_STORE)
  })
  r.post('/authentication/options', async (c) => {
    const body = await jsonBody(c, { allowEmpty: true })
    return c.json(await authenticationOptions(core, body), 200, NO_STORE)
  })
  r.post('/authentication/verify', async (c) => {
    const body = await jsonBody(c)
    return c.json(await completeAuthentication(core, body), 200, { ...NO_STORE, pragma: 'no-cache' })
  })
  return r
}
