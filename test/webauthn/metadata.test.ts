/**
 * FIDO Metadata Service 3.0 #metadata-blob-object-processing-rules: shared/webauthn/verifyMetadataBlob.ts
 * (chain to METADATA_ROOT, signature, payload, entries) and shared/webauthn/metadata.ts (the last
 * good BLOB stays; `no` must grow; a stale nextUpdate is used and logged). Each test makes its own
 * root and BLOBs (test/helpers/mds.ts).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadConfig } from '../../shared/config.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import type { MetadataStore } from '../../shared/store/types.js'
import { ManualClock } from '../../shared/util/clock.js'
import { AuthenticatorMetadata } from '../../shared/webauthn/metadata.js'
import { FIDO_MDS_ROOT_PEM } from '../../shared/webauthn/mdsRoot.js'
import { MetadataBlobError, verifyMetadataBlob } from '../../shared/webauthn/verifyMetadataBlob.js'
import { createTestMds, mdsEntry, mdsPayload, otherSigningKey } from '../helpers/mds.js'
import { readMetadataBlob } from '../../runtime/node/metadataBlob.js'

const KEY = 'cb69481e-8ff7-4039-93ec-0a2729a154a8'
const OTHER = 'ee882879-721c-4913-9775-3dfcce97072a'

const rejects = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: Error) => e instanceof MetadataBlobError && re.test(e.message))

describe('the default METADATA_ROOT', () => {
  it('shared/webauthn/mds-root.pem and mdsRoot.ts hold the same certificate, GlobalSign Root CA - R3', async () => {
    const { X509Certificate } = await import('node:crypto')
    const file = readFileSync(new URL('../../shared/webauthn/mds-root.pem', import.meta.url), 'utf8')
    const a = new X509Certificate(file.slice(file.indexOf('-----BEGIN')))
    const b = new X509Certificate(FIDO_MDS_ROOT_PEM)
    assert.ok(a.raw.equals(b.raw))
    assert.match(a.subject, /OU=GlobalSign Root CA - R3/)
    assert.equal(a.fingerprint256, 'CB:B5:22:D7:B7:F1:27:AD:6A:01:13:86:5B:DF:1C:D4:10:2E:7D:07:59:AF:63:5A:7C:F4:72:0D:C9:63:C5:3B')
    assert.deepEqual(loadConfig({}, { local: true }).metadataRoot.map((p) => new X509Certificate(p).fingerprint256), [a.fingerprint256])
  })
})

describe('FIDO MDS 3.0 #metadata-blob-object-processing-rules: verifyMetadataBlob', () => {
  it('a BLOB signed by a certificate chaining to METADATA_ROOT verifies; entries by AAGUID with name, icon, latest status, certification, roots', async () => {
    const mds = await createTestMds()
    const blob = await mds.sign(
      mdsPayload(
        [
          await mdsEntry({ aaguid: KEY.toUpperCase(), name: 'Test Key 5' }),
          await mdsEntry({ aaguid: OTHER, statuses: ['FIDO_CERTIFIED_L2', 'USER_VERIFICATION_BYPASS'] }),
          await mdsEntry({ aaguid: '11111111-2222-3333-4444-555555555555', statuses: ['NOT_FIDO_CERTIFIED'] }),
          { attestationCertificateKeyIdentifiers: ['abcd'], statusReports: [] }, // U2F: no AAGUID, passed over
          { aaguid: 'not-an-aaguid' },
        ],
        { no: 7, nextUpdate: '2099-02-03' },
      ),
    )
    const r = await verifyMetadataBlob(blob, { roots: [mds.rootPem] })
    assert.equal(r.no, 7)
    assert.equal(r.nextUpdate, '2099-02-03')
    assert.equal(r.nextUpdateAt, Date.UTC(2099, 1, 3))
    assert.deepEqual([...r.entries.keys()].sort(), [KEY, OTHER, '11111111-2222-3333-4444-555555555555'].sort())
    const key = r.entries.get(KEY)!
    assert.equal(key.name, 'Test Key 5')
    assert.equal(key.icon, 'data:image/png;base64,iVBORw0KGgo=')
    assert.equal(key.status, 'FIDO_CERTIFIED_L1')
    assert.equal(key.certified, true)
    assert.equal(key.refused, false)
    assert.equal(key.attestationRoots.length, 1)
    assert.match(key.attestationRoots[0]!, /^-----BEGIN CERTIFICATE-----\n/)
    // The latest report decides refusal; certification is any FIDO_CERTIFIED* report.
    assert.deepEqual({ ...r.entries.get(OTHER)!, attestationRoots: [] }, { ...r.entries.get(OTHER)!, attestationRoots: [], status: 'USER_VERIFICATION_BYPASS', refused: true, certified: true })
    assert.equal(r.entries.get('11111111-2222-3333-4444-555555555555')!.certified, false)
  })

  it('each refusing status (REVOKED, ATTESTATION_KEY_COMPROMISE, USER_VERIFICATION_BYPASS, USER_KEY_REMOTE_COMPROMISE, USER_KEY_PHYSICAL_COMPROMISE) refuses when latest; a later report lifts it', async () => {
    const mds = await createTestMds()
    for (const status of ['REVOKED', 'ATTESTATION_KEY_COMPROMISE', 'USER_VERIFICATION_BYPASS', 'USER_KEY_REMOTE_COMPROMISE', 'USER_KEY_PHYSICAL_COMPROMISE']) {
      const r = await verifyMetadataBlob(await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY, statuses: ['FIDO_CERTIFIED', status] })])), { roots: [mds.rootPem] })
      assert.equal(r.entries.get(KEY)!.refused, true, status)
    }
    const fixed = await verifyMetadataBlob(await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY, statuses: ['FIDO_CERTIFIED', 'USER_VERIFICATION_BYPASS', 'UPDATE_AVAILABLE'] })])), { roots: [mds.rootPem] })
    assert.equal(fixed.entries.get(KEY)!.refused, false)
  })

  it('a chain to another root → refused (step 4: "ignore the file if the chain cannot be verified")', async () => {
    const mds = await createTestMds()
    const other = await createTestMds()
    await rejects(verifyMetadataBlob(await mds.sign(mdsPayload([])), { roots: [other.rootPem] }), /chain/)
    // The default root (FIDO Alliance) does not accept a test BLOB either.
    await rejects(verifyMetadataBlob(await mds.sign(mdsPayload([])), { roots: loadConfig({}, { local: true }).metadataRoot }), /chain/)
  })

  it('a signing certificate outside its validity period → refused', async () => {
    const expired = await createTestMds({ signerValidity: { notBefore: new Date('2020-01-01'), notAfter: new Date('2021-01-01') } })
    await rejects(verifyMetadataBlob(await expired.sign(mdsPayload([])), { roots: [expired.rootPem] }), /chain/)
    const future = await createTestMds({ signerValidity: { notBefore: new Date('2090-01-01'), notAfter: new Date('2091-01-01') } })
    await rejects(verifyMetadataBlob(await future.sign(mdsPayload([])), { roots: [future.rootPem] }), /chain/)
  })

  it('a wrong signature or a tampered payload → refused (step 5: "ignore the file if the signature is invalid")', async () => {
    const mds = await createTestMds()
    await rejects(verifyMetadataBlob(await mds.sign(mdsPayload([]), { signingKey: await otherSigningKey() }), { roots: [mds.rootPem] }), /signature/)
    const good = await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY, statuses: ['REVOKED'] })]))
    const [h, p, s] = good.split('.')
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString())
    payload.entries[0].statusReports = [{ status: 'FIDO_CERTIFIED' }]
    await rejects(verifyMetadataBlob(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`, { roots: [mds.rootPem] }), /signature/)
  })

  it('no x5c, the root itself as signer, not a JWS, or not a BLOB payload → refused', async () => {
    const mds = await createTestMds()
    await rejects(verifyMetadataBlob(await mds.sign(mdsPayload([]), { x5c: [] }), { roots: [mds.rootPem] }), /x5c/)
    const rootDer = mds.rootPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '')
    await rejects(verifyMetadataBlob(await mds.sign(mdsPayload([]), { x5c: [rootDer] }), { roots: [mds.rootPem] }), /root/)
    await rejects(verifyMetadataBlob('not a jws', { roots: [mds.rootPem] }), /JWS/)
    await rejects(verifyMetadataBlob(await mds.sign({ no: 1, entries: [] }), { roots: [mds.rootPem] }), /payload/)
    await rejects(verifyMetadataBlob(await mds.sign({ no: 1, nextUpdate: 'soon', entries: [] }), { roots: [mds.rootPem] }), /payload/)
  })
})

describe('AuthenticatorMetadata: the last good BLOB', () => {
  async function setup(read: () => Promise<string>, clock = new ManualClock(Date.UTC(2026, 0, 1))) {
    const mds = await createTestMds()
    const logs: string[] = []
    const md = new AuthenticatorMetadata({
      config: { metadataBlob: { kind: 'file', path: '/blob.jwt' }, metadataRoot: Object.freeze([mds.rootPem]) },
      clock,
      read: () => read(),
      log: (l) => logs.push(l),
    })
    return { mds, logs, md, clock }
  }

  it('loads on first lookup; a BLOB that does not verify, or has no greater no, is ignored with a log line and the last good one stays', async () => {
    let text = ''
    const { mds, md, logs } = await setup(async () => text)
    text = await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY, name: 'First' })], { no: 5 }))
    assert.equal((await md.lookup(KEY.toUpperCase()))?.name, 'First')
    assert.match(logs.at(-1)!, /BLOB no 5 in use/)

    const other = await createTestMds()
    assert.equal(await md.accept(await other.sign(mdsPayload([await mdsEntry({ aaguid: KEY, name: 'Forged' })], { no: 6 }))), false)
    assert.match(logs.at(-1)!, /ignored: .*chain.*BLOB no 5 stays in use/)
    assert.equal(await md.accept(await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY, name: 'Replay' })], { no: 5 }))), false)
    assert.match(logs.at(-1)!, /no 5 is not greater than 5/)
    assert.equal(await md.accept('garbage'), false)
    assert.equal((await md.lookup(KEY))?.name, 'First')

    assert.equal(await md.accept(await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY, name: 'Second' })], { no: 6 }))), true)
    assert.equal((await md.lookup(KEY))?.name, 'Second')
    // The log names no BLOB content beyond its number and counts.
    assert.ok(logs.every((l) => !l.includes('eyJ')), 'no JWS in the log')
  })

  it('a source that cannot be read is logged; nothing in use means no model is known', async () => {
    const { md, logs } = await setup(async () => {
      throw new Error('ENOENT: /secret/path')
    })
    assert.equal(await md.lookup(KEY), undefined)
    assert.match(logs.at(-1)!, /ignored: it could not be read \(Error\); no metadata in use/)
    assert.ok(!logs.some((l) => l.includes('/secret/path')))
  })

  it('nextUpdate past: the stale BLOB is still used (logged), and read again on the next lookup, at most hourly', async () => {
    let reads = 0
    let text = ''
    const { mds, md, logs, clock } = await setup(async () => {
      reads++
      return text
    })
    text = await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY, name: 'Old' })], { no: 1, nextUpdate: '2026-01-10' }))
    assert.equal((await md.lookup(KEY))?.name, 'Old')
    assert.equal(reads, 1)
    clock.set(Date.UTC(2026, 0, 11))
    text = await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY, name: 'New' })], { no: 2, nextUpdate: '2026-02-10' }))
    // The stale one answers while the new one is read in the background.
    assert.equal((await md.lookup(KEY))?.name, 'Old')
    await md.refresh() // joins the read under way (one at a time)
    assert.equal((await md.lookup(KEY))?.name, 'New')

    // A source that keeps serving a stale BLOB: used, logged, read again at most once an hour.
    clock.set(Date.UTC(2026, 2, 1))
    const before = reads
    await md.lookup(KEY)
    await md.lookup(KEY)
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(reads, before + 1)
    assert.ok(logs.some((l) => /past its nextUpdate/.test(l)) || logs.some((l) => /not greater/.test(l)))
    let staleText = ''
    const stale = await setup(async () => staleText)
    staleText = await stale.mds.sign(mdsPayload([], { no: 1, nextUpdate: '2025-12-01' }))
    await stale.md.lookup(KEY)
    assert.match(stale.logs.join('\n'), /BLOB no 1 is past its nextUpdate 2025-12-01; still used/)
  })

  it('concurrent first lookups share one read and all see the BLOB', async () => {
    let reads = 0
    let text = ''
    const { mds, md } = await setup(async () => {
      reads++
      await new Promise((r) => setTimeout(r, 20))
      return text
    })
    text = await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY })]))
    const found = await Promise.all([md.lookup(KEY), md.lookup(KEY), md.lookup(KEY)])
    assert.deepEqual(found.map((e) => e?.aaguid), [KEY, KEY, KEY])
    assert.equal(reads, 1)
  })

  it('after a failed first read, ceremonies do not wait: the source is read again in the background, at most once a minute', async () => {
    let reads = 0
    let text = 'not yet'
    const { mds, md, clock } = await setup(async () => {
      reads++
      return text
    })
    assert.equal(await md.lookup(KEY), undefined)
    text = await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY })]))
    assert.equal(await md.lookup(KEY), undefined)
    assert.equal(reads, 1, 'not read again within the minute')
    clock.advance(60_000)
    assert.equal(await md.lookup(KEY), undefined, 'the read runs in the background')
    await md.refresh()
    assert.equal((await md.lookup(KEY))?.aaguid, KEY)
  })
})

describe('AuthenticatorMetadata.sync: storing the BLOB for every instance (memory store)', () => {
  async function shared(store: MetadataStore) {
    const mds = await createTestMds()
    let text = ''
    const md = new AuthenticatorMetadata({
      config: { metadataBlob: { kind: 'url', url: 'https://mds.example/' }, metadataRoot: Object.freeze([mds.rootPem]) },
      clock: new ManualClock(Date.UTC(2026, 0, 1)),
      read: async () => text,
      log: () => {},
      store,
    })
    return { mds, md, serve: (t: string) => void (text = t) }
  }

  it('a writer that loses the race to one storing a lower no reads the head again and stores its BLOB', async () => {
    const inner = createMemoryStore()
    let winner: (() => Promise<boolean>) | undefined
    // Another timer moves the head (to a lower no) between this writer's read and its write.
    const store: MetadataStore = {
      getMetadataBlob: (o) => inner.getMetadataBlob(o),
      async putMetadataBlob(blob, o) {
        if (!winner) return inner.putMetadataBlob(blob, o)
        assert.equal(await winner(), true)
        winner = undefined
        return false
      },
    }
    const { mds, md, serve } = await shared(store)
    const lower = await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY })], { no: 2 }))
    winner = () => inner.putMetadataBlob({ no: 2, text: lower })
    serve(await mds.sign(mdsPayload([await mdsEntry({ aaguid: KEY })], { no: 5 })))
    assert.deepEqual(await md.sync(), ['metadata: BLOB no 5 stored for every instance'])
    assert.equal((await inner.getMetadataBlob())?.no, 5)
    assert.equal(md.current?.no, 5)
  })

  it('a stored copy is replaced only while it is the version read: replace guards on it', async () => {
    const store = createMemoryStore()
    assert.equal(await store.putMetadataBlob({ no: 9, text: 'forged' }), true)
    const read = await store.getMetadataBlob()
    assert.equal(await store.putMetadataBlob({ no: 3, text: 'older' }), false)
    assert.equal(await store.putMetadataBlob({ no: 3, text: 'good' }, { replace: read!.version }), true)
    assert.equal(await store.putMetadataBlob({ no: 4, text: 'late' }, { replace: read!.version }), false, 'the version read is gone')
    assert.equal((await store.getMetadataBlob())?.text, 'good')
  })
})

describe('runtime/node/metadataBlob.ts: METADATA_BLOB from a file or a URL', () => {
  it('reads a file, and a URL (http on loopback here; https in Azure); a URL that does not answer 200 is a MetadataBlobError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mds-'))
    const server = createServer((req, res) => {
      if (req.url === '/blob') res.end('the-blob')
      else res.writeHead(404).end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      writeFileSync(join(dir, 'b.jwt'), 'file-blob')
      assert.equal(await readMetadataBlob({ kind: 'file', path: join(dir, 'b.jwt') }), 'file-blob')
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      assert.equal(await readMetadataBlob({ kind: 'url', url: `${base}/blob` }), 'the-blob')
      await assert.rejects(readMetadataBlob({ kind: 'url', url: `${base}/missing` }), (e: Error) => e instanceof MetadataBlobError && /404/.test(e.message))
    } finally {
      server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
