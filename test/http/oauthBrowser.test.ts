/**
 * The hosted passkey page in a real browser (headless Chromium, CDP virtual authenticator) against
 * the real service on Azurite: its CSP lets its own script run (and nothing else), conditional
 * mediation (autofill) signs in as soon as the page opens, the button signs in usernameless where
 * autofill is not available, and the redirect carries a code that the token endpoint takes.
 * Skipped when Chromium is not installed (.ci/run installs it).
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { form } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { registerClient } from '../oauth/helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? false : `Chromium not installed at ${CHROMIUM}`

describe('Hosted sign-in page in Chromium', { skip }, () => {
  let azurite: Azurite
  let svc: TestService
  let browser: Browser
  let origin: string
  let clientId: string
  let callback: string

  /** A page with a virtual platform authenticator that answers without a person. */
  async function passkeyPage(): Promise<{ page: Page; logs: string[] }> {
    const page = await browser.newPage()
    const logs: string[] = []
    page.on('console', (m) => logs.push(m.text()))
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`))
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    })
    return { page, logs }
  }

  before(async () => {
    azurite = await startAzurite()
    const port = await freePort()
    origin = `http://localhost:${port}`
    svc = await startService({ connectionString: azurite.connectionString, port, env: { ALLOWED_ORIGINS: origin, BOOTSTRAP_ADMINS: 'ada' } })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
    await azurite?.stop()
  })

  /** Signs up in the page's origin (the contract's registration ceremony); returns the access token. */
  async function signUp(page: Page, username: string): Promise<string> {
    await page.goto(`${origin}/api/health`)
    // A string, not a function: the test runner's transpiler would add helpers the page lacks.
    return (await page.evaluate(`(async () => {
      const post = (p, b) => fetch(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) }).then((r) => r.json())
      const o = await post('/api/webauthn/registration/options', { username: ${JSON.stringify(username)} })
      const cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o) })
      return (await post('/api/webauthn/registration/verify', { credential: cred.toJSON() })).tokens.access_token
    })()`)) as string
  }

  function authorizeUrl(challenge: string): string {
    return `${origin}/api/oauth2/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: callback, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', state: 'st', nonce: 'n1', scope: 'openid' })}`
  }

  async function exchange(url: string, verifier: string) {
    const back = new URL(url)
    assert.equal(back.searchParams.get('state'), 'st')
    assert.equal(back.searchParams.get('iss'), svc.config.issuer)
    const r = await form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: callback, client_id: clientId, code_verifier: verifier })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.ok(r.body.id_token)
  }

  it('autofill (conditional mediation) signs in as the page opens; no CSP violation', async () => {
    const { page, logs } = await passkeyPage()
    const admin = await signUp(page, 'ada')
    callback = `${origin.replace('localhost', '127.0.0.1')}/callback`
    clientId = (await registerClient(svc.url, admin, { name: 'Browser app', redirect_uris: [callback] })).client_id
    const verifier = randomBytes(32).toString('base64url')
    await page.goto(authorizeUrl(createHash('sha256').update(verifier).digest('base64url')))
    await page.waitForURL(/\/callback\?/, { timeout: 15_000 })
    await exchange(page.url(), verifier)
    assert.deepEqual(logs.filter((l) => /Content Security Policy|Refused to|pageerror/.test(l)), [])
    await page.close()
  })

  it('without autofill, the button signs in usernameless', async () => {
    const { page, logs } = await passkeyPage()
    await signUp(page, 'bea')
    // A browser without conditional mediation: the page must fall back to its button.
    await page.addInitScript('PublicKeyCredential.isConditionalMediationAvailable = async () => false')
    const verifier = randomBytes(32).toString('base64url')
    await page.goto(authorizeUrl(createHash('sha256').update(verifier).digest('base64url')))
    assert.equal(await page.getAttribute('#username', 'autocomplete'), 'username webauthn')
    await page.click('#signin')
    await page.waitForURL(/\/callback\?/, { timeout: 15_000 })
    await exchange(page.url(), verifier)
    assert.deepEqual(logs.filter((l) => /Content Security Policy|Refused to|pageerror/.test(l)), [])
    await page.close()
  })
})
