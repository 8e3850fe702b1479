/**
 * CONTRACT v2 "Re-authentication for account changes" on the page, in real Chromium: with a
 * sign-in older than REAUTH_MAX_AGE (2 s here), renaming, adding and deleting a passkey each
 * ask for the passkey again (a step-up sign-in), then go through; the page ends up on the new
 * session, and the session it replaced is revoked.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { assertNoSecurityProblems, noticeText, passkeyList, refreshTokenInStorage, shownClaims, signUp } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

const MAX_AGE = 2

describe('passkey page: account changes after an old sign-in ask for the passkey again (REAUTH_MAX_AGE)', { skip: SKIP, timeout: 60_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let p: PasskeyPage
  let laptop: string
  const username = `stepup${process.pid}`
  /** Waits until the page's sign-in is older than REAUTH_MAX_AGE. */
  const letSignInAge = () => p.page.waitForTimeout(MAX_AGE * 1000 + 1200)
  const authTime = async () => Number((await shownClaims(p.page)).auth_time)
  /** Live sessions of the account, as the service sees them (a form POST the page could make). */
  const introspectRefresh = async (token: string) => {
    const res = await fetch(`${svc.url}/api/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
    })
    return res.status
  }

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService({ gateway: false, env: { REAUTH_MAX_AGE: String(MAX_AGE) } }), launch()])
    p = await newPasskeyPage(browser)
    laptop = await p.addAuthenticator({ transport: 'internal', backupEligible: true })
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  it('rename: asks for the passkey, then renames; the old session is revoked', async () => {
    const { page } = p
    await page.goto(svc.url)
    await signUp(page, username)
    const first = await authTime()
    const oldRefresh = await refreshTokenInStorage(page)
    await letSignInAge()
    await page.getByRole('button', { name: 'Rename Synced passkey' }).click()
    await page.getByLabel('New name for “Synced passkey”').fill('Laptop')
    await page.getByRole('button', { name: 'Save name' }).click()
    await noticeText(page, 'passkeys-notice', /Renamed to “Laptop”/)
    assert.deepEqual((await passkeyList(page)).map((x) => x.label), ['Laptop'])
    assert.ok((await authTime()) > first, 'the page holds the token of the fresh sign-in')
    const newRefresh = await refreshTokenInStorage(page)
    assert.ok(newRefresh && newRefresh !== oldRefresh)
    assert.equal(await introspectRefresh(oldRefresh!), 400, 'the replaced session was revoked (its refresh token is refused)')
    await screenshots(page, 'stepup-renamed')
  })

  it('add: asks for the passkey, then creates the new one with the security key', async () => {
    const { page } = p
    // The security key is plugged in but not touched yet: the laptop answers the step-up.
    const key = await p.addAuthenticator({ transport: 'usb', backupEligible: false })
    await p.setPresence(key, false)
    await letSignInAge()
    // The first options call is refused (old sign-in) and the laptop answers the step-up; before
    // the retried options reach the page, the laptop stops answering and the key is touched, so
    // that the key (which holds no excluded credential) answers the creation.
    let calls = 0
    await page.route('**/api/webauthn/registration/options', async (route) => {
      if (++calls === 2) {
        await p.setPresence(laptop, false)
        await p.setPresence(key, true)
      }
      await route.continue()
    })
    await page.getByLabel('Name for the new passkey (optional)').fill('Blue key')
    await page.getByRole('button', { name: 'Add a passkey' }).click()
    await noticeText(page, 'passkeys-notice', /Added “Blue key”/).catch(async (e) => {
      throw new Error(`${e}: notice says ${await page.locator('#passkeys-notice').textContent()}, ${calls} options calls`)
    })
    await page.unroute('**/api/webauthn/registration/options')
    await p.setPresence(laptop, true)
    await p.setPresence(key, false)
    assert.equal(calls, 2, 'options were refused once, then retried after the step-up')
    assert.deepEqual((await passkeyList(page)).map((x) => x.label), ['Laptop', 'Blue key'])
    assert.equal((await p.credentials(key)).length, 1)
  })

  it('rename after the access token expired as well: refresh, then the passkey, then the change', async () => {
    const { page } = p
    await letSignInAge()
    // The first PATCH answers as an expired token would; the page refreshes (keeping the old
    // sign-in time), is refused for the old sign-in, asks for the passkey, and retries.
    let patched = 0
    await page.route('**/api/me/credentials/*', async (route) => {
      if (route.request().method() === 'PATCH' && ++patched === 1)
        return route.fulfill({
          status: 401,
          contentType: 'application/problem+json',
          headers: { 'www-authenticate': 'Bearer error="invalid_token", error_description="token expired"' },
          body: JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'The access token is not valid: token expired', code: 'unauthorized' }),
        })
      return route.continue()
    })
    await page.getByRole('button', { name: 'Rename Laptop' }).click()
    await page.getByLabel('New name for “Laptop”').fill('Work laptop')
    await page.getByRole('button', { name: 'Save name' }).click()
    await noticeText(page, 'passkeys-notice', /Renamed to “Work laptop”/)
    await page.unroute('**/api/me/credentials/*')
    assert.equal(patched, 3, 'expired → refreshed and refused for the old sign-in → stepped up and renamed')
    await page.getByRole('button', { name: 'Rename Work laptop' }).click()
    await page.getByLabel('New name for “Work laptop”').fill('Laptop')
    await page.getByRole('button', { name: 'Save name' }).click()
    await noticeText(page, 'passkeys-notice', /Renamed to “Laptop”/)
  })

  it('delete: asks for the passkey, then deletes', async () => {
    const { page } = p
    await letSignInAge()
    const before = await authTime()
    await page.getByRole('button', { name: 'Delete Blue key' }).click()
    await page.getByRole('button', { name: 'Delete passkey' }).click()
    await noticeText(page, 'passkeys-notice', /Deleted “Blue key”/)
    assert.deepEqual((await passkeyList(page)).map((x) => x.label), ['Laptop'])
    assert.ok((await authTime()) > before)
    assertNoSecurityProblems(p.consoleProblems)
  })
})
