/**
 * The passkey page in real Chromium (CDP virtual authenticators) against the real service
 * (Azurite + the local server): sign up, the last-passkey guard, add a second passkey, rename,
 * delete, reload, sign out (RFC 7009 revocation), sign in without and with a username.
 * Screenshots of the main states go to test-results/browser/.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import {
  assertNoSecurityProblems,
  focused,
  noticeText,
  passkeyItem,
  passkeyList,
  refreshTokenInStorage,
  region,
  shownClaims,
  signOut,
  signUp,
  signedInView,
  signedOutView,
  startSignIn,
} from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

describe(
  'passkey page: account and passkeys (WebAuthn §5.1.3 create, §5.1.4 get)',
  { skip: SKIP, timeout: 50_000 },
  () => {
    let svc: BrowserService
    let browser: Browser
    let p: PasskeyPage
    /** The platform authenticator: a synced passkey (backup eligible). */
    let laptop: string
    /** A USB security key: a device-bound passkey. */
    let key: string
    const username = `pat${process.pid}`

    before(async () => {
      ;[svc, browser] = await Promise.all([startBrowserService({ gateway: false }), launch()])
      p = await newPasskeyPage(browser)
      laptop = await p.addAuthenticator({ transport: 'internal', backupEligible: true })
    })
    after(async () => {
      await browser?.close()
      await svc?.close()
    })

    it('should sign up with a passkey and show the account: passkey, token claims', async () => {
      const { page } = p
      await page.goto(svc.url)
      await signedOutView(page)
      assert.equal(
        await page.locator('#sign-in-username').getAttribute('autocomplete'),
        'username webauthn',
      )
      await screenshots(page, 'signed-out')

      await signUp(page, username, 'Pat Example')
      await noticeText(page, 'page-notice', new RegExp(`Welcome, ${username}`))
      assert.deepEqual(
        await focused(page),
        { tag: 'h1', id: 'signed-in-title', text: 'Your account' },
        'focus moves to the result',
      )
      assert.match(
        (await page.locator('#who').textContent()) ?? '',
        new RegExp(`Pat Example \\(${username}\\)`),
      )
      const list = await passkeyList(page)
      assert.equal(list.length, 1)
      assert.equal(list[0]!.label, 'Synced passkey')
      assert.deepEqual(list[0]!.tags, ['Synced', 'Used for this sign-in'])
      assert.match(list[0]!.text, /Kind Built into a device/)
      assert.match(list[0]!.text, /Last used never/)
      const claims = await shownClaims(page)
      assert.equal(typeof claims.sub, 'string')
      assert.deepEqual(
        claims.amr,
        ['swk', 'user', 'mfa'],
        'a synced passkey with user verification',
      )
      assert.equal(
        await page.getByRole('region', { name: 'Administration' }).count(),
        0,
        'no admin section for a non-admin',
      )
      assert.ok(await refreshTokenInStorage(page), 'the refresh token is kept for this tab')
      await screenshots(page, 'signed-in')
    })

    it('should refuse to delete the last passkey and say why (409 last_credential)', async () => {
      const { page } = p
      await page.getByRole('button', { name: 'Delete Synced passkey' }).click()
      await page.getByRole('button', { name: 'Delete passkey' }).click()
      const text = await noticeText(page, 'passkeys-notice', /only passkey/)
      assert.match(text, /^Problem: You cannot delete your only passkey\./)
      assert.match(text, /last passkey of the account/, "the problem's detail is shown")
      assert.match(text, /no password to fall back on/)
      assert.equal((await focused(page)).text, text.trim(), 'focus moves to the message')
      assert.equal((await passkeyList(page)).length, 1)
      await screenshots(page, 'last-passkey-guard')
    })

    it('should add a second passkey from a security key (device-bound)', async () => {
      const { page } = p
      // The platform authenticator already holds this account's passkey (excludeCredentials):
      // only the security key answers.
      await p.setPresence(laptop, false)
      key = await p.addAuthenticator({ transport: 'usb', backupEligible: false })
      await page.getByLabel('Name for the new passkey (optional)').fill('Blue key')
      await page.getByRole('button', { name: 'Add a passkey' }).click()
      await noticeText(page, 'passkeys-notice', /Added “Blue key”/)
      assert.deepEqual(await focused(page), {
        tag: 'h3',
        id: (await focused(page)).id,
        text: 'Blue key',
      })
      const list = await passkeyList(page)
      assert.deepEqual(
        list.map((x) => x.label),
        ['Synced passkey', 'Blue key'],
      )
      assert.deepEqual(list[1]!.tags, ['Device-bound'])
      assert.match(list[1]!.text, /Kind Security key \(USB\)/)
      assert.equal((await p.credentials(key)).length, 1)
      await p.setPresence(laptop, true)
      await screenshots(page, 'two-passkeys')
    })

    it('should rename a passkey (PATCH), Escape cancels', async () => {
      const { page } = p
      await page.getByRole('button', { name: 'Rename Synced passkey' }).click()
      const input = page.getByLabel('New name for “Synced passkey”')
      assert.equal((await focused(page)).tag, 'input', 'focus moves to the name field')
      await input.press('Escape')
      await passkeyItem(page, 'Synced passkey')
        .getByRole('button', { name: 'Rename Synced passkey' })
        .waitFor()

      await page.getByRole('button', { name: 'Rename Synced passkey' }).click()
      await page.getByLabel('New name for “Synced passkey”').fill('Laptop')
      await screenshots(page, 'rename')
      await page.getByRole('button', { name: 'Save name' }).click()
      await noticeText(page, 'passkeys-notice', /Renamed to “Laptop”/)
      assert.deepEqual(
        (await passkeyList(page)).map((x) => x.label),
        ['Laptop', 'Blue key'],
      )
      assert.equal((await focused(page)).text, 'Laptop')
    })

    it('should keep the session across a reload of the tab (refresh token in sessionStorage)', async () => {
      const { page } = p
      const before = await refreshTokenInStorage(page)
      await page.reload()
      await signedInView(page)
      const after = await refreshTokenInStorage(page)
      assert.ok(after && after !== before, 'the refresh token rotated')
      assert.deepEqual(
        (await passkeyList(page)).map((x) => x.label),
        ['Laptop', 'Blue key'],
      )
    })

    it('should delete a passkey after confirming; "Keep it" keeps it', async () => {
      const { page } = p
      await page.getByRole('button', { name: 'Delete Blue key' }).click()
      assert.equal((await focused(page)).text, 'Keep it', 'the safe choice has focus')
      await page.getByRole('button', { name: 'Keep it' }).click()
      assert.equal((await passkeyList(page)).length, 2)

      await page.getByRole('button', { name: 'Delete Blue key' }).click()
      await page.getByRole('button', { name: 'Delete passkey' }).click()
      await noticeText(page, 'passkeys-notice', /Deleted “Blue key”/)
      assert.deepEqual(
        (await passkeyList(page)).map((x) => x.label),
        ['Laptop'],
      )
      assert.equal((await focused(page)).id, 'passkeys-title')
      // The page tells the browser which passkeys the account still accepts
      // (PublicKeyCredential.signalAllAcceptedCredentials); the security key drops the deleted one.
      for (let i = 0; i < 50 && (await p.credentials(key)).length > 0; i++)
        await page.waitForTimeout(100)
      assert.deepEqual(
        await p.credentials(key),
        [],
        'the deleted passkey is gone from the security key',
      )
      // Unplug the security key: with no passkey on it, it would answer the next sign-in request
      // with "no credentials", which ends a modal request in the virtual environment.
      await p.removeAuthenticator(key)
    })

    it('should sign out: the refresh token is revoked (RFC 7009) and forgotten', async () => {
      const { page } = p
      const refreshToken = await refreshTokenInStorage(page)
      assert.ok(refreshToken)
      // The signed-out page offers passkeys through autofill again; keep that request pending
      // (autofill.test.ts covers it) so the next sign-in is the button's.
      await p.setPresence(laptop, false)
      await signOut(page)
      assert.equal((await focused(page)).id, 'signed-out-title')
      assert.equal(await refreshTokenInStorage(page), null)
      const res = await fetch(`${svc.url}/api/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      })
      assert.equal(res.status, 400)
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant')
    })

    it('should sign in without a username (discoverable passkey)', async () => {
      const { page } = p
      await p.setPresence(laptop, true)
      await startSignIn(page)
      await signedInView(page)
      await noticeText(page, 'page-notice', /Signed in with your passkey/)
      assert.deepEqual(
        (await passkeyList(page)).map((x) => x.tags),
        [['Synced', 'Used for this sign-in']],
      )
      const calls = await p.webauthnCalls()
      const modal = calls.filter((c) => c.kind === 'get' && c.mediation === null)
      assert.equal(modal.length, 1)
      assert.equal(modal[0]!.allowCredentials, 0, 'usernameless: empty allowCredentials')
      assert.match((await passkeyList(page))[0]!.text, /Last used (?!never)/)
    })

    it('should sign in with a username, from the keyboard (allowCredentials lists its passkeys)', async () => {
      const { page } = p
      await p.setPresence(laptop, false)
      await signOut(page)
      await p.setPresence(laptop, true)
      // Signing out put focus on the heading; the next Tab stop is the sign-in username field.
      assert.equal((await focused(page)).id, 'signed-out-title')
      await page.keyboard.press('Tab')
      assert.equal((await focused(page)).id, 'sign-in-username')
      await page.keyboard.type(username)
      await page.keyboard.press('Enter')
      await signedInView(page)
      const modal = (await p.webauthnCalls()).filter(
        (c) => c.kind === 'get' && c.mediation === null,
      )
      assert.equal(modal.length, 2)
      assert.equal(modal[1]!.allowCredentials, 1)
      assert.equal(modal[1]!.userVerification, 'required')
      assertNoSecurityProblems(p.consoleProblems)
    })

    it('should show the signed-in page tidy at phone width', async () => {
      await screenshots(p.page, 'signed-in-again')
      const overflow = await p.page.evaluate(
        () => document.documentElement.scrollWidth > window.innerWidth,
      )
      assert.equal(overflow, false, 'no horizontal scrolling at desktop width')
      await p.page.setViewportSize({ width: 390, height: 844 })
      assert.equal(
        await p.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth),
        false,
        'no horizontal scrolling at 390 px',
      )
      await p.page.setViewportSize({ width: 1280, height: 800 })
    })
  },
)
