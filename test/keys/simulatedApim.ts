/**
 * A stand-in for API Management's `validate-jwt` with `<openid-config url=…>` (AZURE-NOTES "API
 * Management"): it takes the keys from the discovery document's `jwks_uri`, keeps them for an hour,
 * and — unless `unknownKidRefetch` is off — pulls again on an unknown `kid`, at most once per
 * 5 minutes. Time is the test's clock, so "an hour" costs nothing.
 *
 * Validation is what the policy asks for: RS256/PS256/RS512 only, `iss` exactly, `aud` in the
 * list, `exp` required, clock skew 0.
 */
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet } from 'jose'
import type { Clock } from '../../shared/util/clock.js'

export interface SimulatedApimOptions {
  /** Base URL the service really listens on (its issuer names another port: paths are kept). */
  serviceUrl: string
  issuer: string
  audiences: string[]
  clock: Clock
  /** How long pulled keys are used. Default one hour, like APIM. */
  refreshMs?: number
  /** Pull again on an unknown kid (at most once per `unknownKidMinMs`). Default true, like APIM. */
  unknownKidRefetch?: boolean
  unknownKidMinMs?: number
}

export type Validation = { ok: true; kid: string } | { ok: false; kid: string | undefined; reason: string }

export class SimulatedApim {
  /** Every pull: when, why, and the kids it got. */
  readonly pulls: { at: number; why: 'start' | 'hourly' | 'unknown kid'; kids: string[] }[] = []
  private keys: ReturnType<typeof createLocalJWKSet> | undefined
  private kids = new Set<string>()
  private pulledAt = -Infinity
  private unknownKidAt = -Infinity

  constructor(private readonly o: SimulatedApimOptions) {}

  /** The kids it holds now. */
  get cachedKids(): ReadonlySet<string> {
    return this.kids
  }

  /** Pulls when the keys are an hour old (or missing); call it as time passes. */
  async tick(): Promise<void> {
    if (!this.keys) await this.pull('start')
    else if (this.o.clock.now() - this.pulledAt >= (this.o.refreshMs ?? 3_600_000)) await this.pull('hourly')
  }

  async validate(token: string): Promise<Validation> {
    await this.tick()
    let kid: string | undefined
    try {
      kid = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid
    } catch {}
    const now = this.o.clock.now()
    if (
      kid &&
      !this.kids.has(kid) &&
      (this.o.unknownKidRefetch ?? true) &&
      now - this.unknownKidAt >= (this.o.unknownKidMinMs ?? 300_000)
    ) {
      this.unknownKidAt = now
      await this.pull('unknown kid')
    }
    try {
      await jwtVerify(token, this.keys!, {
        issuer: this.o.issuer,
        audience: this.o.audiences,
        algorithms: ['RS256', 'PS256', 'RS512'],
        requiredClaims: ['exp'],
        clockTolerance: 0,
        currentDate: new Date(now),
      })
      return { ok: true, kid: kid! }
    } catch (e) {
      if (e instanceof errors.JOSEError) return { ok: false, kid, reason: e.code }
      throw e
    }
  }

  private async pull(why: 'start' | 'hourly' | 'unknown kid'): Promise<void> {
    const meta = await this.getJson(`${this.o.serviceUrl}/api/.well-known/openid-configuration`)
    if (meta.issuer !== this.o.issuer) throw new Error(`discovery issuer ${meta.issuer} is not ${this.o.issuer}`)
    const jwks = await this.getJson(new URL(new URL(meta.jwks_uri).pathname, this.o.serviceUrl).toString())
    this.keys = createLocalJWKSet(jwks as JSONWebKeySet)
    this.kids = new Set((jwks.keys as { kid: string }[]).map((k) => k.kid))
    this.pulledAt = this.o.clock.now()
    this.pulls.push({ at: this.pulledAt, why, kids: [...this.kids] })
  }

  private async getJson(url: string): Promise<any> {
    const res = await fetch(url)
    if (res.status !== 200) throw new Error(`GET ${url} → ${res.status}`)
    return res.json()
  }
}
