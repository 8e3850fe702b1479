/**
 * private_key_jwt client authentication: RFC 7523 §2.2 and §3, OIDC Core §9.
 *
 * Checks, in order (every failure is 401 invalid_client, RFC 6749 §5.2):
 * 1. a compact JWS whose `alg` is on the allow-list (RS256, PS256, ES256, EdDSA; never none/HS*);
 * 2. `iss` = `sub` = a registered confidential client's id (RFC 7523 §3 items 1–2);
 * 3. the signature verifies with one of that client's keys (`jwks`, or `jwks_uri` fetched with a
 *    short timeout and cached);
 * 4. `aud` is a single value (a string, or an array of exactly one) equal to this authorization
 *    server's issuer or the URL of the endpoint called (item 3, narrowed as CONTRACT v2 "Client
 *    assertions" says: a list of audiences is the 2025 private_key_jwt audience-injection class,
 *    where an assertion made for one server is replayed at another that is also named in it);
 *    `exp` is present, not past, and at most 5 minutes ahead (item 4); `nbf` and `iat` are not in
 *    the future;
 * 5. `jti` is used once (item 7): it is recorded until `exp` with a create that fails on a
 *    second use, after the signature check so that forged assertions cannot burn a jti.
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose'
import type { Core } from '../core.js'
import { OAuthError, ServiceError } from '../errors.js'
import { ConcurrencyError, type ClientRecord } from '../store/types.js'
import { CLOCK_SKEW } from '../tokens/accessToken.js'
import { isBase64url } from '../util/base64url.js'
import { seconds } from '../util/clock.js'
import { sha256b64u } from '../util/hash.js'
import { CLIENT_ASSERTION_ALGS } from './clients.js'

/** RFC 7523 §2.2 client_assertion_type. */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
/** An assertion may expire at most this many seconds after it is presented. */
export const MAX_ASSERTION_LIFETIME = 300
/** jwks_uri fetches: per try, and at most one refetch (unknown kid) per cooldown. */
export const JWKS_FETCH_TIMEOUT_MS = 3000
const JWKS_CACHE_MS = 10 * 60_000
const JWKS_COOLDOWN_MS = 30_000
const MAX_REMOTE_SETS = 1000

type KeySet = ReturnType<typeof createRemoteJWKSet>
/** Remote key sets by URI (jose caches the keys inside each); bounded, reset when full. */
const remoteSets = new Map<string, KeySet>()

function remoteKeySet(uri: string): KeySet {
  let set = remoteSets.get(uri)
  if (!set) {
    if (remoteSets.size >= MAX_REMOTE_SETS) remoteSets.clear()
    set = createRemoteJWKSet(new URL(uri), {
      timeoutDuration: JWKS_FETCH_TIMEOUT_MS,
      cooldownDuration: JWKS_COOLDOWN_MS,
      cacheMaxAge: JWKS_CACHE_MS,
    })
    remoteSets.set(uri, set)
  }
  return set
}

type LocalSet = ReturnType<typeof createLocalJWKSet>
/**
 * Registered key sets by client id, so their keys are imported once (jose caches imported keys
 * inside a set): keyed by the client's registration as stored, so a changed registration is a
 * new entry. Bounded, reset when full.
 */
const localSets = new Map<string, { jwks: string; set: LocalSet }>()

function localKeySet(client: ClientRecord): LocalSet {
  const jwks = JSON.stringify(client.jwks)
  const hit = localSets.get(client.id)
  if (hit && hit.jwks === jwks) return hit.set
  if (localSets.size >= MAX_REMOTE_SETS) localSets.clear()
  const set = createLocalJWKSet(client.jwks as never)
  localSets.set(client.id, { jwks, set })
  return set
}

/**
 * A client changed or was deleted: drop what this instance imported of its keys. Correctness does
 * not rest on it (every assertion reads the client row, and a changed `jwks` is a new entry); it
 * frees the memory, and makes keys behind an unchanged `jwks_uri` be fetched again here. Other
 * instances keep such remote keys for at most JWKS_CACHE_MS.
 */
export function forgetClientKeys(client: Pick<ClientRecord, 'id' | 'jwksUri'>): void {
  localSets.delete(client.id)
  if (client.jwksUri) remoteSets.delete(client.jwksUri)
}

const fail = (why: string) => new OAuthError('invalid_client', `Client authentication failed: ${why}`)

/**
 * Verifies a client assertion and returns the client it authenticates.
 *
 * @example
 * const client = await verifyClientAssertion(core, { assertion, expectedAudiences: [issuer, tokenEndpoint] })
 */
export async function verifyClientAssertion(
  core: Core,
  { assertion, expectedAudiences }: { assertion: string; expectedAudiences: string[] },
): Promise<ClientRecord> {
  const { store, clock } = core
  if (assertion.length > 8192 || assertion.split('.').length !== 3) throw fail('client_assertion is not a compact JWT')
  let alg: unknown
  let unverified: JWTPayload
  try {
    alg = decodeProtectedHeader(assertion).alg
    unverified = decodeJwt(assertion)
  } catch {
    throw fail('client_assertion is not a compact JWT')
  }
  // 1. Algorithm allow-list before anything else (no none, no HMAC, no substitution).
  if (typeof alg !== 'string' || !(CLIENT_ASSERTION_ALGS as readonly string[]).includes(alg))
    throw fail(`alg must be one of ${CLIENT_ASSERTION_ALGS.join(', ')}`)
  // 2. iss = sub = client_id of a registered confidential client.
  const clientId = unverified.iss
  if (typeof clientId !== 'string' || unverified.sub !== clientId) throw fail('iss and sub must both be the client_id')
  const client = isBase64url(clientId) && clientId.length <= 64 ? await store.getClient(clientId) : undefined
  if (!client || client.kind !== 'confidential' || (!client.jwks && !client.jwksUri)) throw fail('unknown client')
  // 4 (audience, before the signature: it costs nothing): exactly one value, and one of ours.
  const aud = Array.isArray(unverified.aud) && unverified.aud.length === 1 ? unverified.aud[0] : unverified.aud
  if (typeof aud !== 'string' || !expectedAudiences.includes(aud))
    throw fail("aud must be a single value: the issuer or the URL of the endpoint called")

  // 3–4. Signature with the client's keys; aud, exp, nbf.
  const now = clock.now()
  let payload: JWTPayload
  try {
    const keys = client.jwks ? localKeySet(client) : remoteKeySet(client.jwksUri!)
    ;({ payload } = await jwtVerify(assertion, keys, {
      algorithms: [...CLIENT_ASSERTION_ALGS],
      issuer: clientId,
      subject: clientId,
      audience: expectedAudiences,
      clockTolerance: CLOCK_SKEW,
      currentDate: new Date(now),
      requiredClaims: ['exp', 'jti'],
    }))
  } catch (e) {
    if (e instanceof ServiceError) throw e
    // jose's errors (bad signature, claims, no matching key) and failures to fetch jwks_uri.
    const code = (e as { code?: unknown }).code
    throw fail(code === 'ERR_JWT_EXPIRED' ? 'client_assertion expired' : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' ? `${(e as { claim?: string }).claim} claim invalid` : 'signature or key not valid')
  }
  const nowS = seconds(now)
  if (payload.exp! > nowS + MAX_ASSERTION_LIFETIME + CLOCK_SKEW)
    throw fail(`exp must be at most ${MAX_ASSERTION_LIFETIME} seconds ahead`)
  if (payload.iat !== undefined && payload.iat > nowS + CLOCK_SKEW) throw fail('iat is in the future')
  const jti = payload.jti
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw fail('jti must be a string of 1 to 256 characters')

  // 5. Single use: remembered until the assertion expires.
  const marker = `jti.${await sha256b64u(`${clientId}\u0000${jti}`)}`
  try {
    await store.putChallenge(marker, (payload.exp! + CLOCK_SKEW) * 1000)
  } catch (e) {
    if (e instanceof ConcurrencyError) throw fail('client_assertion was already used (jti)')
    throw e
  }
  return client
}
