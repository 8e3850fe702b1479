/**
 * The authorizer APIM calls on every API request (CONTRACT "Authorizer").
 *
 * Decision = token checks (our keys only, alg allow-list, typ at+jwt, iss, aud, exp/nbf with
 * skew) + session still live + the subject's live roles × role permissions.
 *
 * Hot path: a warm decision makes no storage call and no signature check — verified tokens are
 * cached (keyed by the token) until their `exp`, subject → roles and session liveness for
 * AUTHZ_CACHE_TTL, role definitions as one snapshot refreshed in the background. A cold decision
 * makes at most 3 point reads in parallel: session row, user row and, for a third-party app's
 * token, the client row. All caches are bounded.
 *
 * Bound on revocation: a change made on this instance applies at once (its caches are
 * invalidated); on other instances within AUTHZ_CACHE_TTL seconds; a gateway caching the answer
 * adds at most the answer's `ttl` (≤ AUTHZ_CACHE_TTL). A revoked signing key: cached tokens and
 * decisions carry their kid and are served only while the key ring still trusts it, so at once
 * on the revoking instance and within the key ring's refresh (REFRESH_MS, 60 s) on the others.
 *
 * Step-up (CONTRACT v2 "Step-up authentication", RFC 9470): a permission may ask for an `acr` and
 * a `maxAge`. When no permission allows the request but one would, were the token's acr stronger
 * or its auth_time more recent, the answer is 401 `insufficient_user_authentication` with the
 * `acr_values` / `max_age` a new sign-in must meet and the ready `WWW-Authenticate` value. An allow
 * that rests on a `maxAge` is never cached (here or, through `ttl`, at the gateway) past
 * `auth_time + maxAge`.
 *
 * DPoP (CONTRACT v2 "DPoP", RFC 9449 §7): a token with `cnf.jkt` is allowed only with a proof by
 * that key for this method and URL (shared/oauth/dpop.ts), checked on every call — a cached
 * decision too: the cache keeps the key's thumbprint and serves nothing before the proof verifies.
 * A bound token sent as Bearer, or without a proof, is refused; an unbound one sent with the DPoP
 * scheme too. Answers for bound tokens have `ttl: 0` (the gateway must not cache what needs a
 * fresh proof); bearer decisions take no extra step beyond one property test.
 */
import { isMetadataDocumentClientId } from '../oauth/clientMetadata.js'
import { decodeProtectedHeader } from 'jose'
import type { Config } from '../config.js'
import { ServiceError } from '../errors.js'
import { InvalidToken, type AccessTokenClaims, type AccessTokens } from '../tokens/accessToken.js'
import type { KeyRing } from '../tokens/keyRing.js'
import { FIRST_PARTY_CLIENT } from '../tokens/sessions.js'
import type { Permission, RoleRecord, Store } from '../store/types.js'
import type { Clock } from '../util/clock.js'
import { MAX_AGE_LIMIT } from '../schemas/authz.js'
import { ACR_VALUES, acrRank } from '../webauthn/assurance.js'
import { compileGlob, normalisePath, type PathMatcher } from './glob.js'
import { LruTtl } from './lru.js'
import { actorOf, decideDelegated } from './delegation.js'
import { DPoPError, dpopChallenge, type DPoPVerifier } from '../oauth/dpop.js'
import { assess, INSUFFICIENT, INVALID_TOKEN_CHALLENGE, lighter, NO_TOKEN_CHALLENGE, stepUpRefusal, type Shortfall } from './stepUp.js'

export interface AuthzRequest {
  method: string
  path: string
  apiId?: string
  operationId?: string
}

/**
 * How the token was presented: `scheme` of the forwarded Authorization header (`body`: the
 * body's token, the scheme unknown), and the client's DPoP proof and called URL (body `dpop`, `url`).
 */
export interface Presentation {
  scheme?: 'bearer' | 'dpop' | 'body'
  proof?: string
  url?: string
}

/** The answer's members, in the order they are sent; `ttl` stays last (decideJson relies on it). */
export interface Decision {
  allow: boolean
  status: 200 | 401 | 403
  reason: string
  /** RFC 9470 §3: the token's authentication is too weak or too old for this request. */
  error?: typeof INSUFFICIENT
  /** The weakest acr that would satisfy (when the acr was short). */
  acr_values?: string
  /** The permission's maxAge (when auth_time was too old, or absent). */
  max_age?: number
  /** On every 401: the `WWW-Authenticate` value the gateway sends (RFC 6750 §3, RFC 9470 §3). */
  wwwAuthenticate?: string
  /** RFC 9449 §9: with `use_dpop_nonce`, the nonce the gateway sends as `DPoP-Nonce`. */
  dpopNonce?: string
  sub?: string
  /** A delegated token's agent (shared/authz/delegation.ts). */
  actor?: string
  roles: string[]
  scopes: string[]
  ttl: number
}

interface CompiledPermission {
  methods: Set<string> | '*'
  match: PathMatcher
  apiId?: string
  acr?: string
  maxAge?: number
  delegation?: Permission['delegation']
}

export { INVALID_TOKEN_CHALLENGE, NO_TOKEN_CHALLENGE, stepUpChallenge } from './stepUp.js'

export class Authorizer {
  private readonly tokens: LruTtl<AccessTokenClaims & { [KID]?: string }>
  /** Subject → live roles; null: no such user, false: disabled. */
  private readonly subjects: LruTtl<string[] | null | false>
  private readonly sessions: LruTtl<boolean>
  /** A third-party client (a token's `client_id`): unregistered, registered, or registered as an agent. */
  private readonly clients: LruTtl<'gone' | 'client' | 'agent'>
  /**
   * Whole decisions by token + request, as JSON split around `ttl` (recomputed when served); a
   * delegated one also by its agent's generation, so a change to the agent applies at once here.
   */
  private readonly decisions: LruTtl<{ head: string; sub: string; gen: number; actor?: string; actorGen?: number; rolesGen: number; until: number; kid?: string; jkt?: string }>
  /** Per-action markers known to be used here (delegation.ts): a replay costs no storage write. */
  private readonly spent: LruTtl<true>
  /** Bumped per user by forgetUser, so that cached decisions of that user are not served. */
  private readonly userGen = new Map<string, number>()
  private rolesGen = 0
  /** Bumped by every forgetUser: reads that started before it are not cached. */
  private epoch = 0
  private roleDefs: { at: number; roles: Map<string, CompiledPermission[]> } | undefined
  private roleLoad: Promise<void> | undefined

  constructor(
    private readonly deps: {
      config: Config
      store: Store
      clock: Clock
      accessTokens: AccessTokens
      /** Cached tokens are served only while their signing key is trusted (not revoked). */
      keyRing?: Pick<KeyRing, 'trusts'>
      /** DPoP proofs (without one, every DPoP-bound token is refused). */
      dpop?: DPoPVerifier
    },
  ) {
    const { config } = deps
    this.tokens = new LruTtl(config.authzTokenCacheSize, false)
    this.subjects = new LruTtl(config.authzSubjectCacheSize)
    this.sessions = new LruTtl(config.authzSubjectCacheSize)
    this.clients = new LruTtl(config.authzSubjectCacheSize)
    this.decisions = new LruTtl(config.authzTokenCacheSize, false)
    this.spent = new LruTtl(config.authzTokenCacheSize, false)
  }

  /**
   * The decision as the JSON body the route sends. A repeated call (same token, method, path,
   * apiId) within the decision's ttl is answered from memory: one map lookup, `ttl` counted down
   * so that a gateway never caches past the original bound or the token's `exp`.
   */
  async decideJson(token: string | undefined, req: AuthzRequest, pop: Presentation = {}): Promise<string> {
    const now = this.deps.clock.now()
    const key = token ? `${req.method}\u0000${req.apiId ?? ''}\u0000${req.path}\u0000${token}` : undefined
    if (key) {
      const hit = this.decisions.get(key, now)
      if (
        hit &&
        hit.rolesGen === this.rolesGen &&
        hit.gen === (this.userGen.get(hit.sub) ?? 0) &&
        (hit.actor === undefined || hit.actorGen === (this.userGen.get(hit.actor) ?? 0)) &&
        (await this.keyTrusted(hit.kid))
      ) {
        if (hit.jkt === undefined) {
          if (pop.scheme !== 'dpop') return `${hit.head}${Math.floor((hit.until - now) / 1000)}}`
          return JSON.stringify(unboundAsDPoP(hit.sub))
        }
        // A bound token's cached decision stands only behind a fresh proof by its key; never cached at the gateway.
        const refused = await this.proofRefusal(token!, hit.jkt, req, pop, hit.sub)
        return refused ? JSON.stringify(refused) : `${hit.head}0}`
      }
    }
    // Generations before deciding: a revocation that lands while this decision reads storage must
    // not be overwritten by caching what was read before it.
    const rolesGen = this.rolesGen
    const epoch = this.epoch
    const d = await this.decide(token, req, pop)
    const json = JSON.stringify(d)
    const cacheTtl = d[CACHE_TTL] ?? d.ttl
    if (key && token && cacheTtl > 0 && d.sub && rolesGen === this.rolesGen && epoch === this.epoch) {
      const until = now + cacheTtl * 1000
      // `ttl` is the last member: keep everything before its value.
      const head = json.slice(0, json.lastIndexOf(':') + 1)
      const actor = d.actor !== undefined ? { actor: d.actor, actorGen: this.userGen.get(d.actor) ?? 0 } : {}
      const bound = d[BOUND] !== undefined ? { jkt: d[BOUND] } : {}
      this.decisions.set(key, { head, sub: d.sub, gen: this.userGen.get(d.sub) ?? 0, ...actor, ...bound, rolesGen, until, kid: kidOf(token) }, until)
    }
    return json
  }

  /** Decides one request. Throws ServiceError storage_unavailable when it cannot decide. */
  async decide(token: string | undefined, req: AuthzRequest, pop: Presentation = {}): Promise<Decision & { [BOUND]?: string; [CACHE_TTL]?: number }> {
    const now = this.deps.clock.now()
    if (!token) return deny(401, 'no bearer token', undefined, NO_TOKEN_CHALLENGE)
    const claims = await this.verified(token, now)
    if (typeof claims === 'string') return deny(401, claims)
    const jkt = claims.cnf?.jkt
    if (jkt === undefined) {
      if (pop.scheme === 'dpop') return unboundAsDPoP(claims.sub)
    } else {
      const refused = await this.proofRefusal(token, jkt, req, pop, claims.sub)
      if (refused) return refused
      // The decision of a proven call: answered with ttl 0, cached here (with the key) as long as a bearer one.
      const d = await this.decideVerified(claims, req, now)
      return Object.assign({ ...d, ttl: 0 }, { [BOUND]: jkt, [CACHE_TTL]: d.ttl })
    }
    return this.decideVerified(claims, req, now)
  }

  /**
   * RFC 9449 §7: the refusal of a DPoP-bound token's call, or undefined when its proof is good
   * (scheme DPoP or the body's token, a proof by the bound key for this method and URL, ath, iat,
   * jti, and the nonce when required).
   */
  private async proofRefusal(token: string, jkt: string, req: AuthzRequest, pop: Presentation, sub: string): Promise<Decision | undefined> {
    const refuse = (e: DPoPError): Decision => ({
      allow: false,
      status: 401,
      reason: `DPoP: ${e.message}`,
      wwwAuthenticate: dpopChallenge(e),
      ...(e.nonce !== undefined ? { dpopNonce: e.nonce } : {}),
      sub,
      roles: [],
      scopes: [],
      ttl: 0,
    })
    const invalid = (why: string) => refuse(new DPoPError('invalid_dpop_proof', why))
    if (pop.scheme === 'bearer') return invalid('This token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof')
    const verifier = this.deps.dpop
    if (!verifier) return invalid('DPoP proofs are not checked here')
    if (pop.proof === undefined) return invalid('This token is DPoP-bound: a DPoP proof is required')
    if (pop.url === undefined) return invalid('The gateway did not send the URL called (url)')
    try {
      await verifier.verify({ proof: pop.proof, method: req.method, url: pop.url, accessToken: token, jkt })
      return undefined
    } catch (e) {
      if (e instanceof DPoPError) return refuse(e)
      throw e
    }
  }

  private async decideVerified(claims: AccessTokenClaims, req: AuthzRequest, now: number): Promise<Decision> {
    const actor = actorOf(claims)
    const [subject, session, client, agent] = await Promise.all([this.rolesOf(claims.sub, now), this.sessionLive(claims.sub, claims.sid, now), this.clientLive(claims, now), actor ? this.rolesOf(actor, now) : undefined])
    const roles = subject.roles
    const scopes = typeof claims.scope === 'string' && claims.scope ? claims.scope.split(' ') : []
    if (roles === null) return deny(401, 'subject no longer exists', claims.sub)
    if (roles === false) return deny(401, 'subject disabled', claims.sub)
    if (!session.live) return deny(401, 'session revoked', claims.sub)
    if (!client.live) return deny(401, 'client no longer registered', claims.sub)
    const defs = await this.roleDefinitions(now)
    // How long this answer may be cached (here and at the gateway): no longer than the oldest
    // cached fact it rests on stays fresh, so a revocation reaches the gateway within
    // AUTHZ_CACHE_TTL end to end; never past the token's exp.
    const until = Math.min(
      now + this.deps.config.authzCacheTtl * 1000,
      claims.exp * 1000,
      subject.until,
      session.until,
      client.until,
      agent?.until ?? Infinity,
      (this.roleDefs?.at ?? now) + this.deps.config.authzCacheTtl * 1000,
    )
    const ttlUntil = (t: number) => Math.max(0, Math.floor((t - now) / 1000))
    const ttl = ttlUntil(until)
    const who = { sub: claims.sub, roles, scopes }
    const path = normalisePath(req.path)
    if (!path.ok) return { allow: false, status: 403, reason: path.reason, ...who, ttl }
    const method = req.method.toUpperCase()
    if (actor)
      return decideDelegated(this.deps.store, {
        claims, actor, personRoles: roles, agentRoles: agent!.roles, defs, method, path, scopes, ttl, now, spent: this.spent, ...(req.apiId !== undefined ? { apiId: req.apiId } : {}),
      })
    // The allow that lasts longest (a permission without maxAge: as long as the facts above).
    let granted: { role: string; until: number } | undefined
    let shortfall: Shortfall | undefined
    for (const role of roles) {
      for (const p of defs.get(role) ?? []) {
        if (p.methods !== '*' && !p.methods.has(method)) continue
        if (p.apiId !== undefined && p.apiId !== req.apiId) continue
        if (!p.match(path.segments)) continue
        const fit = assess(p, claims, now)
        if (fit.met) {
          if (!granted || fit.until > granted.until) granted = { role, until: fit.until }
          continue
        }
        const miss: Shortfall = { role, ...fit.miss }
        if (!shortfall || lighter(miss, shortfall)) shortfall = miss
      }
    }
    if (granted) return { allow: true, status: 200, reason: `granted by role ${granted.role}`, ...who, ttl: ttlUntil(Math.min(until, granted.until)) }
    if (shortfall) return { ...stepUpRefusal(shortfall), ...who, ttl }
    return { allow: false, status: 403, reason: 'no role permits this method and path', ...who, ttl }
  }

  /** Cached verification: the claims, or the reason the token is refused. */
  private async verified(token: string, now: number): Promise<AccessTokenClaims | string> {
    if (token.length > 8192) return 'malformed token'
    // Keyed by the token itself: exact-match lookup, no collisions to reason about, and no
    // thread-pool hop for a digest on every call. Memory: at most AUTHZ_TOKEN_CACHE_SIZE
    // entries of at most 8 KiB (about 1 KiB each for our tokens).
    const key = token
    const hit = this.tokens.get(key, now)
    // A hit whose signing key was revoked since is verified again (and refused).
    if (hit && (await this.keyTrusted(hit[KID]))) {
      if (hit.exp * 1000 + 30_000 <= now) return 'token expired'
      return hit
    }
    try {
      const claims = await this.deps.accessTokens.verify(token, { audiences: this.deps.config.audiences })
      this.tokens.set(key, Object.assign(claims, { [KID]: kidOf(token) }), claims.exp * 1000 + 30_000)
      return claims
    } catch (e) {
      if (e instanceof InvalidToken) return e.message
      throw e
    }
  }

  /**
   * Live roles of a subject (null: no such user; false: disabled), cached for AUTHZ_CACHE_TTL: a
   * user disabled on another instance is denied here once the entry expires, if its revoked
   * session's cached liveness has not expired first (both were cached at most that long ago).
   */
  private async rolesOf(sub: string, now: number): Promise<{ roles: string[] | null | false; until: number }> {
    const hit = this.subjects.entry(sub, now)
    if (hit) return { roles: hit.v, until: hit.exp }
    const epoch = this.epoch
    const user = await this.deps.store.getUser(sub)
    const roles = !user ? null : user.disabledAt !== undefined ? false : user.roles
    const until = now + this.deps.config.authzCacheTtl * 1000
    if (epoch === this.epoch) this.subjects.set(sub, roles, until)
    return { roles, until }
  }

  private async sessionLive(sub: string, sid: string, now: number): Promise<{ live: boolean; until: number }> {
    const key = `${sub}/${sid}`
    const hit = this.sessions.entry(key, now)
    if (hit) return { live: hit.v, until: hit.exp }
    const epoch = this.epoch
    const s = await this.deps.store.getSession(sub, sid)
    const live = !!s && !s.revokedAt && s.expiresAt > now
    const until = now + this.deps.config.authzCacheTtl * 1000
    if (epoch === this.epoch) this.sessions.set(key, live, until)
    return { live, until }
  }

  /**
   * A third-party app's token is live while the app is registered (its users' sessions are not
   * revoked when it is deleted). First-party and client_credentials tokens (`sub` checked) skip it.
   */
  private async clientLive(claims: AccessTokenClaims, now: number): Promise<{ live: boolean; until: number }> {
    const id = claims.client_id
    if (id === FIRST_PARTY_CLIENT || id === claims.sub) return { live: true, until: Infinity }
    // A client ID metadata document's client is registered by no one: nothing to revoke it by.
    if (typeof id === 'string' && isMetadataDocumentClientId(id)) return { live: !actorOf(claims), until: Infinity }
    // A delegated token's client must still be an agent (shared/authz/delegation.ts).
    const liveFor = (kind: 'gone' | 'client' | 'agent') => kind === 'agent' || (kind === 'client' && !actorOf(claims))
    const hit = this.clients.entry(id, now)
    if (hit) return { live: liveFor(hit.v), until: hit.exp }
    const epoch = this.epoch
    const registered = typeof id === 'string' ? await this.deps.store.getClient(id) : undefined
    const kind = !registered ? 'gone' : registered.agent === true ? 'agent' : 'client'
    const until = now + this.deps.config.authzCacheTtl * 1000
    if (epoch === this.epoch) this.clients.set(id, kind, until)
    return { live: liveFor(kind), until }
  }

  /** Role definitions: loaded once, then refreshed in the background every AUTHZ_CACHE_TTL. */
  private async roleDefinitions(now: number): Promise<Map<string, CompiledPermission[]>> {
    const defs = this.roleDefs
    if (defs && now - defs.at < this.deps.config.authzCacheTtl * 1000) return defs.roles
    if (defs) {
      // Stale: serve it, refresh behind (a failed refresh keeps the old snapshot until it works).
      void this.loadRoles().catch(() => {})
      return defs.roles
    }
    await this.loadRoles()
    return this.roleDefs!.roles
  }

  /** (Re)loads role definitions now; concurrent callers share one load. */
  loadRoles(): Promise<void> {
    this.roleLoad ??= (async () => {
      try {
        const list = await this.deps.store.listRoles()
        this.roleDefs = { at: this.deps.clock.now(), roles: compileRoles(list) }
        this.rolesGen++
      } finally {
        this.roleLoad = undefined
      }
    })()
    return this.roleLoad
  }

  /**
   * A signing key was revoked: drops every cached token and decision at once on this instance
   * (revocation is rare; the price is one signature check per live token). Other instances stop
   * serving that kid from cache when their key ring learns of it (`keyTrusted`).
   */
  forgetKid(_kid: string): void {
    this.tokens.clear()
    this.decisions.clear()
  }

  /** Whether a cached token signed by `kid` may still be served (no key ring: always). */
  private keyTrusted(kid: string | undefined): boolean | Promise<boolean> {
    const ring = this.deps.keyRing
    if (!ring) return true
    return kid !== undefined && ring.trusts(kid)
  }

  /** A client was deleted: its tokens are refused at once here (all decisions dropped: rare). */
  forgetClient(clientId: string): void {
    this.forgetUser(clientId)
    this.clients.delete(clientId)
    this.decisions.clear()
  }

  /** Forget what this instance knows of a user (role change, revocation): applies at once here. */
  forgetUser(userId: string): void {
    this.epoch++
    this.userGen.set(userId, (this.userGen.get(userId) ?? 0) + 1)
    this.subjects.delete(userId)
    this.sessions.deletePrefix(`${userId}/`)
    // A client's principal has the client's id: its registration (agent or not) is read again.
    this.clients.delete(userId)
  }
}

/** Where a cached token keeps its kid (a symbol: never part of the claims' JSON). */
const KID = Symbol('kid')

/** The JWS header's kid (the token was verified, or is about to be refused anyway). */
function kidOf(token: string): string | undefined {
  try {
    const kid = (decodeProtectedHeader(token) as { kid?: unknown }).kid
    return typeof kid === 'string' ? kid : undefined
  } catch {
    return undefined
  }
}

/** A decision's gateway-facing ttl is 0 but it may be cached here this long (a DPoP-bound token's). */
const CACHE_TTL = Symbol('cacheTtl')
/** The thumbprint of the key the decided token is bound to. */
const BOUND = Symbol('bound')

/** RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens only. */
function unboundAsDPoP(sub: string): Decision {
  return deny(401, 'token is not DPoP-bound: send it as Bearer', sub)
}

/** A refusal that is never cached; a 401 names its challenge (invalid_token unless given). */
function deny(status: 401 | 403, reason: string, sub?: string, challenge = INVALID_TOKEN_CHALLENGE): Decision {
  return { allow: false, status, reason, ...(status === 401 ? { wwwAuthenticate: challenge } : {}), ...(sub ? { sub } : {}), roles: [], scopes: [], ttl: 0 }
}

function compileRoles(list: RoleRecord[]): Map<string, CompiledPermission[]> {
  const out = new Map<string, CompiledPermission[]>()
  for (const role of list) {
    const compiled: CompiledPermission[] = []
    for (const p of role.permissions) {
      try {
        compiled.push(compilePermission(p))
      } catch {
        // Stored permissions were validated on PUT; one that no longer compiles grants nothing.
      }
    }
    out.set(role.name, compiled)
  }
  return out
}

export function compilePermission(p: Permission): CompiledPermission {
  return {
    methods: p.methods.includes('*') ? '*' : new Set(p.methods.map((m) => m.toUpperCase())),
    match: compileGlob(p.path),
    ...(p.apiId !== undefined ? { apiId: p.apiId } : {}),
    ...(p.acr !== undefined ? { acr: p.acr } : {}),
    ...(p.maxAge !== undefined ? { maxAge: p.maxAge } : {}),
    ...(p.delegation !== undefined ? { delegation: p.delegation } : {}),
  }
}

const METHOD = /^[A-Z]{1,16}$/
/** CONTRACT v2 "Approval per action": how a permission applies to delegated tokens. */
const DELEGATION_MODES = ['allow', 'approve', 'deny'] as const

/** Validates an administrator's permission list (PUT /api/manage/roles/{role}). */
export function parsePermissions(v: unknown): Permission[] {
  if (!Array.isArray(v) || v.length > 100) throw new ServiceError('invalid_request', 'permissions must be a list of at most 100')
  return v.map((p, i) => {
    const at = `permissions[${i}]`
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new ServiceError('invalid_request', `${at} must be an object`)
    const { methods, path, apiId, acr, maxAge, delegation, ...rest } = p as Record<string, unknown>
    if (Object.keys(rest).length) throw new ServiceError('invalid_request', `${at} has unknown fields: ${Object.keys(rest).join(', ')}`)
    if (!Array.isArray(methods) || methods.length === 0 || methods.length > 16 || !methods.every((m) => typeof m === 'string'))
      throw new ServiceError('invalid_request', `${at}.methods must be a non-empty list of HTTP methods or ["*"]`)
    const ms = (methods as string[]).map((m) => m.trim().toUpperCase())
    if (!ms.every((m) => m === '*' || METHOD.test(m))) throw new ServiceError('invalid_request', `${at}.methods must be HTTP methods or "*"`)
    if (typeof path !== 'string') throw new ServiceError('invalid_request', `${at}.path must be a glob string`)
    try {
      compileGlob(path)
    } catch (e) {
      throw new ServiceError('invalid_request', `${at}.path: ${(e as Error).message}`)
    }
    if (apiId !== undefined && (typeof apiId !== 'string' || apiId.length === 0 || apiId.length > 256))
      throw new ServiceError('invalid_request', `${at}.apiId must be a non-empty string`)
    if (acr !== undefined && (typeof acr !== 'string' || acrRank(acr) === 0))
      throw new ServiceError('invalid_request', `${at}.acr must be one of ${ACR_VALUES.join(', ')}`)
    if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 1 || maxAge > MAX_AGE_LIMIT))
      throw new ServiceError('invalid_request', `${at}.maxAge must be a whole number of seconds from 1 to ${MAX_AGE_LIMIT} (a year)`)
    if (delegation !== undefined && !DELEGATION_MODES.includes(delegation as never))
      throw new ServiceError('invalid_request', `${at}.delegation must be one of ${DELEGATION_MODES.join(', ')}`)
    return {
      methods: [...new Set(ms)],
      path,
      ...(apiId !== undefined ? { apiId: apiId as string } : {}),
      ...(acr !== undefined ? { acr: acr as string } : {}),
      ...(maxAge !== undefined ? { maxAge: maxAge as number } : {}),
      ...(delegation !== undefined ? { delegation: delegation as Permission['delegation'] } : {}),
    }
  })
}
