/**
 * Administration: registering an application with scopes on the page (CONTRACT v2 "Scopes are
 * granted, not echoed"). The form offers the API scopes of SCOPES; the registered client may then
 * be granted exactly those (checked at the authorization endpoint). The applications list (CONTRACT
 * v2 "Users and clients"): editing one changes what the authorization endpoint accepts, deleting
 * one (after a confirmation) makes its client_id unknown.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { assertNoSecurityProblems, focused, noticeText, signUp, signedOutView } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

describe('passkey page: applications (registering with scopes, editing, deleting)', { skip: SKIP, timeout: 50_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let p: PasskeyPage
  let clientId = ''
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url')
  /** GET /api/oauth2/authorize for the client: 200 (the sign-in page) or a refusal. */
  const authorize = (redirectUri: string, scope: string) =>
    fetch(
      `${svc.url}/api/oauth2/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: redirectUri, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', scope })}`,
      { redirect: 'manual' },
    )

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
    clientId = ((await form.locator('.client-result code').textContent()) ?? '').trim()
    assert.match(clientId, /^[A-Za-z0-9_-]{22}$/)
    await screenshots(page, 'client-registered')

    // The registration is what the service grants by: orders.read yes, orders.write no.
    assert.equal((await authorize('https://viewer.example/callback', 'openid orders.read')).status, 200)
    const refused = await authorize('https://viewer.example/callback', 'openid orders.write')
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

  it('lists the application; "Edit" changes its name, redirect URIs and scopes, and the service grants by them', async () => {
    const { page } = p
    const apps = page.getByRole('region', { name: 'Applications' })
    await apps.getByRole('heading', { name: 'Order viewer', exact: true }).waitFor()
    assert.match((await apps.locator('li.client').innerText()).replace(/\s+/g, ' '), new RegExp(`client_id ${clientId}.*Redirect URIs https://viewer.example/callback.*Scopes openid profile orders.read`))
    await apps.getByRole('button', { name: 'Edit Order viewer' }).click()
    const edit = apps.getByRole('form', { name: 'Edit Order viewer' })
    await edit.getByLabel('Application name').fill('Order desk')
    await edit.getByLabel('Redirect URIs (one per line)').fill('https://desk.example/callback')
    await edit.getByRole('checkbox', { name: 'orders.write' }).check()
    await screenshots(page, 'client-edit')
    await edit.getByRole('button', { name: 'Save changes' }).click()
    await noticeText(page, 'apps-notice', /Saved Order desk\./)
    await apps.getByRole('heading', { name: 'Order desk', exact: true }).waitFor()
    assert.equal((await focused(page)).text, 'Order desk', 'focus returns to the application')
    assert.match(await apps.locator('li.client').innerText(), /openid profile orders\.read orders\.write/)
    assert.equal((await authorize('https://desk.example/callback', 'openid orders.write')).status, 200, 'the new redirect URI and scope are accepted')
    assert.notEqual((await authorize('https://viewer.example/callback', 'openid')).status, 200, 'the old redirect URI is not')
  })

  it('"Delete" asks first ("Keep" keeps it), then deletes: the list is empty and the client_id is refused', async () => {
    const { page } = p
    const apps = page.getByRole('region', { name: 'Applications' })
    await apps.getByRole('button', { name: 'Delete Order desk' }).click()
    await apps.getByRole('group', { name: 'Delete Order desk?' }).waitFor()
    await screenshots(page, 'client-delete-confirm')
    await apps.getByRole('button', { name: 'Keep Order desk' }).click()
    assert.equal((await authorize('https://desk.example/callback', 'openid')).status, 200, 'kept')
    await apps.getByRole('button', { name: 'Delete Order desk' }).click()
    await apps.getByRole('button', { name: 'Delete for good Order desk' }).click()
    await noticeText(page, 'apps-notice', /Deleted Order desk\./)
    await apps.getByText('No applications registered yet.').waitFor()
    assert.notEqual((await authorize('https://desk.example/callback', 'openid')).status, 200, 'the deleted client is unknown')
    assertNoSecurityProblems(p.consoleProblems)
  })
})
