/**
 * Access tokens: JWTs per RFC 9068 (`typ: at+jwt`), signed with the key ring's active key.
 * Verification accepts only our own published keys, each bound to its own algorithm, so `none`,
 * HMAC and algorithm substitution are refused before any signature math.
 */
import { SignJWT, errors as joseErrors, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose'
import type { Config } from '../config.js'
import type { Clock } from '../util/clock.js'
import { seconds } from '../util/clock.js'
import { randomId } from '../util/random.js'
import type { KeyRing } from './keyRing.js'

export interface AccessTokenClaims extends JWTPayload {
  iss: string
  sub: string
  aud: string
  exp: number
  iat: number
  jti: string
  client_id: string
  scope: string
  /** auth_time, amr and acr: absent from machine clients' tokens (client_credentials). */
  auth_time: number
  amr: string[]
  acr: string
  roles: string[]
  sid: string
  /** RFC 9449 §6.1: the DPoP key the token is bound to (RFC 7638 thumbprint). */
  cnf?: { jkt: string }
}

/**
 * What `sign` is given. Tokens of machine clients (client_credentials) have no end-user
 * authentication event, so `auth_time`, `amr` and `acr` are left out (RFC 9068 §2.2.1); for
 * every other token they are present.
 */
export type SignableClaims = Omit<AccessTokenClaims, 'iss' | 'exp' | 'iat' | 'jti' | 'auth_time' | 'amr' | 'acr'> &
  Partial<Pick<AccessTokenClaims, 'auth_time' | 'amr' | 'acr'>>

/** Only asymmetric algorithms we sign with (CONTRACT "Tokens"); never none or HS*. */
export const VERIFY_ALGS = ['RS256', 'PS256', 'ES256'] as const

/** Small allowance for clock differences between instances (seconds). */
export const CLOCK_SKEW = 30

export class AccessTokens {
  constructor(private readonly deps: { config: Config; keyRing: KeyRing; clock: Clock }) {}

  /**
   * @example
   * const { token, expiresIn } = await tokens.sign({ sub, aud, client_id, scope, auth_time, amr, acr, roles, sid })
   */
  async sign(claims: SignableClaims): Promise<{ token: string; expiresIn: number; exp: number }> {
    const { config, keyRing, clock } = this.deps
    const key = await keyRing.signingKey()
    const iat = seconds(clock.now())
    const exp = iat + config.accessTokenTtl
    const token = await new SignJWT({ ...claims, jti: randomId(16) })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(config.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key.privateKey)
    return { token, expiresIn: config.accessTokenTtl, exp }
  }

  /**
   * Signs an OpenID Connect ID token (Core §2): `aud` is the client; `nonce` (Core §3.1.2.1) and
   * `at_hash` (Core §3.1.3.6) when given, `sid` (Front-Channel Logout §3) the session.
   */
  async signIdToken(claims: { sub: string; aud: string; auth_time: number; amr: string[]; acr: string; nonce?: string; username?: string; at_hash?: string; sid?: string }): Promise<string> {
    const { config, keyRing, clock } = this.deps
    const key = await keyRing.signingKey()
    const iat = seconds(clock.now())
    const { username, ...rest } = claims
    return new SignJWT({ ...rest, ...(username ? { preferred_username: username } : {}) })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(config.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(iat + config.accessTokenTtl)
      .sign(key.privateKey)
  }

  /**
   * Verifies signature (our keys only), typ, iss, aud, exp/nbf with CLOCK_SKEW.
   * Throws `InvalidToken` with a reason fit for WWW-Authenticate error_description.
   */
  async verify(token: string, { audiences }: { audiences: readonly string[] }): Promise<AccessTokenClaims> {
    const { config, keyRing, clock } = this.deps
    if (typeof token !== 'string' || token.length > 8192 || token.split('.').length !== 3)
      throw new InvalidToken('malformed token')
    try {
      const { payload } = await jwtVerify(
        token,
        async (header: JWTHeaderParameters) => {
          if (!header.kid) throw new InvalidToken('token has no kid')
          const k = await keyRing.verificationKey(header.kid)
          if (!k) throw new InvalidToken('unknown signing key')
          // Algorithm confusion: the header's alg must be the one this key is for.
          if (header.alg !== k.alg) throw new InvalidToken('algorithm does not match the key')
          return k.key
        },
        {
          issuer: config.issuer,
          audience: [...audiences],
          algorithms: [...VERIFY_ALGS],
          typ: 'at+jwt',
          clockTolerance: CLOCK_SKEW,
          currentDate: new Date(clock.now()),
          requiredClaims: ['sub', 'exp', 'iat', 'jti', 'sid'],
        },
      )
      return payload as AccessTokenClaims
    } catch (e) {
      if (e instanceof InvalidToken) throw e
      if (e instanceof joseErrors.JWTExpired) throw new InvalidToken('token expired')
      if (e instanceof joseErrors.JWTClaimValidationFailed) throw new InvalidToken(`${e.claim} claim invalid`)
      if (e instanceof joseErrors.JOSEAlgNotAllowed) throw new InvalidToken('algorithm not allowed')
      if (e instanceof joseErrors.JOSEError) throw new InvalidToken('invalid token')
      throw e // storage or programming errors are not the token's fault
    }
  }
}

export class InvalidToken extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'InvalidToken'
  }
}
