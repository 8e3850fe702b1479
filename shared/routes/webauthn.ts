import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { ceremonyFailed, recordRegistration, recordSignIn } from '../audit/ceremonies.js'
import { requireBearer } from '../middleware/bearer.js'
import { validJson } from '../middleware/validate.js'
import {
  AuthenticationOptionsRequest,
  CeremonyBody,
  RegistrationOptionsRequest,
} from '../schemas/webauthn.js'
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
  // Adding a passkey may send no body at all (CONTRACT: `{}` or empty).
  const addOrSignUp = validJson(RegistrationOptionsRequest, { allowEmpty: (c) => c.var.principal !== undefined })
  r.post('/registration/options', ...signedInOrNot, addOrSignUp, async (c) => {
    return c.json(await registrationOptions(core, c.req.valid('json'), c.var.principal))
  })
  r.post('/registration/verify', ...signedInOrNot, validJson(CeremonyBody), async (c) => {
    const principal = c.var.principal
    const body = c.req.valid('json')
    const result = await completeRegistration(core, body, principal).catch(ceremonyFailed(core, c, 'registration', body))
    await recordRegistration(core, c, result, principal)
    return c.json(result, 201)
  })
  r.post('/authentication/options', noStore(), validJson(AuthenticationOptionsRequest, { allowEmpty: true }), async (c) => {
    return c.json(await authenticationOptions(core, c.req.valid('json')))
  })
  r.post('/authentication/verify', noStore({ pragma: true }), validJson(CeremonyBody), async (c) => {
    const body = c.req.valid('json')
    const tokens = await completeAuthentication(core, body).catch(ceremonyFailed(core, c, 'authentication', body))
    await recordSignIn(core, c, body, tokens)
    return c.json(tokens)
  })
  return r
}
