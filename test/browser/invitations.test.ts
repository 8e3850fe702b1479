/**
 * CONTRACT v2 "Invitations", "Recovery" and "Disabling and deleting accounts" on the page, in real
 * Chromium, with REGISTRATION=closed: an administrator invites someone (the link shown once, with
 * Copy), the link lands on "You were invited as …" and one button creates the account with the
 * invitation's roles; a used or revoked link says why it cannot be used; a recovery link adds a
 * passkey on a new device and ends the old sessions; deleting an account frees its username.
 * The token never stays in the address bar (history.replaceState).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { assertNoSecurityProblems, noticeText, passkeyList, refreshTokenInStorage, region, shownClaims, signUp, signedInView, signedOutView } from './flows.js'
import { refreshStatus as refreshStatusAt } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

const ROLE = 'orders-viewer'

describe('passkey page: invitations, recovery links and deleting people (REGISTRATION=closed)', { skip: SKIP, timeout: 120_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let admin: PasskeyPage
  let carol: PasskeyPage
  const invited = `carol${process.pid}`
  let invitationUrl = ''
  /** The session the recovery link made (the person's only one afterwards). */
  let recoveredRefresh = ''
  const refreshStatus = (token: string | null | undefined) => refreshStatusAt(svc.url, token)
  /** A fresh device: its own context and platform authenticator. */
  const device = async () => {
    const d = await newPasskeyPage(browser)
    await d.addAuthenticator({ transport: 'internal', backupEligible: true })
    return d
  }
  /** Fills "Invite someone" and returns the link shown. */
  const invite = async (page: Page, username: string, opts: { displayName?: string; roles?: string } = {}) => {
    const form = region(page, 'Invite someone')
    await form.getByLabel('Username', { exact: true }).fill(username)
    if (opts.displayName) await form.getByLabel('Display name (optional)').fill(opts.displayName)
    if (opts.roles) await form.getByLabel('Roles (optional, comma separated)').fill(opts.roles)
    await form.getByRole('button', { name: 'Create invitation link' }).click()
    await form.getByRole('heading', { name: `Invitation for ${username}` }).waitFor()
    return form.getByLabel('Invitation link', { exact: true }).inputValue()
  }
  const pending = async (page: Page) => (await page.locator('#invitation-list > li.invitation').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '))

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService({ gateway: false, env: { REGISTRATION: 'closed' } }), launch()])
    admin = await device()
    await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: svc.url })
    await admin.page.goto(svc.url)
    await signUp(admin.page, 'admin')
    const roles = region(admin.page, 'Roles and permissions')
    await roles.getByLabel('New role name').fill(ROLE)
    await roles.getByRole('button', { name: 'Create role' }).click()
    await noticeText(admin.page, 'roles-notice', new RegExp(`Created role ${ROLE}`))
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  it('"Invite someone" shows the link once, with Copy; the invitation is listed as pending', async () => {
    const { page } = admin
    invitationUrl = await invite(page, invited, { displayName: 'Carol', roles: ROLE })
    assert.match(invitationUrl, /#invitation=[A-Za-z0-9_.-]{16,}$/)
    assert.ok(invitationUrl.startsWith(`${svc.url}/`), 'the link opens this page')
    const form = region(page, 'Invite someone')
    await form.getByRole('button', { name: 'Copy the invitation link' }).click()
    await form.getByText('Copied.').waitFor()
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), invitationUrl, 'Copy put the link on the clipboard')
    const list = await pending(page)
    assert.equal(list.length, 1)
    assert.match(list[0]!, new RegExp(`${invited} · ${ROLE}`))
    assert.doesNotMatch(list.join(' '), /#invitation=/, 'the pending list holds no token')
    await screenshots(page, 'invitation-created')
  })

  it('the link lands on "You were invited as …"; one button creates the account with the invitation\'s roles', async () => {
    carol = await device()
    const { page } = carol
    await page.goto(invitationUrl)
    await page.getByRole('heading', { level: 1, name: `You were invited as ${invited}` }).waitFor()
    assert.equal(await page.evaluate(() => location.hash), '', 'the token left the address bar')
    assert.equal(page.url(), invitationUrl.replace(/#.*$/, ''), 'the address without its fragment')
    await screenshots(page, 'invitation-landing')
    await page.getByRole('button', { name: 'Create your passkey' }).click()
    await signedInView(page)
    await noticeText(page, 'page-notice', new RegExp(`Welcome, ${invited}`))
    assert.equal(await page.locator('#who-name').textContent(), `Carol (${invited})`)
    assert.deepEqual((await shownClaims(page)).roles, [ROLE], "the invitation's roles")
    const created = (await carol.webauthnCalls()).filter((c) => c.kind === 'create')
    assert.equal(created.length, 1, 'one passkey prompt')
    await admin.page.reload()
    await signedInView(admin.page)
    await region(admin.page, 'Invite someone').waitFor()
    assert.deepEqual(await pending(admin.page), [], 'the invitation was used')
    assertNoSecurityProblems(carol.consoleProblems)
  })

  it('a used invitation link says so (the problem), not a blank page; "Go to the sign-in page" leaves', async () => {
    const other = await device()
    try {
      await other.page.goto(invitationUrl)
      await other.page.getByRole('heading', { level: 1, name: 'This invitation cannot be used' }).waitFor()
      const text = await noticeText(other.page, 'landing-notice', /Problem:/)
      assert.match(text, /invitation/i)
      assert.equal(await other.page.getByRole('button', { name: 'Create your passkey' }).isHidden(), true)
      assert.equal(await other.page.evaluate(() => location.hash), '')
      await screenshots(other.page, 'invitation-invalid')
      await other.page.getByRole('button', { name: 'Go to the sign-in page' }).click()
      await signedOutView(other.page)
    } finally {
      await other.close()
    }
  })

  it('"Revoke" takes a pending invitation back: its link no longer works', async () => {
    const { page } = admin
    const name = `dave${process.pid}`
    const url = await invite(page, name)
    assert.equal((await pending(page)).length, 1)
    await region(page, 'Invite someone').getByRole('button', { name: `Revoke the invitation for ${name}` }).click()
    await noticeText(page, 'invite-notice', new RegExp(`Revoked the invitation for ${name}`))
    assert.deepEqual(await pending(page), [])
    const other = await device()
    try {
      await other.page.goto(url)
      await other.page.getByRole('heading', { level: 1, name: 'This invitation cannot be used' }).waitFor()
    } finally {
      await other.close()
    }
  })

  it('a recovery link (shown once) adds a passkey on a new device, signs in, and ends the old sessions', async () => {
    const before = await refreshTokenInStorage(carol.page)
    const people = region(admin.page, 'People')
    await people.getByRole('button', { name: `Recovery link for ${invited}` }).click()
    const field = people.getByLabel(`Recovery link for ${invited}`, { exact: true })
    const url = await field.inputValue()
    assert.match(url, /#recovery=[A-Za-z0-9_.-]{16,}$/)
    await people.getByRole('button', { name: 'Copy the recovery link' }).click()
    await people.getByText('Copied.').waitFor()
    assert.equal(await admin.page.evaluate(() => navigator.clipboard.readText()), url)
    await screenshots(admin.page, 'recovery-link')

    const phone = await device()
    try {
      await phone.page.goto(url)
      await phone.page.getByRole('heading', { level: 1, name: 'Add a new passkey to your account' }).waitFor()
      assert.match((await phone.page.locator('#landing-lead').textContent()) ?? '', new RegExp(`Account: ${invited}\\.`))
      assert.equal(await phone.page.evaluate(() => location.hash), '')
      await screenshots(phone.page, 'recovery-landing')
      await phone.page.getByRole('button', { name: 'Create a new passkey' }).click()
      await signedInView(phone.page)
      await noticeText(phone.page, 'passkeys-notice', /Lost your other passkeys\?/)
      assert.equal((await passkeyList(phone.page)).length, 2, 'the new passkey beside the lost one')
      assert.equal((await shownClaims(phone.page)).sub, (await shownClaims(carol.page)).sub, 'the same account')
      await screenshots(phone.page, 'recovery-signed-in')
      assert.equal(await refreshStatus(before!), 400, 'the earlier session was revoked')
      recoveredRefresh = (await refreshTokenInStorage(phone.page)) ?? ''
      assertNoSecurityProblems(phone.consoleProblems)
    } finally {
      await phone.close()
    }
  })

  it('"Delete" a person after a confirmation: the account is gone and the username can be invited again', async () => {
    const { page } = admin
    await page.reload()
    await signedInView(page)
    const people = region(page, 'People')
    await people.getByRole('button', { name: `Delete ${invited}` }).click()
    await people.getByRole('group', { name: `Delete ${invited}?` }).waitFor()
    await screenshots(page, 'person-delete-confirm')
    await people.getByRole('button', { name: `Delete for good ${invited}` }).click()
    await noticeText(page, 'people-notice', new RegExp(`Deleted ${invited}\\.`))
    assert.equal(await page.locator('#people-list > li.person', { hasText: invited }).count(), 0)
    assert.equal(await refreshStatus(recoveredRefresh), 400, 'her session ended with the account')
    assert.match(await invite(page, invited), /#invitation=/, 'the username is free again')
    assertNoSecurityProblems(admin.consoleProblems)
  })
})
