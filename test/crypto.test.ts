/** shared/crypto/fast.ts gives byte-for-byte what WebCrypto gives, for the same CryptoKeys. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { aesGcmDecryptSync, aesGcmEncryptSync, hmacSha256Sync, sha256Sync } from '../shared/crypto/fast.js'
import { deriveAesKey, deriveHmacKey, open, seal } from '../shared/crypto/kek.js'

const kek = new Uint8Array(randomBytes(32)) as Uint8Array<ArrayBuffer>

describe('shared/crypto/fast.ts against crypto.subtle', () => {
  it('SHA-256 and HMAC-SHA-256 (non-extractable HKDF-derived key) are identical', async () => {
    for (const data of ['', 'a', 'x'.repeat(1000), '✓ ünïcode']) {
      const bytes = new TextEncoder().encode(data)
      assert.deepEqual(sha256Sync(data), new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)))
      const key = await deriveHmacKey(kek, 'user-enumeration-v1')
      assert.equal(key.extractable, false)
      assert.deepEqual(hmacSha256Sync(key, data), new Uint8Array(await crypto.subtle.sign('HMAC', key, bytes)))
    }
  })

  it('AES-256-GCM: same ciphertext and tag as subtle.encrypt; decrypts subtle output; refuses tampering', async () => {
    const key = await deriveAesKey(kek, 'challenge-seal-v1')
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
