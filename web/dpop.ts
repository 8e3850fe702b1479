/**
 * The page's DPoP key and proofs (RFC 9449; docs/dpop.md "The page binds its own tokens").
 *
 * The key is an ES256 pair made by WebCrypto with `extractable: false`: script on this origin can
 * ask it to sign but never read the private key, so a token copied out of the page (devtools, an
 * extension, an XSS that reads memory or storage) is useless elsewhere. The `CryptoKeyPair` is kept
 * in IndexedDB (structured clone keeps the private key non-extractable), so a reload keeps the
 * key its refresh token is bound to. Without WebCrypto or IndexedDB (an old or locked-down
 * browser), `proofKey()` answers undefined and the page signs in with bearer tokens, as before.
 */

const DB = 'passkey-edge'
const STORE = 'keys'
const ID = 'dpop'

let pair: Promise<CryptoKeyPair | undefined> | undefined
/** The proof header (typ, alg, the public jwk), made once per key. */
let header: Promise<string> | undefined
/** The last `DPoP-Nonce` each origin gave (RFC 9449 §8, §9). */
const nonces = new Map<string, string>()

function idb<T>(run: (store: IDBObjectStore) => IDBRequest<T>, mode: IDBTransactionMode): Promise<T> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1)
    open.onupgradeneeded = () => open.result.createObjectStore(STORE)
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const db = open.result
      const req = run(db.transaction(STORE, mode).objectStore(STORE))
      req.onsuccess = () => {
        db.close()
        resolve(req.result)
      }
      req.onerror = () => {
        db.close()
        reject(req.error)
      }
    }
  })
}

const stored = () => idb<CryptoKeyPair | undefined>((s) => s.get(ID), 'readonly')

async function loadOrMake(): Promise<CryptoKeyPair | undefined> {
  try {
    const saved = await stored()
    if (saved?.privateKey && saved.publicKey) return saved
    const made = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair
    try {
      // `add`, not `put`: two tabs opened at once each make a key; only the first is stored, and
      // the other takes that one (else one tab would sign with a key the store no longer has, and
      // its tokens would be bound to a key lost at the next reload).
      await idb((s) => s.add(made, ID), 'readwrite')
      return made
    } catch (e) {
      if ((e as DOMException | null)?.name !== 'ConstraintError') throw e
      const winner = await stored()
      return winner?.privateKey && winner.publicKey ? winner : undefined
    }
  } catch {
    return undefined
  }
}

/** The page's key pair (made once, then read from IndexedDB), or undefined without WebCrypto/IndexedDB. */
export function proofKey(): Promise<CryptoKeyPair | undefined> {
  pair ??= typeof indexedDB === 'undefined' || !globalThis.crypto?.subtle ? Promise.resolve(undefined) : loadOrMake()
  return pair
}

const te = new TextEncoder()
const b64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const b64json = (o: unknown) => b64url(te.encode(JSON.stringify(o)))

/**
 * A proof (RFC 9449 §4.2) for one request: `htu` is the absolute URL without query or fragment,
 * `ath` when an access token goes with it, and the origin's last nonce if it gave one.
 */
export async function proof(method: string, url: string, accessToken?: string): Promise<string | undefined> {
  const keys = await proofKey()
  if (!keys) return undefined
  header ??= crypto.subtle.exportKey('jwk', keys.publicKey).then((j) => b64json({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: j.kty, crv: j.crv, x: j.x, y: j.y } }))
  const u = new URL(url, location.href)
  const htu = `${u.origin}${u.pathname}`
  const claims: Record<string, unknown> = { jti: b64url(crypto.getRandomValues(new Uint8Array(16))), htm: method.toUpperCase(), htu, iat: Math.floor(Date.now() / 1000) }
  if (accessToken !== undefined) claims.ath = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', te.encode(accessToken))))
  const nonce = nonces.get(u.origin)
  if (nonce) claims.nonce = nonce
  const input = `${await header}.${b64json(claims)}`
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, te.encode(input))
  return `${input}.${b64url(new Uint8Array(signature))}`
}

/**
 * Remembers the response's `DPoP-Nonce`; true when the server refused the proof for want of one
 * (`use_dpop_nonce`: 400 at the token and verify endpoints, 401 at resources), so the call is
 * worth one retry with a new proof.
 */
export function tookNonce(res: Response, url: string): boolean {
  const nonce = res.headers.get('dpop-nonce')
  if (!nonce) return false
  nonces.set(new URL(url, location.href).origin, nonce)
  return res.status === 400 || (res.status === 401 && /use_dpop_nonce/.test(res.headers.get('www-authenticate') ?? ''))
}
