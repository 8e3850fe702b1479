/**
 * The pieces of a KEY_ENCRYPTION_KEY change without storage (the service with Azurite is
 * test/http/kekRotation.test.ts): the setting, key ids, rotating keys, OAuth seals, and the
 * audit verifier on chains whose events name their key — or, written before key ids, do not.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { deriveAuditKey } from '../shared/audit/chain.js'
import { AuditLog } from '../shared/audit/log.js'
import { verifyAuditChain } from '../shared/audit/verify.js'
import { loadConfig } from '../shared/config.js'
import { deriveKey, deriveRotatingKey, keyEncryptionKeyId, open, seal, type VersionedKey } from '../shared/crypto/kek.js'
import { KeyEncryptionKeyMismatch } from '../shared/errors.js'
import { openJson, sealJson } from '../shared/oauth/seal.js'
import { createMemoryStore } from '../shared/store/memory.js'
import { ManualClock } from '../shared/util/clock.js'

const kek = () => new Uint8Array(randomBytes(32)) as Uint8Array<ArrayBuffer>
const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64')
const te = new TextEncoder()

describe('KEY_ENCRYPTION_KEY_PREVIOUS (setting)', () => {
  it('optional; 32 bytes base64 or base64url like KEY_ENCRYPTION_KEY; a bad value names the setting, never the value', () => {
    assert.equal(loadConfig({}, { local: true }).keyEncryptionKeyPrevious, undefined)
    const k = kek()
    assert.deepEqual(loadConfig({ KEY_ENCRYPTION_KEY_PREVIOUS: b64(k) }, { local: true }).keyEncryptionKeyPrevious, k)
    assert.deepEqual(loadConfig({ KEY_ENCRYPTION_KEY_PREVIOUS: Buffer.from(k).toString('base64url') }, { local: true }).keyEncryptionKeyPrevious, k)
    assert.throws(
      () => loadConfig({ KEY_ENCRYPTION_KEY_PREVIOUS: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=' }, { local: true }),
      (e: Error) => e instanceof TypeError && /KEY_ENCRYPTION_KEY_PREVIOUS/.test(e.message) && !/c2VjcmV0/.test(e.message),
    )
  })
})

describe('key ids and rotating keys (shared/crypto/kek.ts)', () => {
  it('a key id is 8 base64url characters, the same for the same KEK, different for another, and not the key', async () => {
    const k = kek()
    const id = await keyEncryptionKeyId(k)
    assert.match(id, /^[A-Za-z0-9_-]{8}$/)
    assert.equal(await keyEncryptionKeyId(new Uint8Array(k) as Uint8Array<ArrayBuffer>), id)
    assert.notEqual(await keyEncryptionKeyId(kek()), id)
    assert.ok(!b64(k).includes(id) && !Buffer.from(k).toString('base64url').includes(id))
  })

  it('the current key seals; the previous one still opens; a third key opens nothing', async () => {
    const [oldK, newK] = [kek(), kek()]
    const before = await deriveRotatingKey(oldK, undefined, 'challenge-seal-v1')
    const during = await deriveRotatingKey(newK, oldK, 'challenge-seal-v1')
    assert.equal(during.current.id, await keyEncryptionKeyId(newK))
    assert.equal(during.previous!.id, await keyEncryptionKeyId(oldK))
    const sealedBefore = await seal(before, te.encode('x'), 'aad')
    assert.deepEqual(await open(during, sealedBefore, 'aad'), te.encode('x'))
    const sealedDuring = await seal(during, te.encode('y'), 'aad')
    assert.equal(await open(before, sealedDuring, 'aad'), undefined, 'sealed with the current key, not the previous one')
    assert.deepEqual(await open(await deriveKey(newK, 'challenge-seal-v1'), sealedDuring, 'aad'), te.encode('y'))
    assert.equal(await open(await deriveRotatingKey(kek(), oldK, 'oauth-seal-v1'), sealedBefore, 'aad'), undefined, 'per purpose')
    assert.equal(await open(await deriveRotatingKey(kek(), kek(), 'challenge-seal-v1'), sealedBefore, 'aad'), undefined)
    // The same key as both is one key.
    assert.equal((await deriveRotatingKey(oldK, oldK, 'challenge-seal-v1')).previous, undefined)
  })

  it('OAuth handles and codes sealed before the switch open after it; not as the other kind', async () => {
    const [oldK, newK] = [kek(), kek()]
    const code = await sealJson(deriveKey(oldK, 'oauth-seal-v1'), 'oauth-authorization-code-v1', { u: 'user', s: 'sess' })
    const during = deriveRotatingKey(newK, oldK, 'oauth-seal-v1')
    assert.deepEqual(await openJson(during, 'oauth-authorization-code-v1', code), { u: 'user', s: 'sess' })
    assert.equal(await openJson(during, 'oauth-authorization-request-v1', code), undefined)
    assert.equal(await openJson(deriveRotatingKey(newK, undefined, 'oauth-seal-v1'), 'oauth-authorization-code-v1', code), undefined)
  })

  it('KeyEncryptionKeyMismatch: 503 misconfigured naming the missing key id and both settings; the old message without ids', () => {
    const e = new KeyEncryptionKeyMismatch('kid1', { wrappedBy: 'AAAAAAAA', tried: ['BBBBBBBB'] })
    assert.equal(e.status, 503)
    assert.equal(e.code, 'misconfigured')
    assert.match(e.message, /^KEY_ENCRYPTION_KEY cannot decrypt the stored signing key kid1: it was stored with the key whose key id is AAAAAAAA \(the keys set have key ids BBBBBBBB\)\./)
    assert.match(e.message, /KEY_ENCRYPTION_KEY_PREVIOUS/)
    assert.match(new KeyEncryptionKeyMismatch('kid1').message, /^KEY_ENCRYPTION_KEY cannot decrypt the stored signing key kid1: it is not the key the keys were stored with\./)
  })
})

describe('audit chain across a change of KEY_ENCRYPTION_KEY (shared/audit/verify.ts)', () => {
  const versioned = async (k: Uint8Array<ArrayBuffer>): Promise<VersionedKey> => ({ id: await keyEncryptionKeyId(k), key: await deriveAuditKey(k) })

  it('old events without keyId (the original key) then events naming the new key: verifies with both, not with one', async () => {
    const store = createMemoryStore()
    const clock = new ManualClock(Date.UTC(2025, 0, 1))
    const [oldK, newK] = [kek(), kek()]
    // Before key ids: a log keyed with the bare chain key.
    const before = new AuditLog({ store, clock, key: deriveAuditKey(oldK) })
    for (let i = 0; i < 3; i++) await before.append({ type: 'role.put', actor: { system: 't' } })
    const afterLog = new AuditLog({ store, clock, key: versioned(newK) })
    for (let i = 0; i < 3; i++) await afterLog.append({ type: 'role.put', actor: { system: 't' } })
    const events = await store.listAudit(1, 100)
    assert.deepEqual(events.map((e) => e.keyId), [undefined, undefined, undefined, ...Array(3).fill(await keyEncryptionKeyId(newK))])
    const both = await verifyAuditChain({ store, key: await versioned(newK), previousKey: await versioned(oldK) })
    assert.equal(both.ok, true, JSON.stringify(both.problem))
    assert.equal(both.events, 6)
    const currentOnly = await verifyAuditChain({ store, key: await versioned(newK) })
    assert.equal(currentOnly.problem?.kind, 'hash_mismatch')
    assert.equal(currentOnly.problem?.seq, 1)
    assert.match(currentOnly.problem!.message, /names no key.*KEY_ENCRYPTION_KEY_PREVIOUS/)
    // A key id is part of the hashed content: editing it is caught like any edit.
    const edited = createMemoryStore()
    for (const e of events) await edited.appendAudit([e.seq === 5 ? { ...e, keyId: 'AAAAAAAA' } : e], await edited.getAuditHead())
    const r = await verifyAuditChain({ store: edited, key: await versioned(newK), previousKey: await versioned(oldK) })
    assert.equal(r.problem?.kind, 'hash_mismatch')
    assert.equal(r.problem?.seq, 5)
  })
})
