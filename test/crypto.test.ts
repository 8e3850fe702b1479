/** shared/crypto/fast.ts gives byte-for-byte what WebCrypto gives, for the same CryptoKeys. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { aesGcmDecryptSync, aesGcmEncryptSync, hmacSha256Sync, sha256Sync } from '../shared/crypto/fast.js'
import { deriveKey, open, seal, type KeyPurpose } from '../shared/crypto/kek.js'
import { deriveAuditKey } from '../shared/audit/chain.js'

const kek = new Uint8Array(randomBytes(32)) as Uint8Array<ArrayBuffer>

describe('shared/crypto/fast.ts against crypto.subtle', () => {
  it('SHA-256 and HMAC-SHA-256 (non-extractable HKDF-derived key) are identical', async () => {
    for (const data of ['', 'a', 'x'.repeat(1000), '✓ ünïcode']) {
      const bytes = new TextEncoder().encode(data)
      assert.deepEqual(sha256Sync(data), new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)))
      const key = await deriveKey(kek, 'user-enumeration-v1')
      assert.equal(key.extractable, false)
      assert.deepEqual(hmacSha256Sync(key, data), new Uint8Array(await crypto.subtle.sign('HMAC', key, bytes)))
    }
  })

  it('AES-256-GCM: same ciphertext and tag as subtle.encrypt; decrypts subtle output; refuses tampering', async () => {
    const key = await deriveKey(kek, 'challenge-seal-v1')
    const iv = new Uint8Array(randomBytes(12))
    const aad = new TextEncoder().encode('aad')
    const plain = new Uint8Array(randomBytes(77))
    const mine = aesGcmEncryptSync(key, iv, plain, aad)
    const theirs = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, plain))
    assert.deepEqual(mine, theirs)
    assert.deepEqual(aesGcmDecryptSync(key, iv, theirs, aad), plain)
    const tampered = theirs.slice()
    tampered[3]! ^= 1
    assert.throws(() => aesGcmDecryptSync(key, iv, tampered, aad))
    assert.throws(() => aesGcmDecryptSync(key, iv, theirs, new TextEncoder().encode('other')))
    // seal/open keep their wire format and their refusals.
    const sealed = await seal(key, plain, 'use')
    assert.deepEqual(await open(key, sealed, 'use'), plain)
    assert.equal(await open(key, sealed, 'other use'), undefined)
    assert.equal(await open(key, 'AAAA', 'use'), undefined)
  })
})

describe('shared/crypto/kek.ts deriveKey: HKDF-SHA-256 (RFC 5869), one key per label', () => {
  // Pinned: a label's key decrypts what is already stored (challenges, wrapped signing keys, OAuth
  // handles and codes, the audit chain), so the bytes derived for it must never change.
  const fixed = Uint8Array.from({ length: 32 }, (_, i) => i) as Uint8Array<ArrayBuffer>
  const te = new TextEncoder()
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
  const sealed = (key: CryptoKey) => hex(aesGcmEncryptSync(key, new Uint8Array(12), te.encode('passkey-edge'), te.encode('pin')))
  const mac = (key: CryptoKey) => hex(hmacSha256Sync(key, 'passkey-edge'))
  const pinned: [KeyPurpose, (key: CryptoKey) => string, string][] = [
    ['challenge-seal-v1', sealed, '784a349c2e1b8afbf76d40c18efa34e02e988f59b10163a62adbf2e7'],
    ['signing-key-wrap-v1', sealed, '9327f1aedb057b0f33f2f7e3caa2d82e1b89f01048f694f44e19bb24'],
    ['oauth-seal-v1', sealed, '8904cd1bf8810bd81a0f46876485e2c79412ea66520d0485e493409b'],
    ['user-enumeration-v1', mac, '4fd77969d4ab69867c8c25acdd0f93b690507128ffaa697ad22c90292a877f63'],
    ['audit-chain-v1', mac, '58e326ee3cae3f4661a96c78db179b10ebbe664e4323a8d7d8524a78b4dff8df'],
  ]
  for (const [purpose, use, expected] of pinned)
    it(`${purpose}: the same key as before the labels were gathered`, async () => {
      const key = await deriveKey(fixed, purpose)
      assert.equal(key.extractable, false)
      assert.equal(use(key), expected)
    })

  it('the audit chain key is deriveKey(kek, AUDIT_KEY_INFO)', async () => {
    assert.equal(mac(await deriveAuditKey(fixed)), pinned[4]![2])
  })

  it('refuses a KEK that is not 32 bytes', async () => {
    await assert.rejects(deriveKey(new Uint8Array(16) as Uint8Array<ArrayBuffer>, 'oauth-seal-v1'), TypeError)
  })
})
