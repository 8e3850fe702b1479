/**
 * What a person does on the page, as steps the browser tests share. Everything is found the way
 * assistive technology finds it: by role and accessible name, or by label.
 */
import assert from 'node:assert/strict'
import type { Locator, Page } from 'playwright-core'

export const region = (page: Page, name: string) => page.getByRole('region', { name, exact: true })

/** Waits until the live region `#id` shows text matching `re`; returns its text. */
export async function noticeText(page: Page, id: string, re: RegExp): Promise<string> {
  const loc = page.locator(`#${id}`, { hasText: re })
  await loc.waitFor()
  return (await loc.textContent()) ?? ''
}

export async function signedOutView(page: Page): Promise<void> {
  await page.getByRole('heading', { level: 1, name: 'Sign in without a password' }).waitFor()
}

export async function signedInView(page: Page): Promise<void> {
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor()
  await page.locator('#passkey-list[aria-busy="false"] .passkey').first().waitFor()
}

/** Fills "Create an account" and presses its button. */
export async function startSignUp(
  page: Page,
  username: string,
  displayName?: string,
): Promise<void> {
  const form = region(page, 'Create an account')
  await form.getByLabel('Username', { exact: true }).fill(username)
  if (displayName) await form.getByLabel('Display name (optional)').fill(displayName)
  await form.getByRole('button', { name: 'Create account with a passkey' }).click()
}

export async function signUp(page: Page, username: string, displayName?: string): Promise<void> {
  await startSignUp(page, username, displayName)
  await signedInView(page)
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click()
  await signedOutView(page)
  await noticeText(page, 'page-notice', /You are signed out/)
}

/** Presses "Sign in with a passkey", with `username` typed first when given. */
export async function startSignIn(page: Page, username?: string): Promise<void> {
  const form = region(page, 'Sign in')
  await form.getByLabel('Username (optional)').fill(username ?? '')
  await form.getByRole('button', { name: 'Sign in with a passkey' }).click()
}

/** The passkey list items, in order: label, tags and facts as the page shows them. */
export async function passkeyList(
  page: Page,
): Promise<{ label: string; tags: string[]; text: string }[]> {
  const items = page.locator('#passkey-list > li.passkey')
  const out = []
  for (const item of await items.all()) {
    out.push({
      label: ((await item.locator('h3').textContent()) ?? '').trim(),
      tags: (await item.locator('.tags li').allTextContents()).map((t) => t.trim()),
      text: (await item.innerText()).replace(/\s+/g, ' '),
    })
  }
  return out
}

export function passkeyItem(page: Page, label: string): Locator {
  return page
    .locator('#passkey-list > li.passkey')
    .filter({ has: page.getByRole('heading', { name: label, exact: true }) })
}

/** The element that has focus: its tag, id and text, for "focus moved to the result" checks. */
export async function focused(page: Page): Promise<{ tag: string; id: string; text: string }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null
    return {
      tag: el?.tagName.toLowerCase() ?? '',
      id: el?.id ?? '',
      text: (el?.textContent ?? '').trim(),
    }
  })
}

/** The access token's claims, decoded from the table the page shows (raw JSON view). */
export async function shownClaims(page: Page): Promise<Record<string, unknown>> {
  const raw = await page.locator('#claims-raw').textContent()
  return JSON.parse(raw ?? '{}') as Record<string, unknown>
}

/**
 * The token endpoint's status for a refresh with `token`. Refuses a missing or empty token: a
 * "refused" answer must come from the revocation being checked, not from sending nothing.
 */
export async function refreshStatus(serviceUrl: string, token: string | null | undefined): Promise<number> {
  assert.ok(token, 'a refresh token to try (none was stored)')
  const res = await fetch(`${serviceUrl}/api/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
  })
  return res.status
}

export async function refreshTokenInStorage(page: Page): Promise<string | null> {
  return page.evaluate(() => sessionStorage.getItem('passkey-edge.refresh'))
}

/** CSP or Trusted Types violations and uncaught errors among the console problems. */
export function securityProblems(problems: string[]): string[] {
  return problems.filter((p) => /Content Security Policy|Trusted Type|pageerror/i.test(p))
}

export function assertNoSecurityProblems(problems: string[]): void {
  assert.deepEqual(
    securityProblems(problems),
    [],
    'the page ran without CSP / Trusted Types violations or uncaught errors',
  )
}

/** Presses the sample API button for `method path` and returns the verdict line. */
export async function callSample(page: Page, method: string, path: string): Promise<string> {
  await page.locator('#api-result').evaluate((el) => el.replaceChildren())
  await page
    .getByRole('button', { name: new RegExp(`^${method} ${path.replace(/\//g, '\\/')} `) })
    .click()
  const verdict = page.locator('#api-result .verdict:not(.verdict-busy)')
  await verdict.waitFor()
  return ((await verdict.textContent()) ?? '').trim()
}
