/**
 * OAuth client registration (CONTRACT "Administration": POST /api/manage/clients).
 *
 * - With `jwks` or `jwks_uri`: a confidential machine client that authenticates with
 *   private_key_jwt (RFC 7523 §2.2, OIDC Core §9) and uses client_credentials. No client secrets.
 * - Without keys: a public client for the authorization code flow with PKCE (RFC 7636), which
 *   needs `redirect_uris` (RFC 6749 §3.1.2: absolute, no fragment; https, or http for loopback
 *   hosts only, RFC 8252 §7.3).
 *
 * Every client is also a principal: a username-less `acct` row with id = client_id and its roles,
 * so client tokens carry `sub` = client id and the authorizer treats them like users.
 */
import { importJWK, type JWK } from 'jose'
import type { Config } from '../config.js'
import { ServiceError } from '../errors.js'
import type { ClientRecord } from '../store/types.js'
import { decode, isBase64url } from '../util/base64url.js'
import { BASE_SCOPES } from './scopes.js'
import { parseText } from '../webauthn/input.js'
import { ROLE_NAME } from '../schemas/names.js'

/** RFC 7518 / RFC 8037 algorithms a client may sign its assertions with; never none or HS*. */
export const CLIENT_ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const

/** Which algorithms each key type may be used with (P-256 for EC, Ed25519 for OKP). */
const ALGS_BY_KTY: Record<string, readonly string[]> = { RSA: ['RS256', 'PS256'], EC: ['ES256'], OKP: ['EdDSA'] }
const CURVE_BY_KTY: Record<string, string> = { EC: 'P-256', OKP: 'Ed25519' }
/** Members of private (or symmetric) keys: a registration carrying any of them is refused. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const
/** Public members kept per key type; anything else (x5c, ext, …) is dropped. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'] }

const MAX_KEYS = 10
const MAX_REDIRECT_URIS = 10
const MAX_URI = 2000
/** RSA moduli under 2048 bits are refused (NIST SP 800-131A). */
const MIN_RSA_BITS = 2048

export interface ClientRegistration {
  name: string
  kind: ClientRecord['kind']
  jwks?: { keys: Record<string, unknown>[] }
  jwksUri?: string
  redirectUris: string[]
  roles: string[]
  /** API scopes from SCOPES this client may be granted (besides openid and profile). */
  scopes: string[]
  /** An agent acting for people (CIBA); confidential clients only. */
  agent: boolean
}

/** 127.0.0.0/8, [::1] and `localhost`: the hosts http is allowed for. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname)
}

/**
 * Validates a registration body. Throws `invalid_request` naming the field.
 *
 * @example
 * const reg = await parseClientRegistration(body, config) // { name, kind: 'public', redirectUris, roles: [] }
 */
export async function parseClientRegistration(body: Record<string, unknown>, config: Config): Promise<ClientRegistration> {
  const { name, jwks, jwks_uri, roles, redirect_uris, scopes, agent, ...rest } = body
  const unknown = Object.keys(rest)
  if (unknown.length) throw new ServiceError('invalid_request', `Unknown fields: ${unknown.join(', ')}`)
  const isAgent = parseAgent(agent)
  const clientName = parseText(name, 'name', 100)
  if (!clientName) throw new ServiceError('invalid_request', 'name is required (a string of at most 100 characters)')
  if (jwks !== undefined && jwks_uri !== undefined)
    throw new ServiceError('invalid_request', 'Give jwks or jwks_uri, not both')
  const confidential = jwks !== undefined || jwks_uri !== undefined
  const roleNames = parseRoleList(roles)
  const scopeNames = parseClientScopes(scopes, config)
  if (!confidential) {
    if (isAgent) throw new ServiceError('invalid_request', 'An agent authenticates with private_key_jwt: register it with jwks or jwks_uri')
    if (redirect_uris === undefined)
      throw new ServiceError('invalid_request', 'A public client (no jwks or jwks_uri) needs redirect_uris for the authorization code flow')
    // CONTRACT allows roles on any client. A public client's own principal never gets a token
    // (code-flow tokens carry the user's roles), so they are kept but grant nothing today.
    return { name: clientName, kind: 'public', redirectUris: parseRedirectUris(redirect_uris), roles: roleNames, scopes: scopeNames, agent: false }
  }
  if (redirect_uris !== undefined)
    throw new ServiceError('invalid_request', 'redirect_uris are for public clients: a client with keys uses client_credentials')
  const reg: ClientRegistration = { name: clientName, kind: 'confidential', redirectUris: [], roles: roleNames, scopes: scopeNames, agent: isAgent }
  if (jwks !== undefined) reg.jwks = await parseJwks(jwks)
  else reg.jwksUri = parseJwksUri(jwks_uri, config)
  return reg
}

/** A PATCH of a client (CONTRACT v2 "Users and clients"): only the fields given, each validated as at registration. */
export interface ClientUpdate {
  name?: string
  jwks?: { keys: Record<string, unknown>[] }
  jwksUri?: string
  redirectUris?: string[]
  roles?: string[]
  scopes?: string[]
  agent?: boolean
}

/** The fields a PATCH may carry, by their wire names. */
export const CLIENT_UPDATE_FIELDS = ['name', 'jwks', 'jwks_uri', 'roles', 'redirect_uris', 'scopes', 'agent'] as const

/**
 * Validates a PATCH body for a client of `kind`: the rules of registration for each field given,
 * and the kind never changes (keys only for confidential clients, redirect URIs only for public).
 *
 * @example
 * const change = await parseClientUpdate({ roles: ['reader'] }, 'confidential', config) // { roles: ['reader'] }
 */
export async function parseClientUpdate(body: Record<string, unknown>, kind: ClientRecord['kind'], config: Config): Promise<ClientUpdate> {
  const { name, jwks, jwks_uri, roles, redirect_uris, scopes, agent, ...rest } = body
  const unknown = Object.keys(rest)
  if (unknown.length) throw new ServiceError('invalid_request', `Unknown fields: ${unknown.join(', ')}`)
  if (!CLIENT_UPDATE_FIELDS.some((f) => body[f] !== undefined))
    throw new ServiceError('invalid_request', `Nothing to change: give one or more of ${CLIENT_UPDATE_FIELDS.join(', ')}`)
  if (jwks !== undefined && jwks_uri !== undefined) throw new ServiceError('invalid_request', 'Give jwks or jwks_uri, not both')
  // A public client with keys would authenticate as confidential, and a confidential client with
  // redirect URIs would run the code flow: the kind is fixed at registration.
  if (kind === 'public' && (jwks !== undefined || jwks_uri !== undefined))
    throw new ServiceError('invalid_request', 'A public client cannot get jwks or jwks_uri: a client keeps its kind (register a confidential client)')
  if (kind === 'confidential' && redirect_uris !== undefined)
    throw new ServiceError('invalid_request', 'A confidential client cannot get redirect_uris: a client keeps its kind (register a public client)')
  const change: ClientUpdate = {}
  if (name !== undefined) {
    const clientName = parseText(name, 'name', 100)
    if (!clientName) throw new ServiceError('invalid_request', 'name must be a string of 1 to 100 characters')
    change.name = clientName
  }
  if (jwks !== undefined) change.jwks = await parseJwks(jwks)
  if (jwks_uri !== undefined) change.jwksUri = parseJwksUri(jwks_uri, config)
  if (redirect_uris !== undefined) change.redirectUris = parseRedirectUris(redirect_uris)
  if (roles !== undefined) change.roles = parseRoleList(roles)
  if (scopes !== undefined) change.scopes = parseClientScopes(scopes, config)
  if (agent !== undefined) {
    change.agent = parseAgent(agent)
    if (change.agent && kind !== 'confidential')
      throw new ServiceError('invalid_request', 'Only a client with keys (jwks or jwks_uri) can be an agent: agents authenticate with private_key_jwt')
  }
  return change
}

/** `agent`: a boolean (CONTRACT v2 "Agents acting for people"). */
function parseAgent(v: unknown): boolean {
  if (v === undefined || v === false) return false
  if (v === true) return true
  throw new ServiceError('invalid_request', 'agent must be true or false')
}

/**
 * `scopes`: the API scopes (from SCOPES) the client may be granted. `openid` and `profile` are
 * always allowed and need not be listed; anything not grantable is refused by name.
 */
export function parseClientScopes(v: unknown, config: Pick<Config, 'scopes'>): string[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v) || v.length > 64 || !v.every((s) => typeof s === 'string'))
    throw new ServiceError('invalid_request', 'scopes must be a list of at most 64 scope names')
  const api = new Set(config.scopes)
  const names = [...new Set(v as string[])].filter((s) => !(BASE_SCOPES as readonly string[]).includes(s))
  const unknown = names.filter((s) => !api.has(s))
  if (unknown.length)
    throw new ServiceError(
      'invalid_request',
      `scopes ${unknown.join(', ')} are not grantable here (SCOPES: ${config.scopes.length ? config.scopes.join(', ') : 'empty'})`,
    )
  return names
}

export function parseRoleList(v: unknown): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > 32 || !v.every((r) => typeof r === 'string' && ROLE_NAME.test(r)))
    throw new ServiceError('invalid_request', 'roles must be a list of at most 32 role names (a-z 0-9 . _ -, lower case)')
  return [...new Set(v as string[])]
}

/**
 * RFC 6749 §3.1.2: absolute URIs without a fragment; https, or http on a loopback host
 * (RFC 8252 §7.3, §8.3). Compared later as exact strings (loopback IPs: any port, RFC 8252 §7.3).
 */
export function parseRedirectUris(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_REDIRECT_URIS)
    throw new ServiceError('invalid_request', `redirect_uris must be a list of 1 to ${MAX_REDIRECT_URIS} URIs`)
  return [
    ...new Set(
      v.map((u, i) => {
        const at = `redirect_uris[${i}]`
        if (typeof u !== 'string' || u.length === 0 || u.length > MAX_URI)
          throw new ServiceError('invalid_request', `${at} must be a URI of at most ${MAX_URI} characters`)
        if (u.includes('#')) throw new ServiceError('invalid_request', `${at} must not have a fragment (RFC 6749 §3.1.2)`)
        let url: URL
        try {
          url = new URL(u)
        } catch {
          throw new ServiceError('invalid_request', `${at} must be an absolute URI`)
        }
        if (url.username || url.password) throw new ServiceError('invalid_request', `${at} must not carry user information`)
        if (url.protocol === 'https:') return u
        if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return u
        throw new ServiceError('invalid_request', `${at} must be https (http only for localhost, 127.0.0.1 or [::1])`)
      }),
    ),
  ]
}

/** jwks_uri: https; http only for a loopback host and only when running locally. */
export function parseJwksUri(v: unknown, config: Pick<Config, 'local'>): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_URI)
    throw new ServiceError('invalid_request', `jwks_uri must be a URI of at most ${MAX_URI} characters`)
  let url: URL
  try {
    url = new URL(v)
  } catch {
    throw new ServiceError('invalid_request', 'jwks_uri must be an absolute URI')
  }
  if (url.hash || v.includes('#') || url.username || url.password)
    throw new ServiceError('invalid_request', 'jwks_uri must have no fragment and no user information')
  if (url.protocol === 'https:') return url.href
  if (url.protocol === 'http:' && config.local && isLoopbackHost(url.hostname)) return url.href
  throw new ServiceError('invalid_request', 'jwks_uri must be https (http only for a loopback host when running locally)')
}

/**
 * A client's JWK Set (RFC 7517 §5): 1–10 public signing keys of kty RSA (≥ 2048 bits), EC P-256 or
 * OKP Ed25519, `alg` (when given) in CLIENT_ASSERTION_ALGS and fitting the key type, `use` sig.
 * A key with any private member is refused outright. Each key must import. Only public members
 * and kid/alg/use are kept.
 */
export async function parseJwks(v: unknown): Promise<{ keys: Record<string, unknown>[] }> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ServiceError('invalid_request', 'jwks must be a JWK Set object { "keys": [...] }')
  const keys = (v as { keys?: unknown }).keys
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_KEYS)
    throw new ServiceError('invalid_request', `jwks.keys must hold 1 to ${MAX_KEYS} keys`)
  const kids = new Set<string>()
  const out: Record<string, unknown>[] = []
  for (const [i, key] of keys.entries()) {
    const at = `jwks.keys[${i}]`
    if (typeof key !== 'object' || key === null || Array.isArray(key)) throw new ServiceError('invalid_request', `${at} must be a JWK object`)
    const jwk = key as Record<string, unknown>
    for (const m of PRIVATE_MEMBERS)
      if (m in jwk) throw new ServiceError('invalid_request', `${at} has the private member "${m}": register public keys only`)
    const kty = jwk.kty
    if (typeof kty !== 'string' || !(kty in ALGS_BY_KTY)) throw new ServiceError('invalid_request', `${at}.kty must be RSA, EC or OKP`)
    const algs = ALGS_BY_KTY[kty]!
    if (jwk.alg !== undefined && (typeof jwk.alg !== 'string' || !algs.includes(jwk.alg)))
      throw new ServiceError('invalid_request', `${at}.alg must be one of ${algs.join(', ')} for kty ${kty}`)
    if (CURVE_BY_KTY[kty] && jwk.crv !== CURVE_BY_KTY[kty]) throw new ServiceError('invalid_request', `${at}.crv must be ${CURVE_BY_KTY[kty]}`)
    if (jwk.use !== undefined && jwk.use !== 'sig') throw new ServiceError('invalid_request', `${at}.use must be "sig"`)
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.every((o) => o === 'verify')))
      throw new ServiceError('invalid_request', `${at}.key_ops may only be ["verify"]`)
    if (jwk.kid !== undefined) {
      if (typeof jwk.kid !== 'string' || jwk.kid.length === 0 || jwk.kid.length > 128)
        throw new ServiceError('invalid_request', `${at}.kid must be a string of 1 to 128 characters`)
      if (kids.has(jwk.kid)) throw new ServiceError('invalid_request', `${at}.kid repeats another key's kid`)
      kids.add(jwk.kid)
    }
    const members = PUBLIC_MEMBERS[kty]!
    for (const m of members)
      if (typeof jwk[m] !== 'string' || (m !== 'crv' && !isBase64url(jwk[m])))
        throw new ServiceError('invalid_request', `${at}.${m} is required (base64url)`)
    if (kty === 'RSA' && bitLength(decode(jwk.n as string)) < MIN_RSA_BITS)
      throw new ServiceError('invalid_request', `${at}: RSA keys must have at least ${MIN_RSA_BITS} bits`)
    const kept: Record<string, unknown> = { kty }
    for (const m of ['kid', 'alg', 'use'] as const) if (jwk[m] !== undefined) kept[m] = jwk[m]
    for (const m of members) kept[m] = jwk[m]
    try {
      await importJWK(kept as JWK, (jwk.alg as string | undefined) ?? algs[0])
    } catch {
      throw new ServiceError('invalid_request', `${at} is not a valid ${kty} public key`)
    }
    out.push(kept)
  }
  return { keys: out }
}

function bitLength(bytes: Uint8Array): number {
  let i = 0
  while (i < bytes.length && bytes[i] === 0) i++
  if (i === bytes.length) return 0
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!))
}

/** The registration as the administration API shows it (no secrets: there are none). */
export function clientView(client: ClientRecord, roles: string[]) {
  return {
    client_id: client.id,
    name: client.name,
    token_endpoint_auth_method: client.kind === 'confidential' ? 'private_key_jwt' : 'none',
    // An agent gets tokens only for the people who approve it (CIBA), and refreshes standing ones.
    grant_types: client.agent
      ? ['urn:openid:params:grant-type:ciba', 'refresh_token']
      : client.kind === 'confidential'
        ? ['client_credentials']
        : ['authorization_code', 'refresh_token'],
    ...(client.agent ? { agent: true, backchannel_token_delivery_mode: 'poll' } : {}),
    ...(client.kind === 'public' ? { response_types: ['code'], redirect_uris: client.redirectUris } : {}),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    roles,
    scopes: client.scopes ?? [],
    createdAt: new Date(client.createdAt).toISOString(),
  }
}
