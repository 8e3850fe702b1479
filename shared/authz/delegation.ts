/**
 * Decisions for delegated tokens (CONTRACT v2 "Agents acting for people", "Approval per action"):
 * tokens with `act` (RFC 8693 §4.1), issued to an agent for a person who approved it (CIBA).
 *
 * Such a token is allowed only when the person's live roles allow the request AND the agent's
 * live roles (its client principal's) allow it AND the delegation is live (its session row,
 * checked by decide.ts like any token's). A permission's `delegation` says how it applies to
 * delegated tokens: `allow` (the default) as to any token, `deny` never, `approve` only for a
 * call the person approved one by one: the token's `authorization_details` must hold
 * `{ type: 'api_request', method, path }` (and `apiId` when the permission names one) equal to the
 * request, and each such entry is used up by the first decision it allows, on every instance at
 * once: a conditional insert of a marker (token jti, entry index) in the challenges table, which
 * Table Storage refuses with 409 the second time. Those answers have `ttl: 0`.
 *
 * Step-up (CONTRACT v2 "Step-up authentication", RFC 9470) applies as to ordinary tokens
 * (shared/authz/stepUp.ts, the token's auth_time being the approval's): a permission's `acr` and
 * `maxAge` must be met on each side; when a side has no permission met but one would be with a
 * stronger or more recent sign-in, the answer is 401 `insufficient_user_authentication` (both
 * sides short: the stronger acr, the shorter maxAge), and an allow resting on a `maxAge` has its
 * `ttl` bounded by `auth_time + maxAge`.
 *
 * The answer names the agent as `actor` (the gateways pass it on as X-Actor-Id) and lists as
 * `roles` the roles both hold.
 */
import type { Decision } from './decide.js'
import type { PathMatcher } from './glob.js'
import { CLOCK_SKEW, type AccessTokenClaims } from '../tokens/accessToken.js'
import { ConcurrencyError, type ApiRequestDetail, type ChallengeStore } from '../store/types.js'
import type { LruTtl } from './lru.js'
import { assess, strictest, INVALID_TOKEN_CHALLENGE, lighter, stepUpRefusal, type Shortfall } from './stepUp.js'

/** The parts of a compiled permission this module reads (decide.ts `compilePermission`). */
export interface DelegablePermission {
  methods: Set<string> | '*'
  match: PathMatcher
  apiId?: string
  acr?: string
  maxAge?: number
  delegation?: 'allow' | 'approve' | 'deny'
}

/** The agent a token acts for the person as (`act.sub`), when it is a delegated token. */
export function actorOf(claims: AccessTokenClaims): string | undefined {
  const sub = (claims.act as { sub?: unknown } | undefined)?.sub
  return typeof sub === 'string' && sub ? sub : undefined
}

export interface DelegatedRequest {
  claims: AccessTokenClaims
  actor: string
  /** The person's live roles, and the agent's (null: no principal; false: disabled). */
  personRoles: string[]
  agentRoles: string[] | null | false
  defs: Map<string, DelegablePermission[]>
  method: string
  /** The normalised path: its segments (for globs) and its text (for approved actions). */
  path: { segments: string[]; path: string }
  apiId?: string
  scopes: string[]
  /** The ttl an answer built on cached facts may have (decide.ts). */
  ttl: number
  /** The decision's time (ms): permissions' `maxAge` are counted from the token's auth_time to it. */
  now: number
  /**
   * Markers (`act.<jti>.<i>`) this instance knows are used (it inserted them, or storage refused
   * them): a spent per-action token replayed here costs no storage write.
   */
  spent?: LruTtl<true>
}

/**
 * What one side's roles allow: freely (until when: auth_time + maxAge, Infinity without), only per
 * approved action (and whether with an apiId), or nothing; and, of the permissions that would
 * allow were the sign-in stronger or more recent, the easiest to meet (decide.ts's rule).
 */
type Grant = { mode: 'allow'; role: string; until: number } | { mode: 'approve'; role: string; apiId: boolean }
interface Side {
  grant?: Grant
  shortfall?: Shortfall
}

function sideOf(roles: string[], r: DelegatedRequest): Side {
  let allow: { role: string; until: number } | undefined
  let approve: Grant | undefined
  let shortfall: Shortfall | undefined
  for (const role of roles) {
    for (const p of r.defs.get(role) ?? []) {
      if (p.delegation === 'deny') continue
      if (p.methods !== '*' && !p.methods.has(r.method)) continue
      if (p.apiId !== undefined && p.apiId !== r.apiId) continue
      if (!p.match(r.path.segments)) continue
      const fit = assess(p, r.claims, r.now)
      if (!fit.met) {
        const miss: Shortfall = { role, ...fit.miss }
        if (!shortfall || lighter(miss, shortfall)) shortfall = miss
        continue
      }
      if (p.delegation !== 'approve') {
        if (!allow || fit.until > allow.until) allow = { role, until: fit.until }
        continue
      }
      // An approval that names an apiId is needed only if every approving permission names one.
      if (!approve || (approve.mode === 'approve' && approve.apiId && p.apiId === undefined)) approve = { mode: 'approve', role, apiId: p.apiId !== undefined }
    }
  }
  const grant: Grant | undefined = allow ? { mode: 'allow', ...allow } : approve
  return { ...(grant ? { grant } : {}), ...(shortfall ? { shortfall } : {}) }
}

/**
 * @example
 * if (actor) return decideDelegated(store, { claims, actor, personRoles, agentRoles, defs, method, path, apiId, scopes, ttl, now })
 */
export async function decideDelegated(store: Pick<ChallengeStore, 'putChallenge'>, r: DelegatedRequest): Promise<Decision> {
  const { claims, actor, scopes } = r
  const answer = (allow: boolean, status: 200 | 403, reason: string, roles: string[], ttl: number): Decision =>
    // `ttl` last: decide.ts caches answers split around it.
    ({ allow, status, reason, sub: claims.sub, actor, roles, scopes, ttl })
  const refused = (reason: string): Decision =>
    ({ allow: false, status: 401, reason, wwwAuthenticate: INVALID_TOKEN_CHALLENGE, sub: claims.sub, actor, roles: [], scopes, ttl: 0 })
  if (r.agentRoles === null) return refused('agent no longer exists')
  if (r.agentRoles === false) return refused('agent disabled')
  const agentRoles = new Set(r.agentRoles)
  const shared = r.personRoles.filter((x) => agentRoles.has(x))
  const personSide = sideOf(r.personRoles, r)
  if (!personSide.grant && !personSide.shortfall) return answer(false, 403, "the person's roles do not permit this method and path to an agent", shared, r.ttl)
  const agentSide = sideOf(r.agentRoles, r)
  if (!agentSide.grant && !agentSide.shortfall) return answer(false, 403, "the agent's roles do not permit this method and path", shared, r.ttl)
  // Step-up: a side that would allow only with a stronger or more recent sign-in (RFC 9470).
  const person = personSide.grant
  const agent = agentSide.grant
  if (!person || !agent) {
    const short = [person ? undefined : personSide.shortfall, agent ? undefined : agentSide.shortfall].filter((x): x is Shortfall => !!x)
    const need = short.length === 2 ? strictest(short[0]!, short[1]!) : short[0]!
    const whose = short.map((x) => `role ${x.role} (${x === personSide.shortfall ? 'person' : 'agent'})`).join(' and ')
    const needs = [need.acr !== undefined ? `acr ${need.acr}` : '', need.maxAge !== undefined ? `a sign-in within ${need.maxAge} s` : ''].filter(Boolean).join(' and ')
    return { ...stepUpRefusal(need, `${whose} permits this to an agent with ${needs}`), sub: claims.sub, actor, roles: shared, scopes, ttl: r.ttl }
  }
  if (person.mode === 'allow' && agent.mode === 'allow') {
    // An allow resting on a maxAge is not cached past auth_time + maxAge (decide.ts's bound).
    const until = Math.min(person.until, agent.until)
    const ttl = Math.min(r.ttl, until === Infinity ? r.ttl : Math.max(0, Math.floor((until - r.now) / 1000)))
    return answer(true, 200, `granted to agent by roles ${person.role} (person) and ${agent.role} (agent)`, shared, ttl)
  }

  // Approval per action: a matching entry of the token's authorization_details, used once.
  const needApiId = (person.mode === 'approve' && person.apiId) || (agent.mode === 'approve' && agent.apiId)
  const details = Array.isArray(claims.authorization_details) ? (claims.authorization_details as ApiRequestDetail[]) : []
  let used = false
  const until = (claims.exp + CLOCK_SKEW) * 1000
  for (const [i, d] of details.entries()) {
    if (!d || d.type !== 'api_request' || d.method !== r.method || d.path !== r.path.path) continue
    if (d.apiId !== undefined ? d.apiId !== r.apiId : needApiId) continue
    const marker = `act.${claims.jti}.${i}`
    if (r.spent?.get(marker, r.now)) {
      used = true
      continue
    }
    try {
      await store.putChallenge(marker, until)
    } catch (e) {
      if (!(e instanceof ConcurrencyError)) throw e
      r.spent?.set(marker, true, until)
      used = true
      continue // used already (here or on another instance): another equal entry may be left
    }
    r.spent?.set(marker, true, until)
    return answer(true, 200, 'approved by the person for this action', shared, 0)
  }
  return answer(false, 403, used ? 'the approved action was used already' : 'this call needs the person\'s approval of this very action', shared, 0)
}
