/**
 * The local server's stand-in for the Functions `metadata` timer (local/metadata.ts): each tick
 * downloads the https METADATA_BLOB, verifies it and stores it (shared/webauthn/metadata.ts
 * `sync`); a run whose storage fails is logged and the next one stores it.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { METADATA_EVERY_MS, startMetadataSync } from '../../local/metadata.js'
import type { Core } from '../../shared/core.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import { AuthenticatorMetadata } from '../../shared/webauthn/metadata.js'
import { createTestMds, mdsEntry, mdsPayload } from '../helpers/mds.js'

async function until(check: () => boolean, ms = 5_000) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await sleep(5)
  }
}

describe('local metadata timer', () => {
  it('runs daily by default', () => {
    assert.equal(METADATA_EVERY_MS, 24 * 3600_000)
  })

  it('stores the downloaded BLOB on a tick; a run whose storage fails is logged and the next one stores it', async () => {
    const mds = await createTestMds()
    const text = await mds.sign(mdsPayload([await mdsEntry({ aaguid: 'c0ffee00-0000-4000-8000-0000000000e1' })], { no: 3 }))
    const store = createMemoryStore()
    let downloads = 0
    const metadata = new AuthenticatorMetadata({
      config: { metadataBlob: { kind: 'url', url: 'https://mds.example/' }, metadataRoot: [mds.rootPem] },
      clock: { now: () => Date.now() },
      read: async () => (downloads++, text),
      log: () => {},
      store,
    })
    const lines: string[] = []
    store.down = true
    const stop = startMetadataSync({ core: { metadata } as unknown as Core, everyMs: 10, log: (l) => lines.push(l) })
    try {
      await until(() => lines.length >= 1)
      assert.match(lines[0]!, /^metadata: failed: /)
      store.down = false
      await until(() => lines.includes('metadata: BLOB no 3 stored for every instance'))
    } finally {
      await stop()
    }
    assert.equal((await store.getMetadataBlob())?.no, 3)
    assert.ok(downloads >= 2)
  })
})
