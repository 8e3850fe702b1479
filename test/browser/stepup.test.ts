/**
 * CONTRACT v2 "Step-up authentication (RFC 9470)" on the page, in real Chromium, through the dev
 * gateway: a role whose permission has `maxAge` (3 s here) lets the call through right after
 * sign-in; once the sign-in is older, the gateway answers 401 `insufficient_user_authentication`
 * (a cached allow does not outlive auth_time + maxAge), the page offers "Confirm with your
 * passkey", and after the passkey confirms, the retried call passes with the fresh token.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { bearer, call, signUp as apiSignUp } from '../helpers/client.js'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { callSample, assertNoSecurityProblems, shownClaims, signUp } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

const MAX_AGE = 3

describe('passkey page: the sample API asks for a fresh passkey sign-in (RFC 9470 step-up)', { skip: SKIP, timeout: 60_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let p: PasskeyPage
  let admin: string
  const username = `stepper${process.pid}`

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService(), launch()])
    // The administrator works over the API: a role whose permission needs a sign-in within MAX_AGE.
    admin = (await apiSignUp(svc.url, new SoftAuthenticator(), 'admin', { origin: svc.url })).tokens.access_token
    const r = await call(svc.url, 'PUT', '/api/manage/roles/recent-orders', { permissions: [{ methods: ['GET'], path: '/orders', maxAge: MAX_AGE }] }, bearer(admin))
    assert.equal(r.status, 200, JSON.stringify(r.body))
    p = await newPasskeyPage(browser)
    await p.addAuthenticator({ transport: 'internal', backupEligible: true })
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  it('allowed after a fresh sign-in; later 401 → "Confirm with your passkey" → the retried call passes', async (t) => {
    if (!svc.gatewayUrl) return t.skip('the local server started no dev gateway')
    const { page } = p
    await page.goto(svc.url)
    await signUp(page, username)
    const found = await call(svc.url, 'GET', `/api/manage/users?username=${username}`, undefined, bearer(admin))
    assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${found.body[0].id}/roles/recent-orders`, undefined, bearer(admin))).status, 200)

    assert.match(await callSample(page, 'GET', '/sample/orders'), /Allowed: GET \/sample\/orders answered 200/)
    const firstAuthTime = Number((await shownClaims(page)).auth_time)

    // The sign-in ages past maxAge (the gateway's cached allow expires with it).
    await page.waitForTimeout(MAX_AGE * 1000 + 1200)
    const verdict = await callSample(page, 'GET', '/sample/orders')
    assert.match(verdict, /GET \/sample\/orders needs you to confirm it is you: 401 Unauthorized/)
    assert.match((await page.locator('#api-result').textContent()) ?? '', new RegExp(`within the last ${MAX_AGE} seconds`))
    const confirm = page.getByRole('button', { name: 'Confirm with your passkey' })
    await confirm.waitFor()
    await screenshots(page, 'stepup')

    await confirm.click()
    await page.locator('#api-result .verdict-allowed').waitFor()
    assert.match(((await page.locator('#api-result .verdict').textContent()) ?? '').trim(), /Allowed: GET \/sample\/orders answered 200/)
    assert.ok(Number((await shownClaims(page)).auth_time) > firstAuthTime, 'the retried call used the token of the fresh sign-in')
    assertNoSecurityProblems(p.consoleProblems)
  })
})
