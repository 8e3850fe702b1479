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
 * The answer names the agent as `actor` (the gateways pass it on as X-Actor-Id) and lists as
 * `roles` the roles both hold.
 */
import type { Decision } from './decide.js'
import type { PathMatcher } from './glob.js'
import { CLOCK_SKEW, type AccessTokenClaims } from '../tokens/accessToken.js'
import { ConcurrencyError, type ApiRequestDetail, type ChallengeStore } from '../store/types.js'

/** The parts of a compiled permission this module reads (decide.ts `compilePermission`). */
export interface DelegablePermission {
  methods: Set<string> | '*'
  match: PathMatcher
  apiId?: string
  acr?: string
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
  /** Whether a permission's `acr` is met by the token (decide.ts's rule). */
  acrMet: (p: DelegablePermission) => boolean
  /** The ttl an answer built on cached facts may have (decide.ts). */
  ttl: number
}

/** What one side's roles allow: freely, only per approved action (and whether with an apiId), or nothing. */
type Grant = { mode: 'allow'; role: string } | { mode: 'approve'; role: string; apiId: boolean } | undefined

function grantOf(roles: string[], r: DelegatedRequest): Grant {
  let approve: Grant
  for (const role of roles) {
    for (const p of r.defs.get(role) ?? []) {
      if (p.delegation === 'deny') continue
      if (p.methods !== '*' && !p.methods.has(r.method)) continue
      if (p.apiId !== undefined && p.apiId !== r.apiId) continue
      if (!r.acrMet(p)) continue
      if (!p.match(r.path.segments)) continue
      if (p.delegation !== 'approve') return { mode: 'allow', role }
      // An approval that names an apiId is needed only if every approving permission names one.
      if (!approve || (approve.mode === 'approve' && approve.apiId && p.apiId === undefined)) approve = { mode: 'approve', role, apiId: p.apiId !== undefined }
    }
  }
  return approve
}

/**
 * @example
 * if (actor) return decideDelegated(store, { claims, actor, personRoles, agentRoles, defs, method, path, apiId, scopes, acrMet, ttl })
 */
export async function decideDelegated(store: Pick<ChallengeStore, 'putChallenge'>, r: DelegatedRequest): Promise<Decision> {
  const { claims, actor, scopes } = r
  const answer = (allow: boolean, status: 200 | 401 | 403, reason: string, roles: string[], ttl: number): Decision =>
    // `ttl` last: decide.ts caches answers split around it.
    ({ allow, status, reason, sub: claims.sub, actor, roles, scopes, ttl })
  if (r.agentRoles === null) return answer(false, 401, 'agent no longer exists', [], 0)
  if (r.agentRoles === false) return answer(false, 401, 'agent disabled', [], 0)
  const agentRoles = new Set(r.agentRoles)
  const both = r.personRoles.filter((x) => agentRoles.has(x))
  const person = grantOf(r.personRoles, r)
  if (!person) return answer(false, 403, "the person's roles do not permit this method and path to an agent", both, r.ttl)
  const agent = grantOf(r.agentRoles, r)
  if (!agent) return answer(false, 403, "the agent's roles do not permit this method and path", both, r.ttl)
  if (person.mode === 'allow' && agent.mode === 'allow')
    return answer(true, 200, `granted to agent by roles ${person.role} (person) and ${agent.role} (agent)`, both, r.ttl)

  // Approval per action: a matching entry of the token's authorization_details, used once.
  const needApiId = (person.mode === 'approve' && person.apiId) || (agent.mode === 'approve' && agent.apiId)
  const details = Array.isArray(claims.authorization_details) ? (claims.authorization_details as ApiRequestDetail[]) : []
  let used = false
  for (const [i, d] of details.entries()) {
    if (!d || d.type !== 'api_request' || d.method !== r.method || d.path !== r.path.path) continue
    if (d.apiId !== undefined ? d.apiId !== r.apiId : needApiId) continue
    try {
      await store.putChallenge(`act.${claims.jti}.${i}`, (claims.exp + CLOCK_SKEW) * 1000)
    } catch (e) {
      if (!(e instanceof ConcurrencyError)) throw e
      used = true
      continue // used already (here or on another instance): another equal entry may be left
    }
    return answer(true, 200, 'approved by the person for this action', both, 0)
  }
  return answer(false, 403, used ? 'the approved action was used already' : 'this call needs the person\'s approval of this very action', both, 0)
}
