/**
 * shared/oauth/clients.ts: client registration validation (RFC 7591 §2 member rules, RFC 7517
 * keys, RFC 6749 §3.1.2 / RFC 8252 §7.3 redirect URIs). No storage, no HTTP.
 */
import assert from 'node:assert/strict'
import { keyPair } from '../helpers/keys.js'
import { describe, it } from 'node:test'
import { ServiceError } from '../../shared/errors.js'
import { parseClientRegistration, parseJwks, parseJwksUri, parseRedirectUris } from '../../shared/oauth/clients.js'

const ec = () => ({ ...keyPair('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) }) as Record<string, unknown>
const rsa = (bits = 2048) => keyPair('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' }) as Record<string, unknown>
const ed = () => keyPair('ed25519').publicKey.export({ format: 'jwk' }) as Record<string, unknown>

async function refused(p: Promise<unknown> | (() => unknown), match: RegExp) {
  await assert.rejects(async () => (typeof p === 'function' ? p() : await p), (e: unknown) => {
    assert.ok(e instanceof ServiceError)
    assert.equal(e.code, 'invalid_request')
    assert.match(e.message, match)
    return true
  })
}

describe('RFC 7517 client JWKS (public keys only)', () => {
  it('accepts RSA ≥ 2048, EC P-256 and Ed25519 keys and keeps only public members', async () => {
    const keys = [{ ...rsa(), kid: 'r', alg: 'PS256', x5c: ['AAAA'] }, { ...ec(), use: 'sig' }, ed()]
    const jwks = await parseJwks({ keys })
    assert.equal(jwks.keys.length, 3)
    assert.deepEqual(Object.keys(jwks.keys[0]!).sort(), ['alg', 'e', 'kid', 'kty', 'n'])
    assert.equal(jwks.keys[1]!.use, 'sig')
  })

  it('refuses private members, whatever the key type', async () => {
    const { privateKey } = keyPair('ec', { namedCurve: 'P-256' })
    await refused(parseJwks({ keys: [privateKey.export({ format: 'jwk' })] }), /private member "d"/)
    const rsaPriv = keyPair('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })
    await refused(parseJwks({ keys: [rsaPriv] }), /private member/)
    await refused(parseJwks({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }), /private member "k"/)
  })

  it('refuses other key types, algorithms, curves, small RSA keys and bad shapes', async () => {
    await refused(parseJwks({ keys: [{ kty: 'oct' }] }), /kty must be RSA, EC or OKP/)
    await refused(parseJwks({ keys: [{ ...rsa(), alg: 'HS256' }] }), /alg must be one of RS256, PS256/)
    await refused(parseJwks({ keys: [{ ...rsa(), alg: 'none' }] }), /alg/)
    await refused(parseJwks({ keys: [{ ...ec(), alg: 'RS256' }] }), /alg must be one of ES256/)
    await refused(parseJwks({ keys: [keyPair('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' })] }), /crv must be P-256/)
    await refused(parseJwks({ keys: [rsa(1024)] }), /at least 2048 bits/)
    await refused(parseJwks({ keys: [{ ...ec(), use: 'enc' }] }), /use must be "sig"/)
    await refused(parseJwks({ keys: [{ ...ec(), x: 'AAAA' }] }), /not a valid EC public key/)
    await refused(parseJwks({ keys: [] }), /1 to 10 keys/)
    await refused(parseJwks([ec()]), /JWK Set object/)
    await refused(parseJwks({ keys: [{ ...ec(), kid: 'a' }, { ...ec(), kid: 'a' }] }), /repeats/)
  })
})

describe('RFC 6749 §3.1.2 redirect URIs', () => {
  it('absolute https, or http on loopback hosts', () => {
    assert.deepEqual(parseRedirectUris(['https://app.example/cb', 'http://localhost:3000/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb']).length, 4)
  })
  it('refuses fragments, relative URIs, plain http, user info, other schemes', async () => {
    await refused(() => parseRedirectUris(['https://app.example/cb#x']), /fragment/)
    await refused(() => parseRedirectUris(['https://app.example/cb#']), /fragment/)
    await refused(() => parseRedirectUris(['/cb']), /absolute/)
    await refused(() => parseRedirectUris(['http://app.example/cb']), /https/)
    await refused(() => parseRedirectUris(['https://user:pw@app.example/cb']), /user information/)
    await refused(() => parseRedirectUris(['javascript:alert(1)']), /https/)
    await refused(() => parseRedirectUris([]), /1 to 10/)
  })
})

describe('jwks_uri', () => {
  it('https; http only for loopback and only locally', async () => {
    assert.equal(parseJwksUri('https://keys.example/jwks.json', { local: false }), 'https://keys.example/jwks.json')
    assert.equal(parseJwksUri('http://127.0.0.1:9999/jwks', { local: true }), 'http://127.0.0.1:9999/jwks')
    await refused(() => parseJwksUri('http://127.0.0.1:9999/jwks', { local: false }), /https/)
    await refused(() => parseJwksUri('http://keys.example/jwks', { local: true }), /https/)
    await refused(() => parseJwksUri('https://keys.example/jwks#k', { local: true }), /fragment/)
  })
})

describe('POST /api/manage/clients body', () => {
  const config = { local: true } as never
  it('keys make a confidential client; no keys a public one with redirect URIs', async () => {
    const machine = await parseClientRegistration({ name: 'job', jwks: { keys: [ec()] }, roles: ['reader'] }, config)
    assert.equal(machine.kind, 'confidential')
    assert.deepEqual(machine.roles, ['reader'])
    const spa = await parseClientRegistration({ name: 'portal', redirect_uris: ['https://p.example/cb'] }, config)
    assert.equal(spa.kind, 'public')
  })
  it('refuses both key forms, a public client without redirect URIs or with roles, unknown fields, secrets', async () => {
    await refused(parseClientRegistration({ name: 'x', jwks: { keys: [ec()] }, jwks_uri: 'https://k.example/j' }, config), /not both/)
    await refused(parseClientRegistration({ name: 'x' }, config), /needs redirect_uris/)
    assert.deepEqual((await parseClientRegistration({ name: 'x', redirect_uris: ['https://a.example/cb'], roles: ['r'] }, config)).roles, ['r'])
    await refused(parseClientRegistration({ name: 'x', jwks: { keys: [ec()] }, redirect_uris: ['https://a.example/cb'] }, config), /redirect_uris are for public/)
    await refused(parseClientRegistration({ name: 'x', client_secret: 's', redirect_uris: ['https://a.example/cb'] }, config), /Unknown fields: client_secret/)
    await refused(parseClientRegistration({ redirect_uris: ['https://a.example/cb'] }, config), /name is required/)
  })
})
