/**
 * CONTRACT "Authenticator trust": an https METADATA_BLOB "fetched again daily", as the issue's
 * scope 1 asks: the timer job (`core.metadata.sync`, the Functions `metadata` timer and
 * local/metadata.ts) downloads it, verifies it and stores the last good one in Table Storage;
 * instances read it from there, not each from the internet; a BLOB that does not verify is not
 * stored and the stored one stays. Against a real Azurite and a real loopback HTTP server serving
 * the BLOB (the local settings accept an http URL; TLS itself is not covered here). Also the
 * download cap and the stored form (gzip chunks over several rows, docs/authenticators.md).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { gzipSync } from 'node:zlib'
import { odata, TableClient } from '@azure/data-tables'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { loadConfig } from '../../shared/config.js'
import { createTablesStore } from '../../shared/store/tables.js'
import { fetchCapped, MAX_BLOB_BYTES } from '../../shared/webauthn/metadata.js'
import { MetadataBlobError } from '../../shared/webauthn/verifyMetadataBlob.js'
import { StorageUnavailableError } from '../../shared/errors.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { decodeJwt, signIn, signUp } from '../helpers/client.js'
import { createTestMds, mdsEntry, mdsPayload, type TestMds } from '../helpers/mds.js'
import { startService, type TestService } from '../helpers/service.js'

const MODEL = 'c0ffee00-0000-4000-8000-0000000000a1'

let azurite: Azurite
let mds: TestMds
let http: Server
let base: string
/** What the loopback "MDS" serves at /blob, and how often it was asked. */
let served = ''
let requests = 0
/** Responses the server left hanging (ended in `after`). */
const stalled: ServerResponse[] = []
const services: TestService[] = []
let n = 0
const uniq = () => `shared${process.pid}n${++n}`

const blob = async (no: number, statuses = ['FIDO_CERTIFIED_L1']) =>
  mds.sign(mdsPayload([await mdsEntry({ aaguid: MODEL, name: 'Shared Test Key', statuses })], { no }))

/** A service on tables of its own (`prefix`), or on another's to share them. */
async function service(prefix: string, kek: string): Promise<TestService> {
  const svc = await startService({
    connectionString: azurite.connectionString,
    env: { ATTESTATION: 'direct', METADATA_BLOB: `${base}/blob`, METADATA_ROOT: mds.rootPem, TABLE_PREFIX: prefix, KEY_ENCRYPTION_KEY: kek },
  })
  services.push(svc)
  return svc
}

before(async () => {
  azurite = await startAzurite()
  mds = await createTestMds()
  http = createServer((req, res) => {
    requests++
    if (req.url === '/big-chunked') {
      // No Content-Length: the cap applies while reading.
      res.writeHead(200, { 'content-type': 'application/jwt' })
      for (let i = 0; i < 4; i++) res.write('x'.repeat(1000))
      return res.end()
    }
    if (req.url === '/announced-huge') {
      // Announces more than the cap, sends a little, then stalls: only Content-Length can refuse it.
      res.writeHead(200, { 'content-type': 'application/jwt', 'content-length': '10000000' })
      res.write('x'.repeat(100))
      return void stalled.push(res)
    }
    if (req.url === '/stall') {
      // Starts the body, then sends nothing more.
      res.writeHead(200, { 'content-type': 'application/jwt' })
      res.write('x'.repeat(100))
      return void stalled.push(res)
    }
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/jwt', 'content-length': '4000' })
      return res.end('x'.repeat(4000))
    }
    if (req.url !== '/blob' || !served) return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'application/jwt' }).end(served)
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()))
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
})
after(async () => {
  for (const s of services) await s.close()
  for (const r of stalled) r.destroy()
  http.closeAllConnections()
  await new Promise((resolve) => http.close(resolve))
  await azurite?.stop()
})

describe('METADATA_BLOB https: the timer stores the BLOB, instances share it', () => {
  const prefix = `ms${process.pid}${randomBytes(3).toString('hex')}`
  const kek = randomBytes(32).toString('base64')
  let first: TestService
  let second: TestService

  it('the timer job downloads, verifies and stores the BLOB; its instance uses it', async () => {
    served = await blob(1)
    first = await service(prefix, kek)
    const before = requests
    const lines = await first.core.metadata.sync()
    assert.deepEqual(lines, ['metadata: BLOB no 1 stored for every instance'])
    assert.equal(requests, before + 1)
    assert.equal((await first.store.getMetadataBlob())?.no, 1)
    assert.equal(first.core.metadata.current?.no, 1)
  })

  it('a second instance on the same storage uses the stored BLOB without downloading it: a certified model earns phrh there', async () => {
    second = await service(prefix, kek)
    const before = requests
    const auth = new SoftAuthenticator({ aaguid: MODEL, attestation: 'packed-full' })
    const r = await signUp(second.url, auth, uniq())
    assert.equal(r.credential.authenticator.name, 'Shared Test Key')
    assert.equal(r.credential.authenticator.certified, true)
    assert.equal(decodeJwt(r.tokens.access_token).payload.acr, 'phrh')
    assert.equal(requests, before, 'the second instance read storage, not the MDS')
    assert.ok(second.logs.some((l) => l === 'metadata: BLOB no 1 in use (1 authenticator models, next update 2099-01-01)'), second.logs.join('\n'))
  })

  it('a tampered BLOB, or one signed by another root, is not stored: the stored one stays, with a log line', async () => {
    const good = await blob(2, ['FIDO_CERTIFIED_L1', 'REVOKED'])
    const [h, p, s] = good.split('.')
    served = `${h}.${p}A.${s}`
    const tampered = await first.core.metadata.sync()
    assert.equal(tampered.length, 1)
    assert.match(tampered[0]!, /^metadata: METADATA_BLOB ignored: the BLOB (signature does not verify|payload).*; not stored; BLOB no 1 stays in use$/)
    served = await (await createTestMds()).sign(mdsPayload([await mdsEntry({ aaguid: MODEL, statuses: ['REVOKED'] })], { no: 3 }))
    const forged = await first.core.metadata.sync()
    assert.match(forged[0]!, /chain does not verify to METADATA_ROOT.*not stored; BLOB no 1 stays in use/)
    assert.equal((await first.store.getMetadataBlob())?.no, 1)
    assert.equal(first.core.metadata.current?.no, 1)
  })

  it('a newer good BLOB is stored; the other instance takes it from storage on its next refresh and refuses the model it revokes', async () => {
    const auth = new SoftAuthenticator({ aaguid: MODEL, attestation: 'packed-full' })
    await signUp(second.url, auth, uniq())
    served = await blob(4, ['FIDO_CERTIFIED_L1', 'REVOKED'])
    assert.deepEqual(await first.core.metadata.sync(), ['metadata: BLOB no 4 stored for every instance'])
    const before = requests
    assert.equal(await second.core.metadata.refresh(), true)
    assert.equal(requests, before)
    assert.equal(second.core.metadata.current?.no, 4)
    const s = await signIn(second.url, auth)
    assert.equal(s.status, 400)
    assert.equal(s.body.code, 'authenticator_not_allowed')
    // Nothing newer stored: a refresh is one point read and takes nothing.
    assert.equal(await second.core.metadata.refresh(), false)
    // The same BLOB downloaded again is not stored twice.
    assert.deepEqual(await first.core.metadata.sync(), ['metadata: BLOB no 4 not stored: storage has one at least as new'])
  })

  it('a BLOB written into storage by someone else is verified before use: a forged one is ignored, with a log line', async () => {
    const forged = await (await createTestMds()).sign(mdsPayload([await mdsEntry({ aaguid: MODEL, statuses: ['FIDO_CERTIFIED_L1'] })], { no: 9 }))
    assert.equal(await second.store.putMetadataBlob({ no: 9, text: forged }), true)
    assert.equal(await second.core.metadata.refresh(), false)
    assert.equal(second.core.metadata.current?.no, 4)
    assert.ok(second.logs.some((l) => /METADATA_BLOB ignored: the BLOB certificate chain does not verify to METADATA_ROOT.*BLOB no 4 stays in use/.test(l)), second.logs.join('\n'))
  })

  it('a stored copy that does not verify does not block a good BLOB: the timer replaces it whatever its no, and a fresh instance uses it', async () => {
    // Storage holds the forged no 9 from the case above; the MDS serves a good no 5.
    assert.equal((await first.store.getMetadataBlob())?.no, 9)
    served = await blob(5, ['FIDO_CERTIFIED_L1'])
    const lines = await first.core.metadata.sync()
    assert.equal(lines.length, 1)
    assert.match(lines[0]!, /^metadata: BLOB no 5 stored for every instance, replacing the stored no 9: the BLOB certificate chain does not verify to METADATA_ROOT/)
    assert.equal((await first.store.getMetadataBlob())?.no, 5)
    assert.equal(first.core.metadata.current?.no, 5)
    assert.equal(await second.core.metadata.refresh(), true)
    assert.equal(second.core.metadata.current?.no, 5)
    const before = requests
    const third = await service(prefix, kek)
    assert.equal((await third.core.metadata.inUse())?.no, 5)
    assert.equal(requests, before, 'the fresh instance read storage, not the MDS')
    // The good copy stays against a download of the same no.
    assert.deepEqual(await first.core.metadata.sync(), ['metadata: BLOB no 5 not stored: storage has one at least as new'])
  })

  it('a fresh instance that finds only a stored copy that does not verify downloads the BLOB and replaces the copy', async () => {
    const forged = await (await createTestMds()).sign(mdsPayload([await mdsEntry({ aaguid: MODEL, statuses: ['FIDO_CERTIFIED_L1'] })], { no: 12 }))
    const head = await first.store.getMetadataBlob()
    assert.equal(await first.store.putMetadataBlob({ no: 12, text: forged }, { replace: head!.version }), true)
    served = await blob(6, ['FIDO_CERTIFIED_L1', 'REVOKED'])
    const before = requests
    const fresh = await service(prefix, kek)
    assert.equal((await fresh.core.metadata.inUse())?.no, 6)
    assert.equal(requests, before + 1)
    assert.equal((await fresh.store.getMetadataBlob())?.no, 6)
    assert.ok(fresh.logs.some((l) => /METADATA_BLOB ignored: the BLOB certificate chain does not verify to METADATA_ROOT.*no metadata in use/.test(l)), fresh.logs.join('\n'))
    assert.ok(fresh.logs.some((l) => /^metadata: BLOB no 6 stored for every instance, replacing the stored no 12: the BLOB certificate chain/.test(l)), fresh.logs.join('\n'))
    // The model it revokes is refused there.
    await assert.rejects(signUp(fresh.url, new SoftAuthenticator({ aaguid: MODEL, attestation: 'packed-full' }), uniq()), /authenticator_not_allowed/)
  })

  it('a stored copy from another METADATA_BLOB (same root, verifies, higher no) is replaced, not compared: its numbers are another MDS\'s', async () => {
    const head = await first.store.getMetadataBlob()
    assert.equal(head?.no, 6)
    assert.equal(await first.store.putMetadataBlob({ no: 40, text: await blob(40), source: 'another-mds' }, { replace: head!.version }), true)
    served = await blob(7)
    assert.deepEqual(await first.core.metadata.sync(), ['metadata: BLOB no 7 stored for every instance, replacing the stored no 40: the stored copy is from another METADATA_BLOB or METADATA_ROOT'])
    const stored = await first.store.getMetadataBlob()
    assert.equal(stored?.no, 7)
    assert.equal(typeof stored?.source, 'string')
    assert.notEqual(stored?.source, 'another-mds')
  })

  it('an instance that finds nothing stored (before the first timer run) downloads the BLOB once and stores it for the others', async () => {
    const fresh = `mf${process.pid}${randomBytes(3).toString('hex')}`
    served = await blob(1)
    const a = await service(fresh, kek)
    const before = requests
    const auth = new SoftAuthenticator({ aaguid: MODEL, attestation: 'packed-full' })
    const r = await signUp(a.url, auth, uniq())
    assert.equal(r.credential.authenticator.name, 'Shared Test Key')
    assert.equal(requests, before + 1)
    assert.equal((await a.store.getMetadataBlob())?.no, 1)
    const b = await service(fresh, kek)
    await signUp(b.url, new SoftAuthenticator({ aaguid: MODEL, attestation: 'packed-full' }), uniq())
    assert.equal(requests, before + 1)
  })
})

describe('METADATA_BLOB download cap', () => {
  it('a download larger than the cap is refused, whether Content-Length says so or not', async () => {
    await assert.rejects(fetchCapped(`${base}/big`, { maxBytes: 3000 }), (e) => e instanceof MetadataBlobError && /larger than 3000 bytes/.test(e.message))
    await assert.rejects(fetchCapped(`${base}/big-chunked`, { maxBytes: 3000 }), (e) => e instanceof MetadataBlobError && /larger than 3000 bytes/.test(e.message))
    assert.equal((await fetchCapped(`${base}/big-chunked`, { maxBytes: 4000 })).length, 4000)
    await assert.rejects(fetchCapped(`${base}/missing`), (e) => e instanceof MetadataBlobError && /GET answered 404/.test(e.message))
  })

  it('a Content-Length over the cap is refused at once, before the body (which here never comes)', { timeout: 20_000 }, async () => {
    await assert.rejects(fetchCapped(`${base}/announced-huge`, { maxBytes: 3000, timeoutMs: 5000 }), (e) => e instanceof MetadataBlobError && /larger than 3000 bytes/.test(e.message))
  })

  it('a download that stalls mid-body is abandoned at timeoutMs', { timeout: 20_000 }, async () => {
    await assert.rejects(fetchCapped(`${base}/stall`, { timeoutMs: 300 }), (e) => e instanceof MetadataBlobError && /^the download failed \(TimeoutError\)$/.test(e.message))
  })
})

/** Settings of a tables store of its own (a fresh TABLE_PREFIX) on the suite's Azurite. */
const metadataConfig = (prefix: string) =>
  loadConfig(
    { TABLES_CONNECTION_STRING: azurite.connectionString, TABLE_PREFIX: `${prefix}${process.pid}${randomBytes(3).toString('hex')}`, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
    { local: true },
  )
const rolesTable = (config: { tablePrefix: string }) => TableClient.fromConnectionString(azurite.connectionString, `${config.tablePrefix}roles`, { allowInsecureConnection: true })
/** The row keys of partition `metadata`, as stored. */
async function metadataRowKeys(roles: TableClient): Promise<string[]> {
  const k: string[] = []
  for await (const e of roles.listEntities({ queryOptions: { filter: odata`PartitionKey eq 'metadata'` } })) k.push(e.rowKey!)
  return k.sort()
}

describe('MetadataStore on Table Storage', () => {
  it('a BLOB of several MB (past 1 MiB compressed) round-trips through several rows; an older or equal no is not stored', async () => {
    const config = metadataConfig('mt')
    const rows: string[] = []
    const store = createTablesStore({ config, onRequest: (r) => void (r.method === 'PUT' && rows.push(r.url)) })
    await store.init()
    // Random base64url compresses to about 3/4: 3 MB of it is over 2 MB of gzip, three rows.
    const text = randomBytes(2_300_000).toString('base64url')
    assert.equal(await store.getMetadataBlob(), undefined)
    assert.equal(await store.putMetadataBlob({ no: 7, text }), true)
    assert.ok(rows.length >= 3, `${rows.length} rows written`)
    const read = await store.getMetadataBlob()
    assert.equal(read?.no, 7)
    assert.equal(read?.text, text)
    assert.equal(await store.getMetadataBlob({ newerThan: 7 }), undefined)
    assert.equal(await store.putMetadataBlob({ no: 7, text: 'other' }), false)
    assert.equal(await store.putMetadataBlob({ no: 6, text: 'older' }), false)
    // Two writers of the next no at once: one stores, and what is read is whole.
    const results = await Promise.all([store.putMetadataBlob({ no: 8, text: 'a'.repeat(100) }), store.putMetadataBlob({ no: 8, text: 'b'.repeat(100) })])
    assert.deepEqual(results.sort(), [false, true])
    const winner = await store.getMetadataBlob()
    assert.equal(winner?.no, 8)
    assert.match(winner?.text ?? '', /^(a{100}|b{100})$/)
  })

  it('rows nobody names (a writer that stopped part-way) are swept by the next write; what is read back is capped: a gzip bomb or a head naming too many rows reads as unreadable', async () => {
    const config = metadataConfig('mo')
    const gets: string[] = []
    const store = createTablesStore({ config, onRequest: (r) => void (r.method === 'GET' && gets.push(r.url)) })
    await store.init()
    const roles = rolesTable(config)
    const keys = () => metadataRowKeys(roles)
    assert.equal(await store.putMetadataBlob({ no: 1, text: 'one' }), true)
    // What a writer that stopped after its first chunk row leaves: a row of no 2 no head names.
    await roles.createEntity({ partitionKey: 'metadata', rowKey: 'blob:000000000002:deadbeef:0000', c00: new Uint8Array([1, 2, 3]) })
    assert.equal(await store.putMetadataBlob({ no: 3, text: 'three' }), true)
    const left = await keys()
    assert.equal(left.length, 2, left.join(' '))
    assert.ok(left.every((k) => k === 'head' || k.startsWith('blob:000000000003:')), left.join(' '))

    // Anyone who can write the table: 20 MiB and a byte of zeros gzip to a few KB.
    await roles.createEntity({ partitionKey: 'metadata', rowKey: 'blob:000000000050:bomb0000:0000', c00: new Uint8Array(gzipSync(Buffer.alloc(MAX_BLOB_BYTES + 1))) })
    await roles.updateEntity({ partitionKey: 'metadata', rowKey: 'head', no: 50, rows: 1, write: 'bomb0000' }, 'Replace')
    const bomb = await store.getMetadataBlob()
    assert.equal(bomb?.no, 50)
    assert.equal(bomb?.text, undefined)
    // A head naming more rows than a BLOB of MAX_BLOB_BYTES takes: not one chunk row is read.
    await roles.updateEntity({ partitionKey: 'metadata', rowKey: 'head', no: 51, rows: 40, write: 'bomb0000' }, 'Replace')
    gets.length = 0
    const many = await store.getMetadataBlob()
    assert.equal(many?.text, undefined)
    assert.equal(gets.length, 1, gets.join('\n'))
  })

  it('a write that fails part-way deletes the chunk rows it put: the stored BLOB stays whole, nothing is left behind', async () => {
    const config = metadataConfig('mp')
    let chunkPuts = 0
    let failAt = Infinity
    const store = createTablesStore({
      config,
      onRequest: (r) => {
        if (r.method === 'PUT' && r.url.includes('blob%3A') && ++chunkPuts === failAt) throw new Error('storage went away')
      },
    })
    await store.init()
    const roles = rolesTable(config)
    const keys = () => metadataRowKeys(roles)
    assert.equal(await store.putMetadataBlob({ no: 1, text: 'one' }), true)
    const kept = await keys()
    chunkPuts = 0
    failAt = 2
    // Three rows of chunks; the second row's write fails.
    await assert.rejects(store.putMetadataBlob({ no: 2, text: randomBytes(2_300_000).toString('base64url') }), StorageUnavailableError)
    assert.deepEqual(await keys(), kept)
    assert.equal((await store.getMetadataBlob())?.text, 'one')
  })
})
