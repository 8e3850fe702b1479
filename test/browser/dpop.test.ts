/**
 * CONTRACT v2 "DPoP" on the page, in real Chromium, through the dev gateway (docs/dpop.md "The
 * page binds its own tokens"): the page's key is a non-extractable WebCrypto ES256 key kept in
 * IndexedDB; its sign-up and sign-in tokens are DPoP-bound; its own calls (the account view, the
 * sample API through the gateway, refreshes, a reload) work with proofs; a token lifted from the
 * page's traffic and replayed without the key gets 401 at the gateway, and its refresh token is
 * refused at the token endpoint.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { bearer, call, decodeJwt, signUp as apiSignUp } from '../helpers/client.js'
import { DPoPKey } from '../helpers/dpop.js'
import { SKIP, launch, newPasskeyPage, type PasskeyPage } from './browser.js'
import { callSample, assertNoSecurityProblems, refreshStatus, refreshTokenInStorage, shownClaims, signUp, signedInView } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

describe('passkey page: tokens bound to the browser (RFC 9449 DPoP)', { skip: SKIP, timeout: 60_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let p: PasskeyPage
  let admin: string
  const username = `binder${process.pid}`

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService(), launch()])
    admin = (await apiSignUp(svc.url, new SoftAuthenticator(), 'admin', { origin: svc.url })).tokens.access_token
    const r = await call(svc.url, 'PUT', '/api/manage/roles/orders-reader', { permissions: [{ methods: ['GET'], path: '/orders' }] }, bearer(admin))
    assert.equal(r.status, 200, JSON.stringify(r.body))
    p = await newPasskeyPage(browser)
    await p.addAuthenticator({ transport: 'internal', backupEligible: true })
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
  })

  it("the page's tokens are bound to its non-extractable key; a token lifted from the page gets 401 at the gateway", async (t) => {
    if (!svc.gatewayUrl) return t.skip('the local server started no dev gateway')
    const { page } = p
    // What goes over the wire: what someone with devtools or a proxy log could copy.
    const sent: { url: string; authorization?: string; dpop?: string }[] = []
    page.on('request', (req) => {
      const h = req.headers()
      sent.push({ url: req.url(), ...(h.authorization ? { authorization: h.authorization } : {}), ...(h.dpop ? { dpop: h.dpop } : {}) })
    })
    await page.goto(svc.url)
    await signUp(page, username)

    // The key: an ES256 CryptoKeyPair in IndexedDB whose private key cannot be exported.
    const key = await page.evaluate(async () => {
      const pair = await new Promise<CryptoKeyPair>((resolve, reject) => {
        const open = indexedDB.open('passkey-edge', 1)
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const req = open.result.transaction('keys', 'readonly').objectStore('keys').get('dpop')
          req.onsuccess = () => resolve(req.result as CryptoKeyPair)
          req.onerror = () => reject(req.error)
        }
      })
      const exported = await crypto.subtle.exportKey('jwk', pair.privateKey).then(() => 'exported', (e: Error) => e.name)
      return { extractable: pair.privateKey.extractable, algorithm: pair.privateKey.algorithm as EcKeyAlgorithm, usages: pair.privateKey.usages, exported }
    })
    assert.equal(key.extractable, false)
    assert.deepEqual([key.algorithm.name, key.algorithm.namedCurve], ['ECDSA', 'P-256'])
    assert.deepEqual(key.usages, ['sign'])
    assert.equal(key.exported, 'InvalidAccessError')

    // The session's token is bound (cnf.jkt); the page's own account calls carried proofs.
    const claims = await shownClaims(page)
    assert.equal(typeof (claims.cnf as { jkt?: string } | undefined)?.jkt, 'string')
    const me = sent.find((s) => s.url.endsWith('/api/me'))
    assert.ok(me?.authorization?.startsWith('DPoP ') && me.dpop, 'GET /api/me sent as DPoP with a proof')

    const found = await call(svc.url, 'GET', `/api/manage/users?username=${username}`, undefined, bearer(admin))
    assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${found.body[0].id}/roles/orders-reader`, undefined, bearer(admin))).status, 200)
    assert.match(await callSample(page, 'GET', '/sample/orders'), /Allowed: GET \/sample\/orders answered 200/)
    assert.match(await callSample(page, 'GET', '/sample/orders'), /Allowed: GET \/sample\/orders answered 200/, 'a proof per call')

    // Lifted from the page's call to the gateway: the token, and even the proof it was sent with.
    const lifted = sent.filter((s) => s.url.startsWith(svc.gatewayUrl!) && s.authorization?.startsWith('DPoP ')).at(-1)
    assert.ok(lifted?.dpop, 'the page called the gateway with DPoP and a proof')
    const token = lifted.authorization!.slice('DPoP '.length)
    assert.equal(decodeJwt(token).payload.cnf.jkt, (claims.cnf as { jkt: string }).jkt)
    const gw = (headers: Record<string, string>) => call(svc.gatewayUrl!, 'GET', '/sample/orders', undefined, headers)
    const asBearer = await gw(bearer(token))
    assert.equal(asBearer.status, 401)
    assert.match(asBearer.headers.get('www-authenticate') ?? '', /^DPoP error="invalid_dpop_proof"/)
    assert.equal((await gw({ authorization: `DPoP ${token}` })).status, 401, 'no proof')
    assert.equal((await gw({ authorization: `DPoP ${token}`, dpop: lifted.dpop })).status, 401, 'the captured proof replayed')
    const thief = await DPoPKey.generate()
    const stolen = await gw({ authorization: `DPoP ${token}`, dpop: await thief.proof({ htm: 'GET', htu: `${svc.gatewayUrl}/sample/orders`, accessToken: token }) })
    assert.equal(stolen.status, 401, "a proof by the thief's own key")
    // The refresh token from the tab's storage is refused without the page's key.
    assert.equal(await refreshStatus(svc.url, await refreshTokenInStorage(page)), 400)

    // A reload restores the session with a refresh by the same key (IndexedDB), and calls still work.
    await page.reload()
    await signedInView(page)
    assert.deepEqual((await shownClaims(page)).cnf, claims.cnf)
    assert.match(await callSample(page, 'GET', '/sample/orders'), /Allowed: GET \/sample\/orders answered 200/)
    assertNoSecurityProblems(p.consoleProblems)
  })
})
