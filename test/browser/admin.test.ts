/**
 * Administration on the page, and the sample API through the dev gateway (the APIM stand-in):
 * an administrator defines a role's permission, grants the role, and the gateway's decision for
 * `GET /sample/orders` flips from denied (403) to allowed (200) and back when the permission
 * changes (CONTRACT "Authorizer": live roles). AUTHZ_CACHE_TTL=0, so no decision is reused.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { callSample, assertNoSecurityProblems, focused, noticeText, signUp, signedOutView } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

describe(
  'passkey page: administration and the sample API through the gateway',
  { skip: SKIP, timeout: 50_000 },
  () => {
    let svc: BrowserService
    let browser: Browser
    let p: PasskeyPage
    const role = 'orders-viewer'

    before(async () => {
      ;[svc, browser] = await Promise.all([
        startBrowserService({ env: { AUTHZ_CACHE_TTL: '0' } }),
        launch(),
      ])
      p = await newPasskeyPage(browser)
      await p.addAuthenticator({ transport: 'internal', backupEligible: true })
    })
    after(async () => {
      await browser?.close()
      await svc?.close()
    })

    it('should show the administration section to a user with role admin (BOOTSTRAP_ADMINS)', async () => {
      const { page } = p
      await page.goto(svc.url)
      await signedOutView(page)
      await signUp(page, 'admin')
      const admin = page.getByRole('region', { name: 'Administration' })
      await admin.waitFor()
      await admin.getByRole('heading', { name: 'Roles and permissions' }).waitFor()
    })

    it('should call the sample API through the gateway: denied without a permitting role', async (t) => {
      if (!svc.gatewayUrl)
        return t.skip('the local server started no dev gateway (startLocalServer gateway option)')
      const { page } = p
      assert.equal(await page.locator('#gateway-url').textContent(), svc.gatewayUrl)
      const verdict = await callSample(page, 'GET', '/sample/orders')
      assert.match(verdict, /Denied: 403 Forbidden\./)
      assert.match((await page.locator('#api-result').textContent()) ?? '', /no role permits/i)
      assert.equal((await focused(page)).id, 'api-result')
      await screenshots(page, 'api-denied')
    })

    it('should create a role with a permission, grant it, and the decision flips to allowed', async (t) => {
      if (!svc.gatewayUrl)
        return t.skip('the local server started no dev gateway (startLocalServer gateway option)')
      const { page } = p
      const admin = page.getByRole('region', { name: 'Administration' })
      await admin.getByLabel('New role name').fill(role)
      await admin.getByRole('button', { name: 'Create role' }).click()
      await noticeText(page, 'roles-notice', new RegExp(`Created role ${role}`))
      const form = page.getByRole('form', { name: role })
      await form.getByRole('button', { name: `Add permission to ${role}` }).click()
      await form.getByLabel('Methods').fill('GET')
      await form.getByLabel('Path').fill('/orders/**')
      await form.getByRole('button', { name: `Save ${role}` }).click()
      await noticeText(page, 'roles-notice', new RegExp(`Saved ${role}\\. 1 permission`))

      await admin.getByLabel('Username to look up').fill('admin')
      await admin.getByRole('button', { name: 'Look up' }).click()
      await admin.getByRole('heading', { name: 'admin', exact: true }).waitFor()
      await admin.getByLabel('Role to add').selectOption(role)
      await admin.getByRole('button', { name: 'Add role to admin' }).click()
      await noticeText(page, 'users-notice', new RegExp(`admin now has role ${role}`))
      await admin.getByRole('button', { name: `Remove role ${role} from admin` }).waitFor()
      await screenshots(page, 'admin')

      const verdict = await callSample(page, 'GET', '/sample/orders')
      assert.match(verdict, /Allowed: GET \/sample\/orders answered 200 OK\./)
      const body = JSON.parse((await page.locator('#api-result pre').textContent()) ?? '{}') as {
        path: string
        roles: string
      }
      assert.equal(body.path, '/orders', 'the echo backend got the call')
      assert.match(body.roles, new RegExp(role))
      await screenshots(page, 'api-allowed')
      assert.match(await callSample(page, 'DELETE', '/sample/orders/42'), /Denied: 403/)
    })

    it('should flip back to denied when the permission changes, and allow what it now names', async (t) => {
      if (!svc.gatewayUrl)
        return t.skip('the local server started no dev gateway (startLocalServer gateway option)')
      const { page } = p
      const form = page.getByRole('form', { name: role })
      await form.getByLabel('Methods').fill('DELETE')
      await form.getByRole('button', { name: `Save ${role}` }).click()
      await noticeText(page, 'roles-notice', new RegExp(`Saved ${role}`))
      assert.match(await callSample(page, 'GET', '/sample/orders'), /Denied: 403/)
      assert.match(
        await callSample(page, 'DELETE', '/sample/orders/42'),
        /Allowed: DELETE \/sample\/orders\/42 answered 200/,
      )

      await page.getByRole('button', { name: `Remove role ${role} from admin` }).click()
      await noticeText(page, 'users-notice', new RegExp(`admin no longer has role ${role}`))
      assert.match(await callSample(page, 'DELETE', '/sample/orders/42'), /Denied: 403/)
    })

    it('should show the audit log when the service has one', async (t) => {
      const audit = p.page.getByRole('region', { name: 'Audit log' })
      await p.page
        .getByRole('button', { name: 'Refresh the audit log' })
        .click()
        .catch(() => {})
      if (!(await audit.isVisible()))
        return t.skip('GET /api/manage/audit does not answer 200 here')
      await noticeText(p.page, 'audit-notice', /Audit log refreshed/)
      const rows = await p.page.locator('#audit-body tr').allInnerTexts()
      assert.ok(
        rows.some((r) => r.includes('role.put') && r.includes(role)),
        'the role change is in the log',
      )
      assert.ok(rows.some((r) => r.includes('user.role_granted')))
      await screenshots(p.page, 'admin-audit')
      assertNoSecurityProblems(p.consoleProblems)
    })

    it('should not show administration to other users', async () => {
      const q = await newPasskeyPage(browser)
      try {
        await q.addAuthenticator({ transport: 'internal' })
        await q.page.goto(svc.url)
        await signedOutView(q.page)
        await signUp(q.page, `viewer${process.pid}`)
        assert.equal(await q.page.locator('#admin').isHidden(), true)
      } finally {
        await q.close()
      }
    })
  },
)
