/**
 * The Table store's column codec (shared/store/tables/codec.ts, rows.ts), without Azurite: every
 * declared column of every row round-trips, absent optional fields stay absent, and the stored
 * encodings (docs/storage.md "Encodings") are pinned, so existing rows keep reading back.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Row } from '../../shared/store/tables/codec.js'
import * as rows from '../../shared/store/tables/rows.js'
import type * as records from '../../shared/store/types.js'

const T0 = 1_767_225_600_000 // beyond Int32, as every time in ms is

/** What the SDK hands back for an entity it wrote: Int64 as bigint, an etag. */
function asRead(entity: Record<string, unknown>, etag = 'W/"1"'): Row {
  const read = Object.entries(entity).map(([k, v]) => {
    const int64 = v && typeof v === 'object' && (v as { type?: unknown }).type === 'Int64'
    return [k, int64 ? BigInt((v as { value: string }).value) : v]
  })
  return { ...Object.fromEntries(read), etag } as Row
}

const user: records.UserRecord = { id: 'u1', username: 'a/b#c?d%e', displayName: 'A', roles: ['reader', 'admin'], createdAt: T0 }
const credential: records.CredentialRecord = {
  id: 'cred-1',
  userId: 'u1',
  publicKey: 'pQECAyYgASFYIA',
  alg: -8,
  counter: 2 ** 32 - 1,
  transports: ['internal', 'hybrid'],
  aaguid: 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4',
  fmt: 'packed',
  backupEligible: true,
  backedUp: true,
  attestationTrusted: true,
  attestationKeyId: '0123456789abcdef0123456789abcdef01234567',
  label: 'Phone',
  createdAt: T0,
  lastUsedAt: T0 + 1,
  flaggedAt: T0 + 2,
  flagReason: 'counter regression',
}
const session: records.SessionRecord = {
  id: 's1',
  userId: 'u1',
  credentialId: 'cred-1',
  clientId: 'web',
  audience: 'api://default',
  scope: 'openid profile',
  amr: ['hwk', 'user'],
  acr: 'phr',
  authTime: Math.floor(T0 / 1000),
  createdAt: T0,
  expiresAt: T0 + 3_600_000,
  lastUsedAt: T0 + 3,
  userAgent: 'Mozilla/5.0',
  revokedAt: T0 + 5,
  revokedReason: 'signed out',
  refreshHash: 'h1',
  previousRefreshHashes: ['h0'],
  jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
  authorizationCode: { redirectUri: 'https://app/cb', codeChallenge: 'cc', nonce: 'n', expiresAt: T0 + 60_000, usedAt: T0 + 7 },
  delegation: { requestId: 'r1', authorizationDetails: [{ type: 'api_request', method: 'POST', path: '/orders', apiId: 'sample' }] },
}
const client: records.ClientRecord = {
  id: 'c1',
  name: 'Batch job',
  kind: 'confidential',
  jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'xx' }] },
  jwksUri: 'https://example.com/jwks',
  redirectUris: ['https://app/cb'],
  scopes: ['orders.read'],
  agent: true,
  createdAt: T0,
}
const backchannelRequest: records.BackchannelRequestRecord = {
  id: 'r1',
  userId: 'u1',
  clientId: 'c1',
  clientName: 'Agent',
  scope: 'openid orders.read',
  bindingMessage: 'Order 42?',
  authorizationDetails: [{ type: 'api_request', method: 'POST', path: '/orders' }],
  secretHash: 'h',
  createdAt: T0,
  expiresAt: T0 + 300_000,
  interval: 5,
  lastPolledAt: T0 + 5_000,
  state: 'approved',
  approval: { at: T0 + 1, authTime: Math.floor(T0 / 1000), amr: ['hwk', 'user', 'mfa'], acr: 'phr', credentialId: 'cred-1' },
  sessionId: 's1',
}
const role: records.RoleRecord = {
  name: 'ops/team',
  permissions: [{ methods: ['GET'], path: '/orders/**', apiId: 'a', acr: 'phr' }],
  updatedAt: T0,
}
const key: records.SigningKeyRecord = {
  kid: 'k1',
  alg: 'EdDSA',
  state: 'retired',
  publicJwk: { kty: 'OKP', crv: 'Ed25519', x: 'xx' },
  encryptedPrivateKey: 'ivct',
  wrappedBy: 'kId00001',
  createdAt: T0,
  activatesAt: T0 + 1,
  retiredAt: T0 + 2,
  expiresAt: T0 + 3,
}
const event: records.AuditEventRecord = {
  seq: 42,
  at: T0,
  type: 'credential.deleted',
  outcome: 'failure',
  actor: { userId: 'u1' },
  target: { credentialId: 'cred-1' },
  ip: '192.0.2.1',
  userAgent: 'test',
  detail: { reason: 'x', n: 1 },
  prev: 'p',
  hash: 'h',
  keyId: 'kId00001',
}

const invitation: records.InvitationRecord = {
  id: 'i1',
  username: 'ada',
  displayName: 'Ada',
  roles: ['reader'],
  userId: 'u2',
  secretHash: 'h',
  createdAt: T0,
  expiresAt: T0 + 1,
  createdBy: 'u1',
  usedAt: T0 + 2,
  revokedAt: T0 + 3,
}

/** Each row with a record that sets every field, and the fields the keys hold. */
const cases = [
  ['user', rows.userRow, { ...user, disabledAt: T0 + 5, deletedAt: T0 + 6 }, ['id']],
  ['audit key', rows.auditKeyRow, { userId: 'u1', wrappedKey: 'w'.repeat(80), wrappedBy: 'kId00001', createdAt: T0 }, ['userId']],
  ['credential', rows.credentialRow, credential, ['id', 'userId']],
  ['session', rows.sessionRow, session, ['id', 'userId']],
  ['client', rows.clientRow, client, ['id']],
  ['backchannel request', rows.backchannelRequestRow, backchannelRequest, ['id', 'userId']],
  ['role', rows.roleRow, role, ['name']],
  ['signing key', rows.signingKeyRow, key, ['kid']],
  ['audit event', rows.auditEventRow, event, ['seq']],
  ['audit head', rows.auditHeadRow, { seq: 42, hash: 'h', at: T0 }, []],
  ['challenge', rows.challengeRow, { id: 'ch1', expiresAt: T0 }, ['id']],
  ['claim', rows.claimRow, { key: 'a%2Fb', userId: 'u1', createdAt: T0 }, ['key']],
  ['invitation', rows.invitationRow, invitation, ['id']],
  ['recovery', rows.recoveryRow, { userId: 'u1', id: 'r1', secretHash: 'h', createdAt: T0, expiresAt: T0 + 1, usedAt: T0 + 2 }, ['userId']],
] as const

describe('Table store column codec (tables/rows.ts)', () => {
  for (const [name, codec, record, keyFields] of cases) {
    it(`${name}: every declared column round-trips, and every field is a key or a column`, () => {
      const c = codec as unknown as {
        columns: readonly string[]
        entity(r: unknown): Record<string, unknown>
        record(r: Row): Record<string, unknown>
      }
      const fields = Object.keys(record).filter((f) => f !== 'etag')
      assert.deepEqual([...c.columns, ...keyFields].sort(), fields.sort(), 'columns + key fields = the record')
      const entity = c.entity(record)
      for (const column of c.columns) assert.ok(entity[column] !== undefined, `${column} is written`)
      const read = c.record(asRead(entity))
      const { etag, ...fieldsRead } = read
      assert.deepEqual(fieldsRead, record)
      if (name === 'audit event' || name === 'challenge') assert.equal(etag, undefined)
      else assert.equal(etag, 'W/"1"')
    })
  }

  it('optional fields that are undefined are not written, and read back absent (not as undefined members)', () => {
    const { lastUsedAt, flaggedAt, flagReason, attestationKeyId, ...bare } = credential
    const entity = rows.credentialRow.entity(bare)
    for (const f of ['lastUsedAt', 'flaggedAt', 'flagReason', 'attestationKeyId']) assert.ok(!(f in entity), f)
    const read = rows.credentialRow.record(asRead(entity))
    for (const f of ['lastUsedAt', 'flaggedAt', 'flagReason', 'attestationKeyId']) assert.ok(!(f in read), f)
    const { credentialId, revokedAt, revokedReason, authorizationCode, ...s } = session
    const sessionRead = rows.sessionRow.record(asRead(rows.sessionRow.entity(s)))
    assert.deepEqual(Object.keys(sessionRead).sort(), [...Object.keys(s), 'etag'].sort())
  })

  it('pins the stored encodings: keys escaped, times and counters Int64, arrays and objects JSON', () => {
    assert.deepEqual(rows.userRow.entity(user), {
      partitionKey: 'u1',
      rowKey: 'acct',
      username: 'a/b#c?d%e',
      displayName: 'A',
      roles: '["reader","admin"]',
      createdAt: { value: String(T0), type: 'Int64' },
    })
    assert.deepEqual(rows.credentialRow.entity({ ...credential, userId: 'a/b' }), {
      partitionKey: 'a%2Fb',
      rowKey: 'acct:cred:cred-1',
      publicKey: 'pQECAyYgASFYIA',
      alg: { value: '-8', type: 'Int64' },
      counter: { value: '4294967295', type: 'Int64' },
      transports: '["internal","hybrid"]',
      aaguid: credential.aaguid,
      fmt: 'packed',
      backupEligible: true,
      backedUp: true,
      attestationTrusted: true,
      attestationKeyId: '0123456789abcdef0123456789abcdef01234567',
      label: 'Phone',
      createdAt: { value: String(T0), type: 'Int64' },
      lastUsedAt: { value: String(T0 + 1), type: 'Int64' },
      flaggedAt: { value: String(T0 + 2), type: 'Int64' },
      flagReason: 'counter regression',
    })
    assert.equal(rows.sessionRow.entity(session).rowKey, 'sess:s1')
    assert.equal(rows.sessionRow.entity(session).authorizationCode, JSON.stringify(session.authorizationCode))
    assert.deepEqual(
      { pk: rows.roleRow.entity(role).partitionKey, rk: rows.roleRow.entity(role).rowKey },
      { pk: 'roles', rk: 'ops%2Fteam' },
    )
    assert.equal(rows.roleRow.record(asRead(rows.roleRow.entity(role))).name, 'ops/team')
    assert.equal(rows.clientRow.entity(client).rowKey, 'client')
    assert.equal(rows.signingKeyRow.entity(key).partitionKey, 'keys')
    assert.equal(rows.signingKeyRow.entity(key).alg, 'EdDSA', 'a signing key alg is text, a passkey alg Int64')
    assert.equal(rows.auditEventRow.entity(event).rowKey, '0000000000000042')
    assert.deepEqual(rows.auditHeadRow.entity({ seq: 42, hash: 'h', at: T0 }), {
      partitionKey: 'audit',
      rowKey: 'head',
      seq: { value: '42', type: 'Int64' },
      hash: 'h',
      at: { value: String(T0), type: 'Int64' },
    })
  })

  it('reads what it did not write as before: missing or unreadable values get the old fallbacks', () => {
    const odd = { partitionKey: 'u1', rowKey: 'client', etag: 'e', kind: 'weird', redirectUris: '{', jwks: 5, scopes: 'null' } as Row
    assert.deepEqual(rows.clientRow.record(odd), {
      id: 'u1',
      name: '',
      kind: 'public',
      redirectUris: [],
      scopes: null,
      createdAt: NaN,
      etag: 'e',
    })
    const a = rows.userRow.record({ partitionKey: 'u', rowKey: 'acct', etag: 'e' })
    const b = rows.userRow.record({ partitionKey: 'v', rowKey: 'acct', etag: 'e' })
    a.roles.push('x')
    assert.deepEqual(b.roles, [], 'each read gets its own fallback')
    const badKey = rows.auditEventRow.record({ partitionKey: 'audit', rowKey: 'x1', etag: 'e' })
    assert.ok(Number.isNaN(badKey.seq), 'a bad row key gives seq NaN')
  })

  it('patch writes only the fields given (a Merge), in their stored encoding', () => {
    assert.deepEqual(rows.sessionRow.patch({ partitionKey: 'u1', rowKey: 'sess:s1' }, { revokedAt: T0, revokedReason: 'r' }), {
      partitionKey: 'u1',
      rowKey: 'sess:s1',
      revokedAt: { value: String(T0), type: 'Int64' },
      revokedReason: 'r',
    })
  })
})
