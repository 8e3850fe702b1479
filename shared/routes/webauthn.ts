import { Hono } from 'hono'
import type { AppEnv } from '../env.js'
import type { Core } from '../core.js'
import { register, signIn } from '../audit/audited.js'
import { requireBearer } from '../middleware/bearer.js'
import { validJson } from '../middleware/validate.js'
import {
  AuthenticationOptionsRequest,
  CeremonyBody,
  RegistrationOptionsRequest,
} from '../schemas/webauthn.js'
import { noStore } from '../middleware/noStore.js'
import { requireRecentSignIn } from '../middleware/reauth.js'
import { authenticationOptions } from '../webauthn/authentication.js'
import { registrationOptions } from '../webauthn/registration.js'

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
    return c.json(await register(core, c, c.req.valid('json'), c.var.principal), 201)
  })
  r.post('/authentication/options', noStore(), validJson(AuthenticationOptionsRequest, { allowEmpty: true }), async (c) => {
    return c.json(await authenticationOptions(core, c.req.valid('json')))
  })
  r.post('/authentication/verify', noStore({ pragma: true }), validJson(CeremonyBody), async (c) => {
    return c.json(await signIn(core, c, c.req.valid('json')))
  })
  return r
}
