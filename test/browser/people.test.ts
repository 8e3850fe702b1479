/**
 * Administration of people on the page (CONTRACT v2 "Disabling and deleting accounts",
 * "Sessions", "Users and clients"), in real Chromium: disabling a person ends their session and
 * their page's sign-in answers the `user_disabled` problem until they are enabled again; an
 * administrator sees and ends a person's sessions; the users list pages 100 at a time.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Locator, Page } from 'playwright-core'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { signUp as apiSignUp } from '../helpers/client.js'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { assertNoSecurityProblems, noticeText, refreshTokenInStorage, region, signUp, signedInView, signedOutView, startSignIn } from './flows.js'
import { refreshStatus as refreshStatusAt } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

/** The "People" region of the administration section. */
const people = (page: Page): Locator => region(page, 'People')

/** The usernames on the page of the list shown. */
async function listed(page: Page): Promise<string[]> {
  await page.locator('#people-list[aria-busy="false"]').waitFor()
  return (await page.locator('#people-list > li.person h4').allTextContents()).map((t) => t.replace(/ \(you\)$/, '').trim())
}

describe('passkey page: administration of people', { skip: SKIP, timeout: 120_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let admin: PasskeyPage
  let person: PasskeyPage
  let personKey: string
  const name = `pat${process.pid}`
  const refreshStatus = (token: string | null | undefined) => refreshStatusAt(svc.url, token)

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService({ gateway: false }), launch()])
    admin = await newPasskeyPage(browser)
    await admin.addAuthenticator({ transport: 'internal', backupEligible: true })
    person = await newPasskeyPage(browser)
    personKey = await person.addAuthenticator({ transport: 'internal', backupEligible: true })
    await person.page.goto(svc.url)
    await signUp(person.page, name)
    await admin.page.goto(svc.url)
    await signUp(admin.page, 'admin')
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  it('lists the people; the administrator cannot disable or delete their own account here', async () => {
    const { page } = admin
    assert.deepEqual((await listed(page)).sort(), ['admin', name].sort())
    const region = people(page)
    await region.getByRole('button', { name: `Disable ${name}` }).waitFor()
    assert.equal(await region.getByRole('button', { name: 'Disable admin' }).count(), 0)
    assert.equal(await region.getByRole('button', { name: 'Delete admin' }).count(), 0)
    assert.equal(await region.getByRole('button', { name: 'Next page' }).isHidden(), true, 'one page only')
  })

  it('disable: the person is signed out and their sign-in shows the user_disabled problem; enable: they sign in again', async () => {
    const region = people(admin.page)
    const before = await refreshTokenInStorage(person.page)
    // Their page would sign in again by itself from autofill once signed out: hold it.
    await person.setPresence(personKey, false)
    await region.getByRole('button', { name: `Disable ${name}` }).click()
    await noticeText(admin.page, 'people-notice', new RegExp(`Disabled ${name}\\.`))
    const item = admin.page.locator('#people-list > li.person', { hasText: name })
    assert.deepEqual(await item.locator('.tags li').allTextContents(), ['Disabled'])
    await region.getByRole('button', { name: `Enable ${name}` }).waitFor()
    await screenshots(admin.page, 'people-disabled')
    assert.equal(await refreshStatus(before!), 400, 'disabling revoked the session')

    await person.page.reload()
    await signedOutView(person.page)
    await person.setPresence(personKey, true)
    await startSignIn(person.page, name)
    const text = await noticeText(person.page, 'sign-in-notice', /This account is disabled/)
    assert.match(text, /^Problem: /)
    await screenshots(person.page, 'sign-in-disabled')

    await region.getByRole('button', { name: `Enable ${name}` }).click()
    await noticeText(admin.page, 'people-notice', new RegExp(`Enabled ${name}\\.`))
    assert.deepEqual(await item.locator('.tags li').allTextContents(), [])
    await startSignIn(person.page, name)
    await signedInView(person.page)
  })

  it("sessions: the administrator sees the person's session and ends it", async () => {
    const region = people(admin.page)
    const theirs = await refreshTokenInStorage(person.page)
    await person.setPresence(personKey, false)
    await region.getByRole('button', { name: `Sessions of ${name}` }).click()
    const panel = admin.page.getByRole('region', { name: `Sessions of ${name}` })
    await panel.waitFor()
    const items = await panel.locator('li.session').allInnerTexts()
    assert.equal(items.length, 1, items.join('\n'))
    assert.match(items[0]!, /Chrome \d+ on Linux/)
    assert.match(items[0]!, /Application\s+This page/)
    await screenshots(admin.page, 'people-sessions')
    await panel.getByRole('button', { name: `End all sessions of ${name}` }).click()
    await noticeText(admin.page, 'people-notice', new RegExp(`Ended every session of ${name}`))
    await admin.page.getByRole('region', { name: `Sessions of ${name}` }).getByText('No live sessions.').waitFor()
    assert.equal(await refreshStatus(theirs!), 400)
    await person.page.reload()
    await signedOutView(person.page)
    await person.setPresence(personKey, true)
  })

  it('pages 100 people at a time: "Next page" and "Previous page"', async () => {
    // 100 more people sign up through the API (a software authenticator: real ceremonies).
    const made: string[] = []
    for (let batch = 0; batch < 10; batch++)
      made.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            const username = `bulk${batch}x${i}`
            await apiSignUp(svc.url, new SoftAuthenticator(), username, { origin: svc.url })
            return username
          }),
        )),
      )
    const { page } = admin
    await page.reload()
    await signedInView(page)
    await people(page).getByRole('button', { name: 'Next page' }).waitFor()
    const first = await listed(page)
    assert.equal(first.length, 100)
    await people(page).getByRole('button', { name: 'Next page' }).click()
    await noticeText(page, 'people-notice', /Page 2: 2 people/)
    const second = await listed(page)
    assert.equal(second.length, 2)
    assert.deepEqual([...first, ...second].sort(), [...made, 'admin', name].sort(), 'every person once, across the pages')
    assert.equal(await people(page).getByRole('button', { name: 'Next page' }).isHidden(), true, 'the last page')
    assert.equal((await page.locator('#people-page').textContent())?.trim(), 'Page 2')
    await screenshots(page, 'people-page-2')
    await people(page).getByRole('button', { name: 'Previous page' }).click()
    await noticeText(page, 'people-notice', /Page 1: 100 people/)
    assert.deepEqual(await listed(page), first)
    assertNoSecurityProblems(admin.consoleProblems)
  })
})
