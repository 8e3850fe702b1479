/**
 * The page shows authenticator models from the FIDO metadata (issue #15 "Views"; CONTRACT
 * "Authenticator trust"): with a BLOB that names the passkey's model, the passkey list shows the
 * model's name, "FIDO certified" and its icon (an <img> from our own origin), and the
 * administration's "Authenticator models" panel shows the policy with the note that an AAGUID
 * alone is only a claim.
 *
 * Why the passkey is registered by the software authenticator: Chromium's CDP virtual
 * authenticator reports an all-zero AAGUID under attestation `none`, and under `direct` a `packed`
 * statement whose x5c is a self-signed "Batch Certificate" made afresh for every credential (new
 * validity dates each time), so no certificate a BLOB could list is its root: a chain check can
 * never pass, and product code must not special-case it. So the account is created over HTTP by
 * the software authenticator (test/helpers/authenticator.ts, full `packed` attestation chaining to
 * the BLOB's model root), its credential (private key, id, user handle) is added to the browser's
 * virtual authenticator (CDP WebAuthn.addCredential), and the person signs in through the page
 * with it. What the page shows then comes from the service's views, as for any passkey.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { signUp as signUpOverHttp } from '../helpers/client.js'
import { createTestMds, mdsEntry, mdsPayload } from '../helpers/mds.js'
import { SKIP, launch, newPasskeyPage, screenshots, type PasskeyPage } from './browser.js'
import { assertNoSecurityProblems, passkeyList, signedInView, startSignIn } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

const MODEL = 'c0ffee00-0000-4000-8000-0000000000d1'
const b64 = (b64u: string) => Buffer.from(b64u, 'base64url').toString('base64')

/** A real 1×1 PNG: the icon must decode as an image, not just arrive. */
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='

describe('passkey page: authenticator models from the FIDO metadata', { skip: SKIP, timeout: 60_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let p: PasskeyPage
  let dir: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mds-browser-'))
    const mds = await createTestMds()
    const blobFile = join(dir, 'blob.jwt')
    writeFileSync(blobFile, await mds.sign(mdsPayload([await mdsEntry({ aaguid: MODEL, name: 'Virtual Test Key', icon: `data:image/png;base64,${PNG_1X1}` })])))
    ;[svc, browser] = await Promise.all([
      startBrowserService({ gateway: false, env: { ATTESTATION: 'direct', METADATA_BLOB: blobFile, METADATA_ROOT: mds.rootPem } }),
      launch(),
    ])
    // `admin` is in BOOTSTRAP_ADMINS: the same account shows the administration below.
    const soft = new SoftAuthenticator({ aaguid: MODEL, attestation: 'packed-full', backupEligible: false, transports: ['usb'] })
    const up = await signUpOverHttp(svc.url, soft, 'admin', { origin: svc.url })
    assert.equal(up.credential.authenticator?.certified, true)
    const c = soft.exportCredential(up.credential.id)
    p = await newPasskeyPage(browser)
    const key = await p.addAuthenticator({ transport: 'usb', backupEligible: false })
    await p.cdp.send('WebAuthn.addCredential', {
      authenticatorId: key,
      credential: {
        credentialId: b64(c.id),
        isResidentCredential: true,
        rpId: c.rpId,
        privateKey: c.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
        userHandle: b64(c.userHandle),
        signCount: c.counter,
      },
    })
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('the passkey list shows the model name, "FIDO certified" and its icon from our origin', async () => {
    const { page } = p
    await page.goto(svc.url)
    await startSignIn(page, 'admin')
    await signedInView(page)
    const [item] = await passkeyList(page)
    assert.equal(item!.label, 'Virtual Test Key')
    assert.ok(item!.tags.includes('FIDO certified'), item!.tags.join(', '))
    assert.ok(item!.tags.includes('Device-bound'))
    assert.match(item!.text, /Stored in Virtual Test Key/)
    const icon = page.locator('#passkey-list .model-icon').first()
    const src = await icon.getAttribute('src')
    assert.match(src ?? '', /^\/api\/authenticators\/[0-9a-f-]{36}\/icon$/)
    await page.waitForFunction(() => (document.querySelector('#passkey-list .model-icon') as HTMLImageElement | null)?.complete === true)
    assert.equal(await icon.evaluate((img: HTMLImageElement) => img.naturalWidth), 1, 'the icon decoded: served as an image from our origin')
    await screenshots(page, 'passkey-model')
    assertNoSecurityProblems(p.consoleProblems)
  })

  it('the administration shows the policy, the BLOB in use and that an AAGUID alone is only a claim', async () => {
    const { page } = p
    await page.locator('#trust-policy').waitFor()
    assert.equal((await page.locator('#trust-policy').textContent())?.trim(), 'any')
    assert.match((await page.locator('#trust-metadata').textContent()) ?? '', /BLOB no 1, 1 models \(0 refused\), next update 2099-01-01/)
    assert.match((await page.locator('#trust-note').textContent()) ?? '', /only what the client claims/)
    assertNoSecurityProblems(p.consoleProblems)
  })
})
