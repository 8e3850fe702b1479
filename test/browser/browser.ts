/**
 * Real Chromium for the browser tests (playwright-core drives the Debian build at
 * /usr/bin/chromium), with CDP virtual authenticators standing in for the person's devices.
 *
 * Virtual authenticators behave like this in Chromium (checked with Chromium 156):
 * - With `automaticPresenceSimulation: true`, every request is answered at once, as if the person
 *   touched the key and passed the screen lock. That includes conditional requests
 *   (`mediation: "conditional"`): Chromium's virtual environment skips the autofill UI and
 *   answers with the authenticator's discoverable credential for the RP.
 * - With it `false`, requests stay pending until their `timeout` (then NotAllowedError), and
 *   turning it on later does not answer a request already pending: only new requests see it.
 * - A conditional request with no credential for the RP fails at once with NotAllowedError.
 * - One `internal` (platform) authenticator per page; others must be `usb`, `nfc`, `ble`, ….
 * - `isUserVerified: false` makes a request that requires UV fail at once with NotAllowedError,
 *   which is what a cancelled prompt looks like to the page.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  chromium,
  type Browser,
  type BrowserContext,
  type CDPSession,
  type Page,
} from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/** `false` when Chromium is installed, else the reason node:test prints for the skipped tests. */
export const SKIP: false | string = existsSync(CHROMIUM)
  ? false
  : `Chromium not installed at ${CHROMIUM}: browser tests skipped`

export const DESKTOP = { width: 1280, height: 800 }
export const PHONE = { width: 390, height: 844 }

export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/browser/', import.meta.url))

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}

export interface AuthenticatorOptions {
  transport?: 'internal' | 'usb' | 'nfc' | 'ble'
  isUserVerified?: boolean
  automaticPresenceSimulation?: boolean
  /** BE flag of new credentials: a synced passkey (true) or a device-bound one (false). */
  backupEligible?: boolean
}

export interface PasskeyPage {
  context: BrowserContext
  page: Page
  cdp: CDPSession
  /** Adds a virtual authenticator (CTAP2, resident keys, user verification) and returns its id. */
  addAuthenticator(opts?: AuthenticatorOptions): Promise<string>
  /** Removes it (a security key unplugged). */
  removeAuthenticator(authenticatorId: string): Promise<void>
  /** Whether the authenticator answers requests by itself (see the notes above). */
  setPresence(authenticatorId: string, enabled: boolean): Promise<void>
  credentials(authenticatorId: string): Promise<{ credentialId: string; userHandle?: string }[]>
  /** Every `navigator.credentials.get/create` call the page made: its mediation and options. */
  webauthnCalls(): Promise<WebAuthnCall[]>
  /** Problems the page reported to its console, and uncaught errors (CSP violations included). */
  consoleProblems: string[]
  close(): Promise<void>
}

export interface WebAuthnCall {
  kind: 'get' | 'create'
  mediation: string | null
  allowCredentials: number
  userVerification: string | null
  rpId: string | null
  at: number
}

/**
 * Records WebAuthn calls for the test to inspect. Runs before the page's own script through CDP,
 * outside the page's CSP, and only observes (the call goes on unchanged).
 */
const RECORD_WEBAUTHN = () => {
  const calls: unknown[] = []
  Object.defineProperty(window, '__webauthnCalls', { value: calls })
  const creds = navigator.credentials
  if (!creds) return
  for (const kind of ['get', 'create'] as const) {
    const original = creds[kind].bind(creds)
    creds[kind] = (options?: CredentialRequestOptions & CredentialCreationOptions) => {
      const pk = options?.publicKey as
        (PublicKeyCredentialRequestOptions & { userVerification?: string }) | undefined
      calls.push({
        kind,
        mediation: options?.mediation ?? null,
        allowCredentials: pk?.allowCredentials?.length ?? 0,
        userVerification:
          pk?.userVerification ??
          (options?.publicKey as PublicKeyCredentialCreationOptions | undefined)
            ?.authenticatorSelection?.userVerification ??
          null,
        rpId:
          pk?.rpId ??
          (options?.publicKey as PublicKeyCredentialCreationOptions | undefined)?.rp?.id ??
          null,
        at: Date.now(),
      })
      return original(options)
    }
  }
}

/** A fresh browser context and page with WebAuthn's virtual environment enabled. */
export async function newPasskeyPage(
  browser: Browser,
  opts: { viewport?: { width: number; height: number }; initScript?: () => void; userAgent?: string } = {},
): Promise<PasskeyPage> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? DESKTOP,
    reducedMotion: 'reduce',
    ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
  })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const consoleProblems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning')
      consoleProblems.push(`${m.type()}: ${m.text()}`)
  })
  page.on('pageerror', (e) => consoleProblems.push(`pageerror: ${e.message}`))
  await page.addInitScript(RECORD_WEBAUTHN)
  if (opts.initScript) await page.addInitScript(opts.initScript)
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  return {
    context,
    page,
    cdp,
    async addAuthenticator(a = {}) {
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: a.transport ?? 'internal',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: a.isUserVerified ?? true,
          automaticPresenceSimulation: a.automaticPresenceSimulation ?? true,
          ...(a.backupEligible !== undefined
            ? { defaultBackupEligibility: a.backupEligible, defaultBackupState: a.backupEligible }
            : {}),
        },
      })
      return authenticatorId
    },
    async removeAuthenticator(authenticatorId) {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId })
    },
    async setPresence(authenticatorId, enabled) {
      await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled })
    },
    async credentials(authenticatorId) {
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
      return credentials.map((c) => ({ credentialId: c.credentialId, userHandle: c.userHandle }))
    },
    webauthnCalls: () =>
      page.evaluate(() =>
        (window as unknown as { __webauthnCalls: WebAuthnCall[] }).__webauthnCalls.slice(),
      ),
    consoleProblems,
    close: () => context.close(),
  }
}

/**
 * Copies every credential of one virtual authenticator into another (private key, user handle,
 * counter): a synced passkey arriving on the person's other device.
 */
export async function copyCredentials(
  from: PasskeyPage,
  fromId: string,
  to: PasskeyPage,
  toId: string,
): Promise<number> {
  const { credentials } = await from.cdp.send('WebAuthn.getCredentials', { authenticatorId: fromId })
  for (const credential of credentials)
    await to.cdp.send('WebAuthn.addCredential', { authenticatorId: toId, credential })
  return credentials.length
}

/**
 * Saves `test-results/browser/<name>-desktop.png` (1280×800) and `<name>-phone.png` (390×844),
 * full page, then restores the desktop size. Focus stays where it was.
 */
export async function screenshots(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const files: string[] = []
  for (const [size, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    await page.setViewportSize(viewport)
    const path = join(SCREENSHOTS, `${name}-${size}.png`)
    await page.screenshot({ path, fullPage: true, animations: 'disabled' })
    files.push(path)
  }
  await page.setViewportSize(DESKTOP)
  return files
}
