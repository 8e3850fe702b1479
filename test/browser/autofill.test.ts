/**
 * Sign-in from the browser's autofill: conditional mediation (WebAuthn §5.1.4
 * `mediation: "conditional"`, #sctn-autofill / CredentialMediationRequirement), started on load
 * when `PublicKeyCredential.isConditionalMediationAvailable()` says so, on the input with
 * `autocomplete="username webauthn"`.
 *
 * How it is driven headless: Chromium's WebAuthn virtual environment (CDP `WebAuthn.enable`)
 * does not show the autofill suggestion list. It hands a conditional request straight to the
 * virtual authenticators when the request starts: with automatic presence simulation on, the
 * authenticator answers at once with its discoverable credential for the RP, exactly what the
 * page receives when a person picks that passkey from the suggestions; with it off, the request
 * stays pending (turning it on later does not answer it). So the tests (1) prove the page starts
 * the conditional request on load with the right options and keeps it pending without any
 * click, and (2) let the virtual authenticator "pick" the passkey and check the page signs in
 * through that request, with no modal request made.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import {
  assertNoSecurityProblems,
  noticeText,
  passkeyList,
  signOut,
  signUp,
  signedInView,
  signedOutView,
  startSignIn,
} from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

describe(
  'passkey page: autofill sign-in (conditional mediation, WebAuthn §5.1.4)',
  { skip: SKIP, timeout: 50_000 },
  () => {
    let svc: BrowserService
    let browser: Browser
    let p: PasskeyPage
    let platform: string
    const username = `fill${process.pid}`

    before(async () => {
      ;[svc, browser] = await Promise.all([startBrowserService({ gateway: false }), launch()])
      p = await newPasskeyPage(browser)
      platform = await p.addAuthenticator({ transport: 'internal', backupEligible: true })
    })
    after(async () => {
      await browser?.close()
      await svc?.close()
    })

    it('should start a conditional request on load, and stay quiet when no passkey exists yet', async () => {
      const { page } = p
      await page.goto(svc.url)
      await signedOutView(page)
      assert.equal(
        await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable()),
        true,
      )
      await page.waitForFunction(
        () => (window as unknown as { __webauthnCalls: unknown[] }).__webauthnCalls.length > 0,
      )
      const [call] = await p.webauthnCalls()
      assert.deepEqual(
        { ...call, at: 0 },
        {
          kind: 'get',
          mediation: 'conditional',
          allowCredentials: 0,
          userVerification: 'required',
          rpId: 'localhost',
          at: 0,
        },
      )
      // The virtual environment ends a conditional request at once when no passkey exists
      // (NotAllowedError): the page says nothing, and does not start another.
      await page.waitForTimeout(300)
      assert.equal(await page.locator('#sign-in-notice').textContent(), '')
      assert.equal((await p.webauthnCalls()).length, 1)
    })

    it('should keep the conditional request pending on the username field, without any click', async () => {
      const { page } = p
      await signUp(page, username)
      // Presence off: the next conditional request waits, as a real browser waits for a choice.
      await p.setPresence(platform, false)
      const before = (await p.webauthnCalls()).length
      await signOut(page)
      await page.waitForFunction(
        (n) => (window as unknown as { __webauthnCalls: unknown[] }).__webauthnCalls.length > n,
        before,
      )
      const calls = (await p.webauthnCalls()).slice(before)
      assert.equal(calls.length, 1)
      assert.equal(calls[0]!.mediation, 'conditional')
      assert.equal(
        calls[0]!.allowCredentials,
        0,
        'conditional requests list no credentials: the browser offers them all',
      )
      const input = page.getByRole('textbox', { name: 'Username (optional)' })
      assert.equal(await input.getAttribute('autocomplete'), 'username webauthn')
      await input.focus()
      await page.waitForTimeout(500)
      await signedOutView(page)
      assert.equal(
        await page.locator('#sign-in-notice').textContent(),
        '',
        'a pending request shows nothing',
      )
      await screenshots(page, 'autofill-pending')
    })

    it('should sign in when the passkey is picked from autofill (no button, no modal prompt)', async () => {
      const { page } = p
      await p.setPresence(platform, true)
      const asserted = new Promise<string>((resolve) =>
        p.cdp.once('WebAuthn.credentialAsserted', (e) => resolve(e.credential.credentialId)),
      )
      // A new load starts a new conditional request, which the authenticator now answers. (The
      // record of WebAuthn calls starts afresh with the new document.)
      await page.reload()
      await signedInView(page)
      await noticeText(page, 'page-notice', /Signed in with your passkey/)
      const calls = await p.webauthnCalls()
      assert.deepEqual(
        calls.map((c) => c.mediation),
        ['conditional'],
        'one conditional request and no modal one',
      )
      const credentialId = await asserted
      assert.ok(credentialId)
      assert.deepEqual(
        (await passkeyList(page)).map((x) => x.tags),
        [['Synced', 'Used for this sign-in']],
      )
    })

    it('should not start a conditional request where the browser has no autofill for passkeys', async () => {
      const q = await newPasskeyPage(browser, {
        initScript: () => {
          PublicKeyCredential.isConditionalMediationAvailable = async () => false
        },
      })
      try {
        await q.addAuthenticator({ transport: 'internal' })
        await q.page.goto(svc.url)
        await signedOutView(q.page)
        await q.page.waitForTimeout(300)
        assert.deepEqual(await q.webauthnCalls(), [])
        // The button still works: a modal request.
        await startSignIn(q.page)
        await noticeText(q.page, 'sign-in-notice', /cancelled|Problem/)
        assert.deepEqual(
          (await q.webauthnCalls()).map((c) => c.mediation),
          [null],
        )
        assertNoSecurityProblems(q.consoleProblems)
      } finally {
        await q.close()
      }
      assertNoSecurityProblems(p.consoleProblems)
    })
  },
)
