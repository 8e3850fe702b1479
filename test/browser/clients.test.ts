/**
 * Administration: registering an application with scopes on the page (CONTRACT v2 "Scopes are
 * granted, not echoed"). The form offers the API scopes of SCOPES; the registered client may then
 * be granted exactly those (checked at the authorization endpoint).
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { assertNoSecurityProblems, focused, noticeText, signUp, signedOutView } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

describe('passkey page: registering an application with scopes', { skip: SKIP, timeout: 50_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let p: PasskeyPage

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService({ gateway: false, env: { SCOPES: 'orders.read,orders.write' } }), launch()])
    p = await newPasskeyPage(browser)
    await p.addAuthenticator({ transport: 'internal', backupEligible: true })
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  it('offers the SCOPES as checkboxes and registers a public client with the ticked ones', async () => {
    const { page } = p
    await page.goto(svc.url)
    await signedOutView(page)
    await signUp(page, 'admin')
    const form = page.getByRole('region', { name: 'Register an application' })
    await form.getByRole('checkbox', { name: 'orders.read' }).waitFor()
    assert.equal(await form.getByRole('checkbox').count(), 2, 'orders.read and orders.write (openid and profile need no box)')
    await form.getByLabel('Application name').fill('Order viewer')
    await form.getByLabel('Redirect URIs (one per line)').fill('https://viewer.example/callback')
    await form.getByRole('checkbox', { name: 'orders.read' }).check()
    await form.getByRole('button', { name: 'Register application' }).click()
    const heading = form.getByRole('heading', { name: 'Registered “Order viewer”' })
    await heading.waitFor()
    assert.equal((await focused(page)).text, 'Registered “Order viewer”', 'focus moves to the result')
    assert.equal((await form.locator('.client-scopes').textContent())?.trim(), 'openid profile orders.read')
    const clientId = ((await form.locator('.client-result code').textContent()) ?? '').trim()
    assert.match(clientId, /^[A-Za-z0-9_-]{22}$/)
    await screenshots(page, 'client-registered')

    // The registration is what the service grants by: orders.read yes, orders.write no.
    const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url')
    const authorize = (scope: string) =>
      fetch(
        `${svc.url}/api/oauth2/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: 'https://viewer.example/callback', response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', scope })}`,
        { redirect: 'manual' },
      )
    assert.equal((await authorize('openid orders.read')).status, 200)
    const refused = await authorize('openid orders.write')
    assert.equal(new URL(refused.headers.get('location')!).searchParams.get('error'), 'invalid_scope')
    assertNoSecurityProblems(p.consoleProblems)
  })

  it('a JWKS that is not JSON is refused on the page before anything is sent', async () => {
    const { page } = p
    const form = page.getByRole('region', { name: 'Register an application' })
    await form.getByLabel('Application name').fill('Broken job')
    await form.getByLabel('Or, for a machine client: JWKS (public keys)').fill('{not json')
    await form.getByRole('button', { name: 'Register application' }).click()
    await noticeText(page, 'clients-notice', /The JWKS is not valid JSON/)
  })
})
