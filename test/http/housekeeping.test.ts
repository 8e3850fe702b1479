/**
 * Housekeeping end to end over HTTP against a real Azurite (shared/housekeeping.ts, docs/storage.md
 * "Housekeeping"): people and a machine client leave sessions, abandoned challenges and `jti`
 * markers behind; once time has moved past the refresh token lifetime plus the hour of grace,
 * one sweep deletes them all, and the accounts still sign in.
 */
import assert from 'node:assert/strict'
import { keyPair } from '../helpers/keys.js'
import { after, before, describe, it } from 'node:test'
import { TableClient } from '@azure/data-tables'
import { sweep, SWEEP_GRACE_MS } from '../../shared/housekeeping.js'
import { ManualClock } from '../../shared/util/clock.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, form, post, signIn, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { JWT_BEARER, adminToken, clientAssertion, registerClient } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
const clock = new ManualClock(Date.now())

before(async () => {
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, clock, env: { BOOTSTRAP_ADMINS: 'root-admin' } })
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

/** Every row of one of the service's tables, as `PartitionKey/RowKey`. */
async function rows(table: 'challenges' | 'users'): Promise<string[]> {
  const client = TableClient.fromConnectionString(azurite.connectionString, `${svc.config.tablePrefix}${table}`, {
    allowInsecureConnection: true,
  })
  const keys: string[] = []
  for await (const e of client.listEntities()) keys.push(`${e.partitionKey}/${e.rowKey}`)
  return keys
}
const sessionRows = async () => (await rows('users')).filter((k) => k.split('/')[1]!.startsWith('sess:'))

describe('Housekeeping (sweep) over HTTP', () => {
  it('after REFRESH_TOKEN_TTL + 1 h, one sweep deletes the expired sessions and markers; the accounts still sign in', async () => {
    // People: an admin, and alice who signs up and signs in again (two sessions).
    const admin = await adminToken(svc.url, new SoftAuthenticator(), 'root-admin')
    const auth = new SoftAuthenticator()
    const alice = await signUp(svc.url, auth, 'alice')
    const second = await signIn(svc.url, auth, 'alice')
    assert.equal(second.status, 200, JSON.stringify(second.body))
    // Ceremonies started and never finished: their challenge markers are never consumed.
    assert.equal((await post(svc.url, '/api/webauthn/authentication/options', { username: 'alice' })).status, 200)
    assert.equal((await post(svc.url, '/api/webauthn/registration/options', { username: 'bob' })).status, 200)
    // A machine client: its token has a session row, its assertion a `jti` marker.
    const keys = keyPair('ec', { namedCurve: 'P-256' })
    const jwk = { ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }
    const machine = (await registerClient(svc.url, admin, { name: 'nightly job', jwks: { keys: [jwk] }, roles: [] })).client_id
    const clientToken = async () => {
      const now = Math.floor(clock.now() / 1000)
      const assertion = await clientAssertion({
        clientId: machine,
        key: keys.privateKey,
        kid: 'k1',
        aud: svc.config.issuer,
        claims: { iat: now, exp: now + 60 },
      })
      return form(svc.url, '/api/oauth2/token', {
        grant_type: 'client_credentials',
        client_assertion_type: JWT_BEARER,
        client_assertion: assertion,
      })
    }
    assert.equal((await clientToken()).status, 200)

    const markers = await rows('challenges')
    const sessions = await sessionRows()
    const others = (await rows('users')).filter((k) => !sessions.includes(k))
    assert.equal(markers.length, 3, `two abandoned challenges and one jti marker: ${markers}`)
    assert.equal(markers.filter((k) => k.startsWith('jti.')).length, 1)
    assert.equal(sessions.length, 4, `admin, alice twice, the machine client: ${sessions}`)

    // Nothing has expired for an hour yet: a sweep now touches nothing.
    assert.deepEqual(await sweep(svc.core, clock.now()), { challenges: 0, sessions: 0, invitations: 0 })
    // Just past the refresh token lifetime: expired, but still within the grace period.
    clock.advance(svc.config.refreshTokenTtl * 1000 + 1000)
    assert.deepEqual(await sweep(svc.core, clock.now()), { challenges: 3, sessions: 1, invitations: 0 }, 'only the machine session')
    clock.advance(SWEEP_GRACE_MS)
    assert.deepEqual(await sweep(svc.core, clock.now()), { challenges: 0, sessions: 3, invitations: 0 })
    assert.deepEqual(await rows('challenges'), [])
    assert.deepEqual(await sessionRows(), [])
    assert.deepEqual(await rows('users'), others, 'users, passkeys, personal-data keys and the client stay')
    assert.equal(others.length, 8, `admin and alice with a passkey and a personal-data key each, the client's principal and registration: ${others}`)

    // The old refresh token now finds no session; the accounts still work.
    const refresh = await form(svc.url, '/api/oauth2/token', {
      grant_type: 'refresh_token',
      refresh_token: alice.tokens.refresh_token,
    })
    assert.equal(refresh.status, 400)
    assert.equal(refresh.body.error, 'invalid_grant')
    const again = await signIn(svc.url, auth, 'alice')
    assert.equal(again.status, 200, JSON.stringify(again.body))
    const me = await call(svc.url, 'GET', '/api/me', undefined, bearer(again.body.access_token))
    assert.equal(me.status, 200, JSON.stringify(me.body))
    assert.equal(me.body.id, alice.user.id)
    assert.equal((await clientToken()).status, 200)
    assert.equal((await sessionRows()).length, 2)
  })
})
