/**
 * A DPoP client written from RFC 9449 only: a key pair, its RFC 7638 thumbprint, and proofs whose
 * every header member and claim a test can override or drop (undefined).
 */
import { createHash, randomBytes, type KeyObject } from 'node:crypto'
import { SignJWT, calculateJwkThumbprint, exportJWK, type JWK } from 'jose'
import { keyPair } from './keys.js'

export type ProofAlg = 'ES256' | 'PS256' | 'RS256' | 'EdDSA'

export interface ProofOptions {
  htm: string
  htu: string
  /** The access token the proof goes with: `ath` is its hash. */
  accessToken?: string
  nonce?: string
  /** Seconds since the epoch (default: now). */
  iat?: number
  /** Header members to set or drop (undefined). */
  header?: Record<string, unknown>
  /** Claims to set or drop (undefined). */
  claims?: Record<string, unknown>
}

export class DPoPKey {
  private constructor(
    readonly alg: ProofAlg,
    readonly privateKey: KeyObject,
    readonly jwk: JWK,
    readonly jkt: string,
  ) {}

  static async generate(alg: ProofAlg = 'ES256'): Promise<DPoPKey> {
    const pair =
      alg === 'ES256' ? keyPair('ec', { namedCurve: 'P-256' }) : alg === 'EdDSA' ? keyPair('ed25519') : keyPair('rsa', { modulusLength: 2048 })
    const jwk = await exportJWK(pair.publicKey)
    return new DPoPKey(alg, pair.privateKey, jwk, await calculateJwkThumbprint(jwk, 'sha256'))
  }

  /** A proof (RFC 9449 §4.2) for one request. */
  proof(o: ProofOptions): Promise<string> {
    const header: Record<string, unknown> = { typ: 'dpop+jwt', alg: this.alg, jwk: this.jwk, ...o.header }
    const claims: Record<string, unknown> = {
      jti: randomBytes(16).toString('base64url'),
      htm: o.htm,
      htu: o.htu,
      iat: o.iat ?? Math.floor(Date.now() / 1000),
      ...(o.accessToken !== undefined ? { ath: ath(o.accessToken) } : {}),
      ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
      ...o.claims,
    }
    for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k]
    for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k]
    return new SignJWT(claims).setProtectedHeader(header as never).sign(this.privateKey)
  }
}

/** base64url(SHA-256(access token)), RFC 9449 §4.2 `ath`. */
export function ath(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url')
}
