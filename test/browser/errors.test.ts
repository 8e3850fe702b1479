/**
 * What the page tells people when something goes wrong: a cancelled prompt and a timeout (both
 * NotAllowedError, WebAuthn §5.1.3 / §5.1.4), a browser without WebAuthn, server problems (RFC
 * 9457 `title` and `detail` shown), and a gateway that is not running. The service here runs
 * without its dev gateway, so nothing answers on GATEWAY_PORT.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SKIP, launch, newPasskeyPage, screenshots } from './browser.js'
import {
  assertNoSecurityProblems,
  focused,
  noticeText,
  region,
  signUp,
  signedOutView,
  startSignIn,
  startSignUp,
} from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

describe('passkey page: errors people can act on', { skip: SKIP, timeout: 50_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let n = 0
  const uniq = () => `err${process.pid}n${++n}`

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService({ gateway: false }), launch()])
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  it('should say the prompt was cancelled (NotAllowedError right away)', async () => {
    const p = await newPasskeyPage(browser)
    try {
      // An authenticator that fails user verification refuses at once, as a cancelled prompt does.
      await p.addAuthenticator({ isUserVerified: false })
      await p.page.goto(svc.url)
      await signedOutView(p.page)
      await startSignUp(p.page, uniq())
      const text = await noticeText(p.page, 'sign-up-notice', /Problem/)
      assert.match(text, /^Problem: The passkey prompt was cancelled\. No passkey was created\./)
      assert.match((await focused(p.page)).text, /cancelled/, 'focus moves to the message')
      await screenshots(p.page, 'error-cancelled')
      assertNoSecurityProblems(p.consoleProblems)
    } finally {
      await p.close()
    }
  })

  it('should say the prompt timed out (NotAllowedError after the options’ timeout)', async () => {
    const p = await newPasskeyPage(browser)
    try {
      // Nobody answers: no presence. A 1.5 s timeout instead of CHALLENGE_TTL's 5 minutes.
      await p.addAuthenticator({ automaticPresenceSimulation: false })
      await p.page.route('**/api/webauthn/authentication/options', async (route) => {
        const res = await route.fetch()
        const json = (await res.json()) as Record<string, unknown>
        await route.fulfill({ response: res, json: { ...json, timeout: 1500 } })
      })
      await p.page.goto(svc.url)
      await signedOutView(p.page)
      await startSignIn(p.page)
      const text = await noticeText(p.page, 'sign-in-notice', /Problem/)
      assert.match(
        text,
        /^Problem: The passkey prompt timed out\. Nothing was chosen within 2 seconds\./,
      )
    } finally {
      await p.close()
    }
  })

  it('should say when the browser cannot use passkeys', async () => {
    const p = await newPasskeyPage(browser, {
      initScript: () => {
        delete (window as { PublicKeyCredential?: unknown }).PublicKeyCredential
      },
    })
    try {
      await p.page.goto(svc.url)
      await signedOutView(p.page)
      assert.match(
        (await p.page.locator('#unsupported').textContent()) ?? '',
        /This browser cannot use passkeys\./,
      )
      await startSignIn(p.page)
      assert.match(
        await noticeText(p.page, 'sign-in-notice', /Problem/),
        /This browser cannot use passkeys\. Use a current version/,
      )
      assert.deepEqual(await p.webauthnCalls(), [])
      await screenshots(p.page, 'error-unsupported')
    } finally {
      await p.close()
    }
  })

  it("should show the server's problem title and detail (username taken, invalid, storage down)", async () => {
    const p = await newPasskeyPage(browser)
    try {
      const platform = await p.addAuthenticator({ transport: 'internal' })
      await p.page.goto(svc.url)
      await signedOutView(p.page)
      const taken = uniq()
      await signUp(p.page, taken)
      // Signed out, the page offers the passkey through autofill: keep that request pending.
      await p.setPresence(platform, false)
      await p.page.getByRole('button', { name: 'Sign out', exact: true }).click()
      await signedOutView(p.page)

      await startSignUp(p.page, taken)
      assert.match(
        await noticeText(p.page, 'sign-up-notice', /Problem/),
        /^Problem: Username already taken\. That username is taken$/,
      )
      assert.equal(
        await region(p.page, 'Create an account')
          .getByLabel('Username', { exact: true })
          .getAttribute('aria-invalid'),
        'true',
      )

      await startSignUp(p.page, 'no spaces allowed')
      assert.match(
        await noticeText(p.page, 'sign-up-notice', /Invalid/),
        /^Problem: Invalid request\. username must be 3–64 characters/,
      )

      await p.page.route('**/api/webauthn/authentication/options', (route) =>
        route.fulfill({
          status: 503,
          contentType: 'application/problem+json',
          body: JSON.stringify({
            type: 'about:blank',
            title: 'Storage unavailable',
            status: 503,
            detail: 'The storage service did not answer; nothing was changed.',
            code: 'storage_unavailable',
          }),
        }),
      )
      await startSignIn(p.page)
      assert.match(
        await noticeText(p.page, 'sign-in-notice', /Storage/),
        /^Problem: Storage unavailable\. The storage service did not answer; nothing was changed\.$/,
      )
      await screenshots(p.page, 'error-server')
      assertNoSecurityProblems(p.consoleProblems)
    } finally {
      await p.close()
    }
  })

  it('should say "gateway not running" when nothing answers on GATEWAY_PORT', async () => {
    const p = await newPasskeyPage(browser)
    try {
      await p.addAuthenticator({ transport: 'internal' })
      await p.page.goto(svc.url)
      await signedOutView(p.page)
      await signUp(p.page, uniq())
      assert.equal(
        await p.page.locator('#gateway-url').textContent(),
        `http://localhost:${svc.gatewayPort}`,
      )
      await p.page.getByRole('button', { name: /GET \/sample\/orders List orders/ }).click()
      const result = p.page.locator('#api-result', { hasText: 'Gateway not running' })
      await result.waitFor()
      assert.match(
        (await result.textContent()) ?? '',
        new RegExp(`Nothing answered at http://localhost:${svc.gatewayPort}`),
      )
      assert.equal((await focused(p.page)).id, 'api-result', 'focus moves to the result')
      await screenshots(p.page, 'gateway-not-running')
      assertNoSecurityProblems(p.consoleProblems)
    } finally {
      await p.close()
    }
  })
})
