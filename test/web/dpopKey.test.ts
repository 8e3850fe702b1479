/**
 * web/dpop.ts's key store (docs/dpop.md "The page binds its own tokens"), in Node with a minimal
 * in-memory IndexedDB: two tabs opened at once each find no key and make one; only the first is
 * stored (`add`), and the other, refused with ConstraintError, takes the stored one, so both tabs
 * sign with the key a reload will find. (The page in Chromium: test/browser/dpop.test.ts.)
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'

type Req = { result?: unknown; error?: unknown; onsuccess?: () => void; onerror?: () => void }

/** Object stores whose requests complete in a later task, as IndexedDB's do; `add` refuses an existing key. */
function fakeIndexedDB() {
  const data = new Map<string, unknown>()
  const request = (run: () => unknown): Req => {
    const r: Req = {}
    setTimeout(() => {
      try {
        r.result = run()
        r.onsuccess?.()
      } catch (e) {
        r.error = e
        r.onerror?.()
      }
    }, 0)
    return r
  }
  const store = {
    get: (k: string) => request(() => data.get(k)),
    put: (v: unknown, k: string) => request(() => void data.set(k, v)),
    add: (v: unknown, k: string) =>
      request(() => {
        if (data.has(k)) throw new DOMException('Key already exists in the object store.', 'ConstraintError')
        data.set(k, v)
      }),
  }
  const db = { transaction: () => ({ objectStore: () => store }), close() {}, createObjectStore() {} }
  return { data, indexedDB: { open: () => request(() => db) } }
}

/** A fresh instance of the page module, as each tab has its own. */
const tab = async (n: number) => (await import(new URL(`../../web/dpop.ts?tab=${n}`, import.meta.url).href)) as typeof import('../../web/dpop.js')

describe("the page's DPoP key in IndexedDB (web/dpop.ts)", () => {
  const had = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB')
  after(() => {
    if (had) Object.defineProperty(globalThis, 'indexedDB', had)
    else delete (globalThis as { indexedDB?: unknown }).indexedDB
  })

  it('two tabs making a key at once end up with the one stored key (add, then re-read on ConstraintError)', async () => {
    const fake = fakeIndexedDB()
    Object.defineProperty(globalThis, 'indexedDB', { value: fake.indexedDB, configurable: true, writable: true })
    const [a, b] = await Promise.all([tab(1), tab(2)])
    const [ka, kb] = await Promise.all([a.proofKey(), b.proofKey()])
    assert.ok(ka && kb)
    const saved = fake.data.get('dpop')
    assert.equal(ka, saved, 'the first tab signs with the stored key')
    assert.equal(kb, saved, 'the second tab signs with the stored key, not the one it made')
    // A reload (a third tab) finds that key.
    assert.equal(await (await tab(3)).proofKey(), saved)
  })
})
