/**
 * CONTRACT v2 "Agents acting for people" on the page, in real Chromium against Azurite: an agent
 * (registered over the admin API, private_key_jwt) asks by OpenID CIBA (poll mode); the person
 * sees the request under "Requests from agents" (who asks, the binding message as text, the
 * scope, the RFC 9396 per-action details, the expiry), approves with a passkey (the virtual
 * authenticator) or denies, and the agent's poll answers accordingly; a standing delegation is
 * listed under "Agents acting for you", the agent's call with its token passes the dev gateway
 * (the backend sees X-User-Id = the person, X-Actor-Id = the agent), and "Revoke" ends it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Locator, Page } from 'playwright-core'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { bearer, call, form, signUp as apiSignUp } from '../helpers/client.js'
import { keyPair } from '../helpers/keys.js'
import { JWT_BEARER, clientAssertion, registerClient } from '../oauth/helpers.js'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { assertNoSecurityProblems, noticeText, region, signUp } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

const CIBA = 'urn:openid:params:grant-type:ciba'
const keys = keyPair('ec', { namedCurve: 'P-256' })
const jwk = { ...keys.publicKey.export({ format: 'jwk' }), kid: 'agent-1', alg: 'ES256' }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('passkey page: requests from agents and agents acting for you (OpenID CIBA, RFC 9396)', { skip: SKIP, timeout: 120_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let p: PasskeyPage
  let issuer: string
  let agent: string
  let admin: string
  const username = `person${process.pid}`

  const auth = async () => ({
    client_assertion_type: JWT_BEARER,
    client_assertion: await clientAssertion({ clientId: agent, key: keys.privateKey, kid: 'agent-1', aud: issuer }),
  })
  /** The agent asks (CIBA §7.1). */
  const ask = async (bindingMessage: string, extra: Record<string, string> = {}) => {
    const r = await form(svc.url, '/api/oauth2/bc-authorize', { login_hint: username, scope: 'openid orders.read', binding_message: bindingMessage, ...(await auth()), ...extra })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body as { auth_req_id: string; interval: number }
  }
  const poll = async (authReqId: string) => form(svc.url, '/api/oauth2/token', { grant_type: CIBA, auth_req_id: authReqId, ...(await auth()) })
  /** Polls as CIBA §7.3 says (every `interval`, longer after slow_down) until the person decided. */
  async function decided(authReqId: string, interval: number) {
    for (let i = 0; i < 10; i++) {
      await sleep(interval * 1000 + 300)
      const r = await poll(authReqId)
      if (r.status === 400 && r.body.error === 'slow_down') interval += 5
      else if (!(r.status === 400 && r.body.error === 'authorization_pending')) return r
    }
    throw new Error('the request stayed pending')
  }
  const requestItem = (page: Page, text: string): Locator => region(page, 'Requests from agents').locator('li.approval').filter({ hasText: text })

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService({ env: { SCOPES: 'orders.read' } }), launch()])
    admin = (await apiSignUp(svc.url, new SoftAuthenticator(), 'admin', { origin: svc.url })).tokens.access_token
    issuer = (await call(svc.url, 'GET', '/api/.well-known/openid-configuration')).body.issuer
    agent = (await registerClient(svc.url, admin, { name: 'Shopping assistant', jwks: { keys: [jwk] }, roles: ['reader'], scopes: ['orders.read'], agent: true })).client_id
    p = await newPasskeyPage(browser)
    await p.addAuthenticator({ transport: 'internal', backupEligible: true })
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  it('shows a request (agent, message, scope, method + path, expiry); Approve with your passkey → the poll returns the token; Deny → access_denied', async () => {
    const { page } = p
    await page.goto(svc.url)
    await signUp(page, username)
    const approvals = region(page, 'Requests from agents')
    await approvals.getByText('No requests are waiting.').waitFor()

    const perAction = await ask('Reorder coffee beans (order 42)?', {
      authorization_details: JSON.stringify([{ type: 'api_request', method: 'post', path: '/orders', apiId: 'sample' }]),
    })
    const first = await poll(perAction.auth_req_id)
    assert.equal(first.body.error, 'authorization_pending', 'nothing decided yet')
    // The page finds it by itself (it checks every few seconds while visible).
    const item = requestItem(page, 'Reorder coffee beans (order 42)?')
    await item.waitFor({ timeout: 15_000 })
    await noticeText(page, 'approvals-notice', /A new request from an agent is waiting/)
    const text = (await item.innerText()).replace(/\s+/g, ' ')
    assert.match(text, /Shopping assistant/)
    assert.match(text, new RegExp(`Agent id ${agent}`))
    assert.match(text, /Scope openid orders\.read/)
    assert.match(text, /Only these calls POST \/orders \(API sample\)/, 'the per-action detail: method (upper-case) and path, and the API id')
    assert.match(text, /Expires .+ \(in \d+ minutes?\)/)

    const denied = await ask('Delete all orders?')
    await page.getByRole('button', { name: 'Check for requests' }).click()
    await requestItem(page, 'Delete all orders?').waitFor()
    await screenshots(page, 'approvals')

    const callsBefore = (await p.webauthnCalls()).length
    await item.getByRole('button', { name: /^Approve with your passkey/ }).click()
    await noticeText(page, 'approvals-notice', /Approved: Shopping assistant may go ahead/)
    const calls = (await p.webauthnCalls()).slice(callsBefore)
    assert.equal(calls.length, 1)
    assert.equal(calls[0]!.kind, 'get')
    assert.equal(calls[0]!.userVerification, 'required')
    await item.waitFor({ state: 'detached' })
    const token = await decided(perAction.auth_req_id, perAction.interval)
    assert.equal(token.status, 200, JSON.stringify(token.body))
    assert.equal(token.body.refresh_token, undefined, 'per action: no refresh token')

    await requestItem(page, 'Delete all orders?').getByRole('button', { name: /^Deny/ }).click()
    await noticeText(page, 'approvals-notice', /Denied: Shopping assistant gets no access/)
    const no = await poll(denied.auth_req_id)
    assert.equal(no.status, 400)
    assert.equal(no.body.error, 'access_denied')
    await approvals.getByText('No requests are waiting.').waitFor()
    assertNoSecurityProblems(p.consoleProblems)
  })

  it('a binding message with markup is shown as text; a standing delegation is listed, and Revoke makes its refresh token invalid_grant', async () => {
    const { page } = p
    const message = 'Hi <img src=x onerror="window.__pwned=1"> there'
    const standing = await ask(message)
    await page.getByRole('button', { name: 'Check for requests' }).click()
    const item = requestItem(page, 'there')
    await item.waitFor()
    assert.equal(await item.locator('blockquote').textContent(), message, 'the message exactly, as text')
    assert.equal(await page.locator('#approval-list img').count(), 0, 'no element was made from the message')
    assert.match((await item.innerText()).replace(/\s+/g, ' '), /Standing access/)

    await item.getByRole('button', { name: /^Approve with your passkey/ }).click()
    await noticeText(page, 'approvals-notice', /Approved: Shopping assistant/)
    const token = await decided(standing.auth_req_id, standing.interval)
    assert.equal(token.status, 200, JSON.stringify(token.body))
    assert.ok(token.body.refresh_token, 'a standing delegation has a refresh token')

    // The agent's call passes the dev gateway: the person's role (reader) ∩ the agent's (reader).
    const found = (await call(svc.url, 'GET', `/api/manage/users?username=${username}`, undefined, bearer(admin))).body
    const personId: string = found[0]?.id
    assert.ok(personId, JSON.stringify(found))
    assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${personId}/roles/reader`, undefined, bearer(admin))).status, 200)
    const viaGateway = await call(svc.gatewayUrl!, 'GET', '/sample/orders/7', undefined, { ...bearer(token.body.access_token), 'x-actor-id': 'forged' })
    assert.equal(viaGateway.status, 200, JSON.stringify(viaGateway.body))
    assert.deepEqual([viaGateway.body.userId, viaGateway.body.actorId], [personId, agent], 'what the backend saw')

    const delegations = region(page, 'Agents acting for you')
    const listed = delegations.locator('li.delegation').filter({ hasText: 'Shopping assistant' })
    await listed.waitFor({ timeout: 15_000 })
    const text = (await listed.innerText()).replace(/\s+/g, ' ')
    assert.match(text, new RegExp(`Agent id ${agent}`))
    assert.match(text, /Scope openid orders\.read/)
    assert.match(text, /Since .+ Last used/)
    await screenshots(page, 'delegations')

    await listed.getByRole('button', { name: /^Revoke/ }).click()
    await noticeText(page, 'delegations-notice', /Revoked: Shopping assistant can no longer act for you/)
    await delegations.getByText('No agent acts for you.').waitFor()
    const refreshed = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: token.body.refresh_token, ...(await auth()) })
    assert.equal(refreshed.status, 400)
    assert.equal(refreshed.body.error, 'invalid_grant')
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined)
    assertNoSecurityProblems(p.consoleProblems)
  })
})
