/**
 * Key pairs for tests, safe from a Node 20 deadlock: a KeyObject straight from
 * `generateKeyPairSync` shares its key data with the generation job, and when a garbage
 * collection during `.export({ format: 'jwk' })` destroys that job, its destructor waits for the
 * lock the export holds (seen hanging a test process forever). The pair is generated already
 * encoded (PEM, inside the job) and parsed into KeyObjects of their own.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'

export function keyPair(type: 'rsa', options: { modulusLength: number }): { publicKey: KeyObject; privateKey: KeyObject }
export function keyPair(type: 'ec', options: { namedCurve: string }): { publicKey: KeyObject; privateKey: KeyObject }
export function keyPair(type: 'ed25519'): { publicKey: KeyObject; privateKey: KeyObject }
export function keyPair(type: 'rsa' | 'ec' | 'ed25519', options: Record<string, unknown> = {}): { publicKey: KeyObject; privateKey: KeyObject } {
  const pem = generateKeyPairSync(type as 'rsa', {
    ...(options as { modulusLength: number }),
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  })
  return { publicKey: createPublicKey(pem.publicKey), privateKey: createPrivateKey(pem.privateKey) }
}
