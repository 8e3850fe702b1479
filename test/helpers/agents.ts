/**
 * The steps of CONTRACT v2 "Agents acting for people" over HTTP, for the integration tests
 * (test/http/agents.test.ts, test/http/tokenExchange.test.ts): people with roles, the agent's
 * client assertions, bc-authorize, the person's approval with their passkey, the poll, the
 * authorizer, the audit log. Bound to a test file's service (read when called: it starts in
 * `before`), its clock and the agents' key.
 */
import assert from 'node:assert/strict'
import type { KeyObject } from 'node:crypto'
import type { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from './authenticator.js'
import { bearer, call, form, post, signIn, signUp, type Res } from './client.js'
import { ORIGIN, type TestService } from './service.js'
import { JWT_BEARER, clientAssertion } from '../oauth/helpers.js'

export const CIBA = 'urn:openid:params:grant-type:ciba'

export interface Person {
  auth: SoftAuthenticator
  id: string
  username: string
  token: string
}

export interface AgentKitOptions {
  /** The service under test (a getter: it is started in `before`). */
  service: () => TestService
  clock: ManualClock
  /** The agents' private key, registered as `kid` in their JWKS. */
  key: KeyObject
  kid: string
  /** The bootstrap administrator's passkey. */
  adminKey: SoftAuthenticator
  /** The agent `ask`, `poll` and `delegated` act as unless told otherwise. */
  agent: () => string
  /** Usernames are `<prefix><pid>n<k>`. */
  prefix: string
}

export function agentKit({ service, clock, key, kid, adminKey, agent, prefix }: AgentKitOptions) {
  let n = 0
  const uniq = () => `${prefix}${process.pid}n${++n}`
  const url = () => service().url

  const admin = async () => (await signIn(url(), adminKey)).body.access_token as string
  /** Assertions dated by the service's clock, so that moving it does not expire them. */
  const assertion = (clientId: string) => {
    const now = Math.floor(clock.now() / 1000)
    return clientAssertion({ clientId, key, kid, aud: service().config.issuer, claims: { iat: now, exp: now + 60 } })
  }
  const auth = async (clientId: string) => ({ client_assertion_type: JWT_BEARER, client_assertion: await assertion(clientId) })

  /** POST /api/oauth2/bc-authorize as `clientId`. */
  async function ask(username: string, extra: Record<string, string> = {}, clientId = agent(), base = url()) {
    return form(base, '/api/oauth2/bc-authorize', { login_hint: username, scope: 'openid orders.read', binding_message: 'Reorder coffee?', ...(await auth(clientId)), ...extra })
  }
  /** The agent's poll (CIBA §10.1). */
  async function poll(authReqId: string, clientId = agent(), base = url(), extra: Record<string, string> = {}) {
    return form(base, '/api/oauth2/token', { grant_type: CIBA, auth_req_id: authReqId, ...(await auth(clientId)), ...extra })
  }

  async function person(roles: string[] = ['reader']): Promise<Person> {
    const a = new SoftAuthenticator()
    const username = uniq()
    const up = await signUp(url(), a, username)
    const token = await admin()
    for (const role of roles) assert.equal((await call(url(), 'PUT', `/api/manage/users/${up.user.id}/roles/${role}`, undefined, bearer(token))).status, 200)
    return { auth: a, id: up.user.id, username, token: up.tokens.access_token }
  }

  /** A fresh first-party token of the person (the clock may have moved past the last one's exp). */
  const signedIn = async (p: Person) => (await signIn(url(), p.auth)).body.access_token as string

  const approvals = async (p: Person) => call(url(), 'GET', '/api/me/approvals', undefined, bearer(await signedIn(p)))
  const requestId = async (p: Person) => {
    const list = await approvals(p)
    assert.equal(list.status, 200)
    return list.body.at(-1).id as string
  }
  const options = async (p: Person, id: string, token?: string) => post(url(), `/api/me/approvals/${id}/options`, {}, bearer(token ?? (await signedIn(p))))

  /**
   * POST …/verify with `credential` made by `make` after the person's token (a sign-in uses the
   * passkey too: its counter must come before the approval's, else counter_regression).
   */
  async function verify(p: Person, id: string, make: () => Promise<unknown>, token?: string): Promise<Res> {
    const t = token ?? (await signedIn(p))
    return post(url(), `/api/me/approvals/${id}/verify`, { credential: await make() }, bearer(t))
  }

  /** The person approves request `id` with their passkey: options → authenticator → verify. */
  async function approve(p: Person, id: string): Promise<Res> {
    const token = await signedIn(p)
    const o = await options(p, id, token)
    if (o.status !== 200) return o
    const credential = await p.auth.getAssertion(o.body, { origin: ORIGIN })
    return post(url(), `/api/me/approvals/${id}/verify`, { credential }, bearer(token))
  }

  /** Ask, approve, poll past the interval: the delegated token response. */
  async function delegated(p: Person, extra: Record<string, string> = {}, clientId = agent()) {
    const asked = await ask(p.username, extra, clientId)
    assert.equal(asked.status, 200, JSON.stringify(asked.body))
    const approved = await approve(p, await requestId(p))
    assert.equal(approved.status, 204, JSON.stringify(approved.body))
    const r = await poll(asked.body.auth_req_id, clientId)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return { ...r.body, authReqId: asked.body.auth_req_id as string }
  }

  const check = (token: string, method: string, path: string, base = url(), apiId?: string) =>
    post(base, '/api/authz/check', { method, path, ...(apiId ? { apiId } : {}) }, bearer(token))

  async function audit(type: string) {
    const r = await call(url(), 'GET', '/api/manage/audit?limit=1000', undefined, bearer(await admin()))
    assert.equal(r.status, 200)
    return ((Array.isArray(r.body) ? r.body : r.body.events) as any[]).filter((e) => e.type === type)
  }

  return { uniq, admin, assertion, auth, ask, poll, person, signedIn, approvals, requestId, options, verify, approve, delegated, check, audit }
}
