/**
 * Synchronous symmetric primitives on Node's crypto, for the hot paths (refresh, sign-in, the
 * audit chain): WebCrypto's `subtle` runs every digest, HMAC and AES-GCM as a job on the thread
 * pool and resolves it on a later turn, which costs tens of microseconds of CPU per call — more
 * than the primitive itself for the short inputs we have. The keys stay WebCrypto `CryptoKey`s
 * (derived once with HKDF, non-extractable); `KeyObject.from` gives Node a handle on the same key
 * without exporting it. Output is byte-for-byte what `crypto.subtle` gives (tested).
 */
import { KeyObject, constants, createCipheriv, createDecipheriv, createHash, createHmac, createPublicKey, verify, type JsonWebKey } from 'node:crypto'

const handles = new WeakMap<CryptoKey, KeyObject>()

/** Node's handle on a WebCrypto key (no export: works for non-extractable keys). */
function handle(key: CryptoKey): KeyObject {
  let k = handles.get(key)
  if (!k) handles.set(key, (k = KeyObject.from(key)))
  return k
}

export function sha256Sync(data: Uint8Array | string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(data).digest()) as Uint8Array<ArrayBuffer>
}

export function hmacSha256Sync(key: CryptoKey, data: Uint8Array | string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHmac('sha256', handle(key)).update(data).digest()) as Uint8Array<ArrayBuffer>
}

/** AES-256-GCM: ciphertext ‖ 16-byte tag, as WebCrypto's encrypt returns it. */
export function aesGcmEncryptSync(key: CryptoKey, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array<ArrayBuffer> {
  const c = createCipheriv('aes-256-gcm', handle(key), iv)
  c.setAAD(aad)
  const head = c.update(plaintext)
  const tail = c.final()
  const tag = c.getAuthTag()
  const out = new Uint8Array(head.length + tail.length + tag.length)
  out.set(head)
  out.set(tail, head.length)
  out.set(tag, head.length + tail.length)
  return out
}

/** Inverse of aesGcmEncryptSync; throws when the tag does not verify. */
export function aesGcmDecryptSync(key: CryptoKey, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array<ArrayBuffer> {
  if (sealed.length < 16) throw new Error('too short')
  const d = createDecipheriv('aes-256-gcm', handle(key), iv)
  d.setAAD(aad)
  d.setAuthTag(sealed.subarray(sealed.length - 16))
  const head = d.update(sealed.subarray(0, sealed.length - 16))
  const tail = d.final()
  const out = new Uint8Array(head.length + tail.length)
  out.set(head)
  out.set(tail, head.length)
  return out
}

/** A public key from a JWK (RFC 7517), for verifyJwsSync; throws when it is not a public key. */
export function publicKeyFromJwk(jwk: Record<string, unknown>): KeyObject {
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
  if (key.type !== 'public') throw new TypeError('not a public key')
  return key
}

/**
 * A JWS signature check (RFC 7518 §3.3–3.5, RFC 8037) for ES256, PS256, RS256 and EdDSA, done
 * synchronously: WebCrypto's verify costs a thread-pool hop and twice the CPU (the DPoP proof
 * per authorizer call). The key must be of the algorithm's type (the caller checks `kty`).
 */
export function verifyJwsSync(alg: 'ES256' | 'PS256' | 'RS256' | 'EdDSA', key: KeyObject, input: string, signature: Uint8Array): boolean {
  const data = Buffer.from(input)
  switch (alg) {
    case 'ES256':
      return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
    case 'PS256':
      return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)
    case 'RS256':
      return verify('sha256', data, key, signature)
    case 'EdDSA':
      return verify(null, data, key, signature)
  }
}
