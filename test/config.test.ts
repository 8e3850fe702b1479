/** Settings (CONTRACT "Settings"): defaults, PORT following, and startup errors that name the setting. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { loadConfig, SETTINGS } from '../shared/config.js'

const KEK = Buffer.alloc(32, 1).toString('base64')

describe('loadConfig', () => {
  it('local defaults are the contract\'s', () => {
    const c = loadConfig({}, { local: true })
    assert.equal(c.port, 7071)
    assert.equal(c.rpId, 'localhost')
    assert.deepEqual(c.allowedOrigins, ['http://localhost:7071'])
    assert.equal(c.issuer, 'http://localhost:7071/api')
    // The first stays the default; the dev gateway's sample API URL is its RFC 9728 resource.
    assert.deepEqual(c.audiences, ['api://default', 'http://localhost:7072/sample'])
    assert.equal(c.tokenAlg, 'RS256')
    assert.equal(c.accessTokenTtl, 600)
    assert.equal(c.refreshTokenTtl, 86400)
    assert.equal(c.userVerification, 'required')
    assert.equal(c.registration, 'open')
    assert.deepEqual(c.bootstrapAdmins, [])
    assert.equal(c.gatewayPort, 7072)
    assert.equal(c.keyRotationPeriod, 30 * 86400)
    assert.equal(c.keyPublishAhead, 86400)
    assert.equal(c.challengeTtl, 300)
    assert.ok(Object.isFrozen(c))
  })

  it('PORT moves origin, issuer and gateway unless they are set', () => {
    const c = loadConfig({ PORT: '8080' }, { local: true })
    assert.deepEqual(c.allowedOrigins, ['http://localhost:8080'])
    assert.equal(c.issuer, 'http://localhost:8080/api')
    assert.equal(c.gatewayPort, 8081)
    const d = loadConfig({ PORT: '8080', ISSUER: 'https://id.example.com/api', GATEWAY_PORT: '9000' }, { local: true })
    assert.equal(d.issuer, 'https://id.example.com/api')
    assert.equal(d.gatewayPort, 9000)
  })

  const bad: [Record<string, string>, RegExp][] = [
    [{ TOKEN_ALG: 'HS256' }, /TOKEN_ALG.*RS256, PS256, ES256/],
    [{ TOKEN_ALG: 'none' }, /TOKEN_ALG/],
    [{ PORT: 'eighty' }, /PORT/],
    [{ ACCESS_TOKEN_TTL: '-5' }, /ACCESS_TOKEN_TTL/],
    [{ USER_VERIFICATION: 'discouraged' }, /USER_VERIFICATION.*required, preferred/],
    [{ REGISTRATION: 'maybe' }, /REGISTRATION/],
    [{ ALLOWED_ORIGINS: 'http://evil.example.com' }, /ALLOWED_ORIGINS/],
    [{ ALLOWED_ORIGINS: 'https://localhost:7071/path' }, /ALLOWED_ORIGINS/],
    [{ RP_ID: 'https://example.com' }, /RP_ID/],
    [{ ISSUER: 'http://localhost:7071/api/' }, /ISSUER/],
    [{ KEY_ENCRYPTION_KEY: 'c2hvcnQ=' }, /KEY_ENCRYPTION_KEY.*32/],
    [{ TABLE_PREFIX: 'has-dash' }, /TABLE_PREFIX/],
    [{ APPLICATIONINSIGHTS_CONNECTION_STRING: 'IngestionEndpoint=https://x.in.applicationinsights.azure.com/' }, /APPLICATIONINSIGHTS_CONNECTION_STRING.*InstrumentationKey/],
    [{ APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=k;IngestionEndpoint=ftp://x' }, /APPLICATIONINSIGHTS_CONNECTION_STRING.*https/],
    [{ APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=k', APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=Basic' }, /APPLICATIONINSIGHTS_AUTHENTICATION_STRING/],
  ]
  for (const [env, msg] of bad) {
    it(`rejects ${JSON.stringify(env)} with a TypeError naming the setting`, () => {
      assert.throws(() => loadConfig(env, { local: true }), (e: Error) => e instanceof TypeError && msg.test(e.message))
    })
  }

  it('APPLICATIONINSIGHTS_CONNECTION_STRING: off when unset; with Authorization=AAD (and a ClientId) the exporter authenticates with Entra ID', () => {
    assert.equal(loadConfig({}, { local: true }).applicationInsights, undefined)
    const cs = 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/'
    assert.deepEqual(loadConfig({ APPLICATIONINSIGHTS_CONNECTION_STRING: cs }, { local: true }).applicationInsights, { connectionString: cs })
    const id = '11111111-2222-3333-4444-555555555555'
    const aad = loadConfig({ APPLICATIONINSIGHTS_CONNECTION_STRING: cs, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=AAD;ClientId=${id}` }, { local: true })
    assert.deepEqual(aad.applicationInsights, { connectionString: cs, aad: { clientId: id } })
    // The key is not echoed in the error.
    for (const bad of ['IngestionEndpoint=https://secret-host', 'InstrumentationKey=secret-key;IngestionEndpoint=ftp://secret-host'])
      assert.throws(() => loadConfig({ APPLICATIONINSIGHTS_CONNECTION_STRING: bad }, { local: true }), (e: Error) => /APPLICATIONINSIGHTS_CONNECTION_STRING/.test(e.message) && !/secret/.test(e.message))
  })

  it('in Azure, RP_ID, ALLOWED_ORIGINS, ISSUER, KEY_ENCRYPTION_KEY and storage are required; registration defaults closed', () => {
    const full = {
      RP_ID: 'example.com',
      ALLOWED_ORIGINS: 'https://app.example.com',
      ISSUER: 'https://id.example.com/api',
      KEY_ENCRYPTION_KEY: KEK,
      TABLES_ENDPOINT: 'https://acct.table.core.windows.net',
    }
    const c = loadConfig(full, { local: false })
    assert.equal(c.registration, 'closed')
    for (const name of ['RP_ID', 'ALLOWED_ORIGINS', 'ISSUER', 'KEY_ENCRYPTION_KEY', 'TABLES_ENDPOINT']) {
      const env: Record<string, string> = { ...full }
      delete env[name]
      assert.throws(() => loadConfig(env, { local: false }), (e: Error) => e instanceof TypeError && e.message.includes(name), name)
    }
    assert.throws(() => loadConfig({ ...full, ALLOWED_ORIGINS: 'http://app.example.com' }, { local: false }), /https/)
  })

  it('TABLES_ENDPOINT wins over the host\'s AzureWebJobsStorage; TABLES_CONNECTION_STRING wins over both', () => {
    const a = loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', TABLES_ENDPOINT: 'https://a.table.core.windows.net' }, { local: true })
    assert.equal(a.tablesConnectionString, undefined)
    assert.equal(a.tablesEndpoint, 'https://a.table.core.windows.net')
    const b = loadConfig({ TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true', TABLES_ENDPOINT: 'https://a.table.core.windows.net' }, { local: true })
    assert.equal(b.tablesConnectionString, 'UseDevelopmentStorage=true')
  })

  it('GATEWAY_URL: the dev gateway locally by default, none in Azure unless set, https required in Azure', () => {
    assert.equal(loadConfig({}, { local: true }).gatewayUrl, 'http://localhost:7072')
    assert.equal(loadConfig({ GATEWAY_PORT: '9001' }, { local: true }).gatewayUrl, 'http://localhost:9001')
    const azure = { RP_ID: 'example.com', ALLOWED_ORIGINS: 'https://app.example.com', ISSUER: 'https://id.example.com/api', KEY_ENCRYPTION_KEY: KEK, TABLES_ENDPOINT: 'https://a.table.core.windows.net' }
    assert.equal(loadConfig(azure, { local: false }).gatewayUrl, undefined)
    assert.equal(loadConfig({ ...azure, GATEWAY_URL: 'https://contoso.azure-api.net/' }, { local: false }).gatewayUrl, 'https://contoso.azure-api.net')
    assert.throws(() => loadConfig({ ...azure, GATEWAY_URL: 'http://contoso.azure-api.net' }, { local: false }), /GATEWAY_URL/)
  })

  it('the KEK never appears in an error message', () => {
    try {
      loadConfig({ KEY_ENCRYPTION_KEY: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=' }, { local: true })
      assert.fail('should throw')
    } catch (e) {
      assert.doesNotMatch((e as Error).message, /c2VjcmV0/)
    }
  })
})

describe('CONTRACT "Authenticator trust" settings: METADATA_BLOB, METADATA_ROOT, AUTHENTICATOR_POLICY', () => {
  it('defaults: no BLOB, the FIDO Alliance MDS root (GlobalSign Root CA - R3), policy any', () => {
    const c = loadConfig({}, { local: true })
    assert.equal(c.metadataBlob, undefined)
    assert.equal(c.metadataRoot.length, 1)
    assert.match(c.metadataRoot[0]!, /^-----BEGIN CERTIFICATE-----\nMIIDXzCCAkegAwIBAgILBAAAAAABIVhTCKIw/)
    assert.deepEqual(c.authenticatorPolicy, { kind: 'any' })
  })

  it('METADATA_BLOB: a file path or an https URL (http only locally)', () => {
    assert.deepEqual(loadConfig({ METADATA_BLOB: ' /data/blob.jwt ' }, { local: true }).metadataBlob, { kind: 'file', path: '/data/blob.jwt' })
    assert.deepEqual(loadConfig({ METADATA_BLOB: 'https://mds.fidoalliance.org/' }, { local: true }).metadataBlob, { kind: 'url', url: 'https://mds.fidoalliance.org/' })
    const azure = { RP_ID: 'example.com', ALLOWED_ORIGINS: 'https://app.example.com', ISSUER: 'https://id.example.com/api', KEY_ENCRYPTION_KEY: KEK, TABLES_ENDPOINT: 'https://a.table.core.windows.net' }
    assert.throws(() => loadConfig({ ...azure, METADATA_BLOB: 'http://mds.example.com/' }, { local: false }), (e: Error) => e instanceof TypeError && /METADATA_BLOB/.test(e.message))
    assert.throws(() => loadConfig({ METADATA_BLOB: 'ftp://mds.example.com/' }, { local: true }), /METADATA_BLOB/)
  })

  it('METADATA_ROOT: PEM certificates, anything else refused naming METADATA_ROOT', () => {
    const pem = loadConfig({}, { local: true }).metadataRoot[0]!
    assert.deepEqual(loadConfig({ METADATA_ROOT: pem.replace(/\n/g, '\\n') }, { local: true }).metadataRoot, [pem])
    assert.throws(() => loadConfig({ METADATA_ROOT: 'not a certificate' }, { local: true }), (e: Error) => e instanceof TypeError && /METADATA_ROOT/.test(e.message))
  })

  it('AUTHENTICATOR_POLICY other than any: ATTESTATION defaults to direct; an explicit ATTESTATION=none is a startup error naming both', () => {
    const a = 'cb69481e-8ff7-4039-93ec-0a2729a154a8'
    assert.equal(loadConfig({ AUTHENTICATOR_POLICY: a }, { local: true }).attestation, 'direct')
    assert.equal(loadConfig({ METADATA_BLOB: 'blob.jwt', AUTHENTICATOR_POLICY: 'certified' }, { local: true }).attestation, 'direct')
    assert.equal(loadConfig({ AUTHENTICATOR_POLICY: 'any' }, { local: true }).attestation, 'none')
    assert.equal(loadConfig({}, { local: true }).attestation, 'none')
    assert.throws(
      () => loadConfig({ ATTESTATION: 'none', AUTHENTICATOR_POLICY: a }, { local: true }),
      (e: Error) => e instanceof TypeError && /AUTHENTICATOR_POLICY/.test(e.message) && /ATTESTATION/.test(e.message),
    )
  })

  it('AUTHENTICATOR_POLICY: any, certified (needs METADATA_BLOB), or AAGUIDs', () => {
    const direct = { ATTESTATION: 'direct' }
    assert.deepEqual(loadConfig({ ...direct, METADATA_BLOB: 'blob.jwt', AUTHENTICATOR_POLICY: 'Certified' }, { local: true }).authenticatorPolicy, { kind: 'certified' })
    const a = 'CB69481E-8FF7-4039-93EC-0A2729A154A8'
    assert.deepEqual(loadConfig({ ...direct, AUTHENTICATOR_POLICY: `${a}, ee882879-721c-4913-9775-3dfcce97072a,${a}` }, { local: true }).authenticatorPolicy, {
      kind: 'aaguids',
      aaguids: [a.toLowerCase(), 'ee882879-721c-4913-9775-3dfcce97072a'],
    })
    for (const env of [
      { ...direct, AUTHENTICATOR_POLICY: 'certified' },
      { ...direct, AUTHENTICATOR_POLICY: 'yubikeys' },
      { ...direct, AUTHENTICATOR_POLICY: 'cb69481e8ff7403993ec0a2729a154a8' },
      { ATTESTATION: 'none', METADATA_BLOB: 'blob.jwt', AUTHENTICATOR_POLICY: 'certified' },
      { ATTESTATION: 'none', AUTHENTICATOR_POLICY: a },
    ])
      assert.throws(() => loadConfig(env, { local: true }), (e: Error) => e instanceof TypeError && /AUTHENTICATOR_POLICY/.test(e.message), JSON.stringify(env))
  })
})

describe('SETTINGS documentation', () => {
  /** The names in README's "## Settings" table, in order. */
  function readmeSettings(): string[] {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('\n## Settings\n'))
    const table = section.slice(section.indexOf('| name |'), section.indexOf('\n\n', section.indexOf('| name |')))
    return [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!)
  }

  it('the README settings table lists every SETTINGS entry, in order, and nothing else', () => {
    const documented = readmeSettings()
    const names = SETTINGS.map((s) => s.name)
    for (const name of names) assert.ok(documented.includes(name), `${name} is in the README settings table`)
    for (const name of documented) assert.ok(names.includes(name), `README lists ${name}, which SETTINGS lacks`)
    assert.deepEqual(documented, names)
  })

  it('every setting is documented once, with a meaning and a local default', () => {
    assert.equal(new Set(SETTINGS.map((s) => s.name)).size, SETTINGS.length)
    for (const s of SETTINGS) assert.ok(s.meaning && s.localDefault, s.name)
    assert.ok(SETTINGS.some((s) => s.name === 'TABLE_PREFIX'))
  })

  it('every config property but `local` comes from a setting', () => {
    const c = loadConfig({}, { local: true })
    // One SETTINGS entry per property, plus the two read with another: AzureWebJobsStorage (the
    // Table connection string's fallback) and APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
    assert.equal(Object.keys(c).length - 1, SETTINGS.length - 2)
  })
})
