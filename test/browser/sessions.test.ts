/**
 * CONTRACT v2 "Sessions" and "Disabling and deleting accounts" (DELETE /api/me) on the page, in
 * real Chromium: "Your sessions" lists this device and another one signed in with the same
 * synced passkey; "Sign out" ends that one, "Sign out everywhere else" every other one (their
 * refresh tokens are refused, the page there is signed out); "Delete my account" asks for the
 * username, then for the passkey when the sign-in is older than REAUTH_MAX_AGE (2 s here), and
 * erases the account (the username is free again).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { PHONE, SKIP, copyCredentials, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { assertNoSecurityProblems, noticeText, refreshTokenInStorage, region, signUp, signedInView, signedOutView } from './flows.js'
import { refreshStatus as refreshStatusAt } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

const MAX_AGE = 2
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1'

/** The items of "Your sessions": the heading and the whole text of each. */
async function sessionList(page: Page): Promise<{ title: string; text: string }[]> {
  const items = page.locator('#session-list[aria-busy="false"] > li.session')
  await items.first().waitFor()
  const out = []
  for (const item of await items.all())
    out.push({ title: ((await item.locator('h3').textContent()) ?? '').trim(), text: (await item.innerText()).replace(/\s+/g, ' ') })
  return out
}

describe('passkey page: your sessions and deleting your account', { skip: SKIP, timeout: 90_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let laptop: PasskeyPage
  let phone: PasskeyPage
  let phoneKey: string
  /** The account deleted at the end, on its own device (the laptop's passkey was cloned to the phone). */
  let owner: PasskeyPage
  const ownerName = `gone${process.pid}`
  const username = `sess${process.pid}`
  /** RFC 6749 §6 refresh, as the other device would: 200, or 400 invalid_grant once it is revoked. */
  const refreshStatus = (token: string | null | undefined) => refreshStatusAt(svc.url, token)
  /** Whether an account holds `name`: open registration answers 409 username_taken for a taken one. */
  const usernameTaken = async (name: string) =>
    (
      await fetch(`${svc.url}/api/webauthn/registration/options`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: name }),
      })
    ).status === 409

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService({ gateway: false, env: { REAUTH_MAX_AGE: String(MAX_AGE) } }), launch()])
    laptop = await newPasskeyPage(browser)
    phone = await newPasskeyPage(browser, { viewport: PHONE, userAgent: IPHONE })
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  it('lists this device first ("This device") and the phone signed in with the same synced passkey', async () => {
    const laptopKey = await laptop.addAuthenticator({ transport: 'internal', backupEligible: true })
    await laptop.page.goto(svc.url)
    await signUp(laptop.page, username)
    // The passkey syncs to the phone, which signs in with it.
    phoneKey = await phone.addAuthenticator({ transport: 'internal', backupEligible: true })
    assert.equal(await copyCredentials(laptop, laptopKey, phone, phoneKey), 1)
    // The phone's browser offers the passkey in autofill, and the virtual authenticator picks it.
    await phone.page.goto(svc.url)
    await signedInView(phone.page)

    await laptop.page.reload()
    await signedInView(laptop.page)
    const list = await sessionList(laptop.page)
    assert.equal(list.length, 2, JSON.stringify(list))
    assert.match(list[0]!.title, /^Chrome \d+ on Linux$/, 'the user agent, shortened')
    assert.match(list[0]!.text, /This device/)
    assert.doesNotMatch(list[0]!.text, /Sign out/, 'no "Sign out" for the session of this page (the header has it)')
    assert.equal(list[1]!.title, 'Safari 18 on iOS')
    assert.doesNotMatch(list[1]!.text, /This device/)
    assert.match(list[1]!.text, /Application This page/)
    assert.match(list[1]!.text, /Passkey Synced passkey/, 'the passkey it signed in with, by its label')
    assert.match(list[1]!.text, /Signed in .+ Last used .+ Ends /)
    const sessions = region(laptop.page, 'Your sessions')
    await sessions.getByRole('button', { name: 'Sign out everywhere else' }).waitFor()
    await screenshots(laptop.page, 'sessions')
  })

  it('"Sign out" ends the other session: gone from the list, its refresh token refused, the phone signed out', async () => {
    const phoneRefresh = await refreshTokenInStorage(phone.page)
    assert.ok(phoneRefresh)
    // The phone's autofill would sign in again by itself once its page is signed out: not yet.
    await phone.setPresence(phoneKey, false)
    const sessions = region(laptop.page, 'Your sessions')
    await sessions.getByRole('button', { name: 'Sign out Safari 18 on iOS' }).click()
    await noticeText(laptop.page, 'sessions-notice', /Signed out Safari 18 on iOS\./)
    const list = await sessionList(laptop.page)
    assert.deepEqual(list.map((s) => s.title).length, 1)
    assert.match(list[0]!.text, /This device/)
    assert.equal(await sessions.getByRole('button', { name: 'Sign out everywhere else' }).isHidden(), true, 'nothing else to sign out')
    assert.equal(await refreshStatus(phoneRefresh), 400, 'the revoked session cannot refresh')
    // The phone's page finds its session gone when it loads again.
    await phone.page.reload()
    await signedOutView(phone.page)
    // The laptop's own session lives on.
    await laptop.page.reload()
    await signedInView(laptop.page)
    assert.equal((await sessionList(laptop.page)).length, 1)
  })

  it('"Sign out everywhere else" ends every other session and keeps this one', async () => {
    await phone.setPresence(phoneKey, true)
    await phone.page.reload()
    await signedInView(phone.page)
    const phoneRefresh = await refreshTokenInStorage(phone.page)
    await laptop.page.reload()
    await signedInView(laptop.page)
    assert.equal((await sessionList(laptop.page)).length, 2)
    await region(laptop.page, 'Your sessions').getByRole('button', { name: 'Sign out everywhere else' }).click()
    await noticeText(laptop.page, 'sessions-notice', /Signed out everywhere else/)
    const list = await sessionList(laptop.page)
    assert.equal(list.length, 1)
    assert.match(list[0]!.text, /This device/)
    assert.equal(await refreshStatus(phoneRefresh!), 400, "the phone's session is revoked")
    await screenshots(laptop.page, 'sessions-signed-out-elsewhere')
    await laptop.page.reload()
    await signedInView(laptop.page)
    assert.equal((await sessionList(laptop.page)).length, 1, 'this one survived: the page signs in again from it')
    assertNoSecurityProblems(laptop.consoleProblems)
  })

  it('"Delete my account": a username that does not match deletes nothing', async () => {
    owner = await newPasskeyPage(browser)
    await owner.addAuthenticator({ transport: 'internal', backupEligible: true })
    const { page } = owner
    await page.goto(svc.url)
    await signUp(page, ownerName)
    const zone = region(page, 'Delete your account')
    await zone.getByRole('button', { name: 'Delete my account…' }).click()
    await zone.getByLabel(`Type your username, ${ownerName}, to confirm`).fill(`${ownerName}x`)
    await zone.getByRole('button', { name: 'Delete my account for good' }).click()
    await noticeText(page, 'delete-account-notice', /The username does not match/)
    assert.equal(await usernameTaken(ownerName), true, 'the account is still there')
    await screenshots(page, 'delete-account-confirm')
    await zone.getByRole('button', { name: 'Keep my account' }).click()
    await zone.getByRole('button', { name: 'Delete my account…' }).waitFor()
  })

  it('"Delete my account" after an old sign-in: the passkey step-up, then the account is erased and the page signed out', async () => {
    const { page } = owner
    const before = await refreshTokenInStorage(page)
    await page.waitForTimeout(MAX_AGE * 1000 + 1200)
    const zone = region(page, 'Delete your account')
    await zone.getByRole('button', { name: 'Delete my account…' }).click()
    await zone.getByLabel(`Type your username, ${ownerName}, to confirm`).fill(ownerName)
    await zone.getByRole('button', { name: 'Delete my account for good' }).click()
    await signedOutView(page).catch(async (e) => {
      throw new Error(`${e}: the notice says ${await page.locator('#delete-account-notice').textContent()}`)
    })
    await noticeText(page, 'page-notice', /Your account is deleted, and you are signed out/)
    const calls = await owner.webauthnCalls()
    assert.equal(calls.filter((c) => c.kind === 'get' && c.mediation !== 'conditional').length >= 1, true, 'the passkey was asked for (step-up)')
    assert.equal(await usernameTaken(ownerName), false, 'the username is free again')
    assert.equal(await refreshStatus(before!), 400, 'the session is gone')
    assert.equal(await refreshTokenInStorage(page), null, 'nothing of the account stays in the tab')
    await screenshots(page, 'account-deleted')
    // Someone (here the same person) can take the name again.
    await signUp(page, ownerName)
    assertNoSecurityProblems(owner.consoleProblems)
  })
})
