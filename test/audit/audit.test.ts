/**
 * The audit log end to end, against a real Azurite (docs/audit.md; CONTRACT "Administration":
 * GET /api/manage/audit): who/what/when/where of every audited action, no secret in any stored
 * event, admin-only paging, two instances appending to one chain, and `npm run audit:verify`
 * run as a child process on clean and tampered chains.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { TableClient, type TableEntityResult } from '@azure/data-tables'
import { auditId } from '../../shared/audit/events.js'
import { StorageUnavailableError } from '../../shared/errors.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, freePort, type Azurite } from '../helpers/azurite.js'
import { bearer, call, form, post, signUp, type Res } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
let azurite: Azurite
let n = 0
const uniq = () => `au${process.pid}n${++n}`

before(async () => {
  azurite = await startAzurite()
})
after(async () => {
  await azurite?.stop()
})

const kekOf = (svc: TestService) => Buffer.from(svc.config.keyEncryptionKey!).toString('base64')

function auditTable(svc: TestService) {
  return TableClient.fromConnectionString(azurite.connectionString, `${svc.config.tablePrefix}audit`, {
    allowInsecureConnection: true,
  })
}

async function rawRows(svc: TestService): Promise<TableEntityResult<Record<string, unknown>>[]> {
  const rows: TableEntityResult<Record<string, unknown>>[] = []
  for await (const r of auditTable(svc).listEntities<Record<string, unknown>>()) rows.push(r)
  return rows
}

/** `npm run audit:verify` as a child process, with the service's settings in its environment. */
function runVerify(env: Record<string, string>, args: string[] = []): Promise<{ code: number; line: string; out: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env }
  for (const k of ['AzureWebJobsStorage', 'TABLES_ENDPOINT', 'WEBSITE_INSTANCE_ID']) if (!(k in env)) delete childEnv[k]
  return new Promise((resolve) => {
    execFile(
      'npm',
      ['run', '--silent', 'audit:verify', '--', ...args],
      { cwd: root, env: childEnv, shell: process.platform === 'win32', timeout: 60_000 },
      (err, stdout, stderr) => {
        const out = `${stdout}${stderr}`
        const line = out.split('\n').find((l) => l.startsWith('audit:')) ?? ''
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, line, out })
      },
    )
  })
}

const verifyEnv = (svc: TestService) => ({
  TABLES_CONNECTION_STRING: azurite.connectionString,
  TABLE_PREFIX: svc.config.tablePrefix,
  KEY_ENCRYPTION_KEY: kekOf(svc),
})

describe('Audit events of every audited action (who, what, when, from where)', () => {
  let svc: TestService
  const admin = `boss${process.pid}`
  const secrets: string[] = []
  const keep = (...values: (string | undefined)[]) => secrets.push(...values.filter((v): v is string => !!v))
  let events: any[] = []
  let bossToken = ''
  let ids: Record<string, string> = {}
  const t0 = Date.now()

  before(async () => {
    // One proxy in front appends what it saw (as the App Service front end does in Azure).
    svc = await startService({ connectionString: azurite.connectionString, env: { BOOTSTRAP_ADMINS: admin, TRUSTED_PROXY_HOPS: '1' } })
    const ua = `AuditTest/1.0 ${'x'.repeat(400)}`

    // 1. The administrator signs up through the proxy (X-Forwarded-For: a first entry the caller
    //    wrote, then what the proxy saw) with a long user agent.
    const bossKey = new SoftAuthenticator()
    const o = await post(svc.url, '/api/webauthn/registration/options', { username: admin })
    const bossCred = await bossKey.createCredential(o.body, { origin: ORIGIN })
    const boss = await post(svc.url, '/api/webauthn/registration/verify', { credential: bossCred }, {
      'x-forwarded-for': '203.0.113.7, 10.0.0.1',
      'user-agent': ua,
    })
    assert.equal(boss.status, 201)
    bossToken = boss.body.tokens.access_token as string
    keep(bossToken, boss.body.tokens.refresh_token, boss.body.tokens.id_token)
    // 2. alice signs up; 3. signs in.
    const laptop = new SoftAuthenticator()
    const alice = await signUp(svc.url, laptop, uniq())
    keep(alice.tokens.access_token, alice.tokens.refresh_token, alice.tokens.id_token)
    const ao = await post(svc.url, '/api/webauthn/authentication/options', {})
    const assertion = await laptop.getAssertion(ao.body, { origin: ORIGIN })
    keep(assertion.response.signature, assertion.response.clientDataJSON, assertion.response.authenticatorData)
    const s1 = await post(svc.url, '/api/webauthn/authentication/verify', { credential: assertion })
    assert.equal(s1.status, 200)
    keep(s1.body.access_token, s1.body.refresh_token, s1.body.id_token)
    // 4. The same assertion again: refused (its challenge is used up).
    const replay = await post(svc.url, '/api/webauthn/authentication/verify', { credential: assertion })
    assert.equal(replay.status, 400)
    assert.equal(replay.body.code, 'challenge_unknown')
    // 5. Refresh; 6. the old refresh token again: reuse, refused, the session revoked.
    const r2 = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: s1.body.refresh_token })
    assert.equal(r2.status, 200)
    keep(r2.body.access_token, r2.body.refresh_token, r2.body.id_token)
    const reuse = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: s1.body.refresh_token })
    assert.equal(reuse.body.error, 'invalid_grant')
    // 7. Sign in again; 8. the client revokes that session (RFC 7009).
    const ao2 = await post(svc.url, '/api/webauthn/authentication/options', {})
    const s3 = await post(svc.url, '/api/webauthn/authentication/verify', {
      credential: await laptop.getAssertion(ao2.body, { origin: ORIGIN }),
    })
    keep(s3.body.access_token, s3.body.refresh_token, s3.body.id_token)
    assert.equal((await form(svc.url, '/api/oauth2/revoke', { token: s3.body.refresh_token })).status, 200)
    // 9–11. Roles.
    const adm = bearer(bossToken)
    const permissions = [{ methods: ['GET'], path: '/orders/*' }]
    assert.equal((await call(svc.url, 'PUT', '/api/manage/roles/reader', { permissions }, adm)).status, 200)
    assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${alice.user.id}/roles/reader`, undefined, adm)).status, 200)
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/users/${alice.user.id}/roles/reader`, undefined, adm)).status, 200)
    // 12–14. alice adds a passkey, renames it, deletes it.
    const me = bearer(alice.tokens.access_token)
    const phone = new SoftAuthenticator()
    const ro = await post(svc.url, '/api/webauthn/registration/options', {}, me)
    const added = await post(svc.url, '/api/webauthn/registration/verify', { credential: await phone.createCredential(ro.body, { origin: ORIGIN }) }, me)
    assert.equal(added.status, 201)
    assert.equal((await call(svc.url, 'PATCH', `/api/me/credentials/${added.body.credential.id}`, { label: 'phone' }, me)).status, 200)
    assert.equal((await call(svc.url, 'DELETE', `/api/me/credentials/${added.body.credential.id}`, undefined, me)).status, 204)
    // 15. The role goes; 16. the administrator revokes alice's passkey.
    assert.equal((await call(svc.url, 'DELETE', '/api/manage/roles/reader', undefined, adm)).status, 204)
    assert.equal((await call(svc.url, 'DELETE', `/api/manage/credentials/${alice.credential.id}`, undefined, adm)).status, 204)

    const list = await call(svc.url, 'GET', '/api/manage/audit?limit=1000', undefined, adm)
    assert.equal(list.status, 200, JSON.stringify(list.body))
    events = list.body
    ids = {
      boss: boss.body.user.id,
      alice: alice.user.id,
      aliceUsername: alice.user.username,
      laptop: alice.credential.id,
      phone: added.body.credential.id,
      s1: s1.body.refresh_token.split('.')[1],
      s3: s3.body.refresh_token.split('.')[1],
    }
    keep(kekOf(svc), Buffer.from(svc.config.keyEncryptionKey!).toString('base64url'), Buffer.from(svc.config.keyEncryptionKey!).toString('hex'))
    for (const t of [s1.body.refresh_token, s3.body.refresh_token, r2.body.refresh_token, alice.tokens.refresh_token]) keep(t.split('.')[2])
  })
  after(() => svc.close())

  it('one event per action, oldest first, in the order they happened', () => {
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'user.signed_up', 'user.signed_up', 'user.signed_in', 'ceremony.failed', 'token.refreshed', 'token.failed',
        'user.signed_in', 'token.revoked', 'role.put', 'user.role_granted', 'user.role_removed', 'passkey.added',
        'passkey.renamed', 'passkey.deleted', 'role.deleted', 'passkey.revoked',
      ],
    )
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1))
    assert.deepEqual(events.map((e) => e.id), events.map((_, i) => auditId(i + 1)))
  })

  it('who, when, from which IP and user agent (the X-Forwarded-For entry TRUSTED_PROXY_HOPS from the right, not the caller-written first; user agent ≤ 256)', () => {
    const [signUp] = events
    assert.deepEqual(signUp.actor, { userId: ids.boss, username: admin })
    assert.equal(signUp.ip, '10.0.0.1', 'what the trusted proxy saw; 203.0.113.7 is only what the caller claimed')
    assert.equal(signUp.userAgent.length, 256)
    assert.ok(signUp.userAgent.startsWith('AuditTest/1.0 '))
    for (const e of events) {
      const t = Date.parse(e.time)
      assert.ok(t >= t0 - 1000 && t <= Date.now() + 1000, `${e.type} time ${e.time}`)
      assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    }
    for (const e of events.slice(1)) assert.match(e.ip, /^(::ffff:)?127\.0\.0\.1$/, `${e.type} ip`)
    for (let i = 1; i < events.length; i++) assert.ok(Date.parse(events[i].time) >= Date.parse(events[i - 1].time))
  })

  it('what: the ids of the user, passkey, session, role and the reason of a failure', () => {
    const by = (type: string) => events.filter((e) => e.type === type)
    const [, aliceUp] = by('user.signed_up')
    assert.deepEqual(aliceUp.target, { userId: ids.alice, username: ids.aliceUsername, credentialId: ids.laptop, sessionId: aliceUp.target.sessionId })
    const [in1, in3] = by('user.signed_in')
    assert.deepEqual(in1.actor, { userId: ids.alice, username: ids.aliceUsername })
    assert.deepEqual(in1.target, { userId: ids.alice, username: ids.aliceUsername, credentialId: ids.laptop, sessionId: ids.s1 })
    assert.ok(in1.detail.amr.includes('user') && typeof in1.detail.acr === 'string')
    assert.equal(in3.target.sessionId, ids.s3)
    const [failed] = by('ceremony.failed')
    assert.equal(failed.outcome, 'failure')
    assert.deepEqual(failed.detail, { ceremony: 'authentication', code: 'challenge_unknown', status: 400 })
    assert.equal(failed.target.credentialId, ids.laptop)
    const [refreshed] = by('token.refreshed')
    assert.deepEqual(refreshed.target, { userId: ids.alice, sessionId: ids.s1 })
    assert.equal(refreshed.detail.grant, 'refresh_token')
    const [reuse] = by('token.failed')
    assert.equal(reuse.outcome, 'failure')
    // A refused request's ids are only claims: recorded under detail, never as actor or target.
    assert.deepEqual(reuse.target, {})
    assert.deepEqual(reuse.actor, {})
    assert.deepEqual(reuse.detail.claimed, { userId: ids.alice, sessionId: ids.s1 })
    assert.equal(reuse.detail.error, 'invalid_grant')
    assert.match(reuse.detail.reason, /already used/)
    assert.deepEqual(by('token.revoked')[0].target, { userId: ids.alice, sessionId: ids.s3 })
    for (const type of ['role.put', 'user.role_granted', 'user.role_removed', 'role.deleted', 'passkey.revoked'])
      assert.deepEqual(by(type)[0].actor, { userId: ids.boss }, `${type}: the administrator acted`)
    assert.deepEqual(by('role.put')[0].detail.permissions, [{ methods: ['GET'], path: '/orders/*' }])
    assert.deepEqual(by('user.role_granted')[0].target, { userId: ids.alice, username: ids.aliceUsername, role: 'reader' })
    assert.deepEqual(by('passkey.added')[0].target.credentialId, ids.phone)
    assert.deepEqual(by('passkey.renamed')[0].detail.to, 'phone')
    assert.deepEqual(by('passkey.deleted')[0], { ...by('passkey.deleted')[0], actor: { userId: ids.alice }, target: { userId: ids.alice, credentialId: ids.phone } })
    assert.deepEqual(by('passkey.revoked')[0].target, { userId: ids.alice, credentialId: ids.laptop })
  })

  it('no token, assertion or key material in any stored event (every raw row searched)', async () => {
    const rows = await rawRows(svc)
    assert.equal(rows.length, events.length + 1, 'the events and the head row')
    const text = JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? String(v) : v))
    assert.ok(secrets.length >= 20)
    for (const s of secrets) assert.ok(!text.includes(s), `a secret (${s.slice(0, 12)}…) is in the audit table`)
    assert.doesNotMatch(text, /eyJ[\w-]+\.[\w-]+\./, 'no JWT')
  })

  it('GET /api/manage/audit is admin-only: 401 without a token, 403 for a non-admin', async () => {
    assert.equal((await call(svc.url, 'GET', '/api/manage/audit')).status, 401)
    const { tokens } = await signUp(svc.url, new SoftAuthenticator(), uniq())
    const r = await call(svc.url, 'GET', '/api/manage/audit', undefined, bearer(tokens.access_token))
    assert.equal(r.status, 403)
    assert.equal(r.body.code, 'forbidden')
  })

  it('pages: limit, a Link rel="next" cursor (the last id), since=<ISO time>; bad values → 400', async () => {
    const adm = bearer(bossToken)
    const all = await call(svc.url, 'GET', '/api/manage/audit?limit=1000', undefined, adm)
    const collected: any[] = []
    let next: string | undefined = '/api/manage/audit?limit=5'
    let pages = 0
    while (next) {
      const page: Res = await call(svc.url, 'GET', next, undefined, adm)
      assert.equal(page.status, 200)
      assert.ok(page.body.length <= 5)
      collected.push(...page.body)
      const link = page.headers.get('link')
      next = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined
      if (next) assert.equal(next, `/api/manage/audit?since=${page.body.at(-1).id}&limit=5`)
      pages++
    }
    assert.ok(pages >= 4)
    assert.deepEqual(collected.map((e) => e.id), all.body.map((e: any) => e.id))

    const eighth = all.body[7]
    const since = await call(svc.url, 'GET', `/api/manage/audit?since=${encodeURIComponent(eighth.time)}`, undefined, adm)
    assert.ok(since.body.length > 0 && since.body[0].seq <= 8)
    assert.ok(since.body.every((e: any) => Date.parse(e.time) >= Date.parse(eighth.time)))
    assert.ok(since.body.some((e: any) => e.seq === 8))
    const afterId = await call(svc.url, 'GET', `/api/manage/audit?since=${eighth.id}&limit=2`, undefined, adm)
    assert.deepEqual(afterId.body.map((e: any) => e.seq), [9, 10])
    for (const q of ['since=yesterday', 'since=2025-13-45', 'limit=0', 'limit=1001', 'limit=x'])
      assert.equal((await call(svc.url, 'GET', `/api/manage/audit?${q}`, undefined, adm)).status, 400, q)
  })

  it('the chain verifies: npm run audit:verify exits 0 with a one-line summary', async () => {
    const r = await runVerify(verifyEnv(svc))
    assert.equal(r.code, 0, r.out)
    const head = await svc.store.getAuditHead()
    assert.match(r.line, new RegExp(`^audit: OK, ${head!.seq} events verified \\(head ${head!.seq}:${head!.hash}\\); table ${svc.config.tablePrefix}audit on 127\\.0\\.0\\.1:`))
  })
})

describe('An audit failure never changes an answer (best effort, logged without secrets)', () => {
  it('appends fail: sign-in still 200, a refused ceremony still 400; one log line each', async () => {
    const svc = await startService({ connectionString: azurite.connectionString })
    const lines: string[] = []
    try {
      const auth = new SoftAuthenticator()
      await signUp(svc.url, auth, uniq())
      svc.core.audit.logError = (m) => lines.push(m)
      svc.store.appendAudit = async () => {
        throw new StorageUnavailableError(new Error('injected'))
      }
      const o = await post(svc.url, '/api/webauthn/authentication/options', {})
      const assertion = await auth.getAssertion(o.body, { origin: ORIGIN })
      const ok = await post(svc.url, '/api/webauthn/authentication/verify', { credential: assertion })
      assert.equal(ok.status, 200)
      assert.ok(ok.body.access_token)
      const again = await post(svc.url, '/api/webauthn/authentication/verify', { credential: assertion })
      assert.equal(again.status, 400)
      assert.equal(again.body.code, 'challenge_unknown')
      assert.deepEqual(lines, [
        'audit: could not record user.signed_in (storage_unavailable); the request was answered anyway',
        'audit: could not record ceremony.failed (storage_unavailable); the request was answered anyway',
      ])
    } finally {
      await svc.close()
    }
  })
})

describe('Two service instances append to one chain', () => {
  it('concurrent appends from both stay linear (1…N, no gap, no fork) and verify', async (t) => {
    const env = { TABLE_PREFIX: `sh${process.pid}`, KEY_ENCRYPTION_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64') }
    const a = await startService({ connectionString: azurite.connectionString, env })
    const b = await startService({ connectionString: azurite.connectionString, env })
    try {
      const N = 60
      const appended = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          (i % 2 ? a : b).core.audit.append({ type: 'role.put', actor: { system: `instance-${i % 2 ? 'a' : 'b'}` }, target: { role: `r${i}` } }),
        ),
      )
      // And some real traffic on both at once.
      const [sa, sb] = await Promise.all([signUp(a.url, new SoftAuthenticator(), uniq()), signUp(b.url, new SoftAuthenticator(), uniq())])
      assert.ok(sa.user.id && sb.user.id)
      // Lost races are real here: each one makes an instance read the head again.
      const headReads = [...a.trips, ...b.trips].filter((r) => r.method === 'GET' && r.url.includes("RowKey='head'")).length
      t.diagnostic(`head reads across both instances: ${headReads} (2 initial loads + 1 per lost race)`)
      assert.ok(headReads > 2, 'the two instances raced for the head')
      const seqs = appended.map((e) => e.seq).sort((x, y) => x - y)
      assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => i + 1).slice(0, N).map((_, i) => seqs[0]! + i))
      const stored = await a.store.listAudit(1, 1000)
      assert.deepEqual(stored.map((e) => e.seq), stored.map((_, i) => i + 1))
      assert.equal(stored.length, N + 2)
      for (let i = 1; i < stored.length; i++) assert.equal(stored[i]!.prev, stored[i - 1]!.hash)
      const r = await runVerify({ TABLES_CONNECTION_STRING: azurite.connectionString, ...env })
      assert.equal(r.code, 0, r.out)
      assert.match(r.line, new RegExp(`^audit: OK, ${N + 2} events verified`))
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})

describe('npm run audit:verify names the first bad event of a tampered chain', () => {
  /** A fresh chain of 5 events, and the verify settings for it. */
  async function chain() {
    const svc = await startService({ connectionString: azurite.connectionString })
    for (let i = 1; i <= 5; i++)
      await svc.core.audit.append({ type: 'user.role_granted', actor: { userId: 'admin' }, target: { userId: `u${i}`, role: 'reader' }, ip: '192.0.2.1' })
    await svc.close()
    assert.equal((await runVerify(verifyEnv(svc))).code, 0)
    return { svc, table: auditTable(svc), env: verifyEnv(svc) }
  }

  it('an edited field → exit 1, hash_mismatch at that event', async () => {
    const { table, env } = await chain()
    await table.updateEntity({ partitionKey: 'audit', rowKey: auditId(3), ip: '198.51.100.9' }, 'Merge')
    const r = await runVerify(env)
    assert.equal(r.code, 1, r.out)
    assert.match(r.line, /^audit: TAMPERED at event 0000000000000003 \(seq 3\): hash_mismatch: /)
  })

  it('a deleted middle event → exit 1, gap naming it', async () => {
    const { table, env } = await chain()
    await table.deleteEntity('audit', auditId(3))
    const r = await runVerify(env)
    assert.equal(r.code, 1, r.out)
    assert.match(r.line, /^audit: TAMPERED at event 0000000000000003 \(seq 3\): gap: event 3 is missing/)
  })

  it('the deleted last event → exit 1, truncated naming it (the head still records it)', async () => {
    const { table, env } = await chain()
    await table.deleteEntity('audit', auditId(5))
    const r = await runVerify(env)
    assert.equal(r.code, 1, r.out)
    assert.match(r.line, /^audit: TAMPERED at event 0000000000000005 \(seq 5\): truncated: /)
  })

  it('two events swapped → exit 1, broken_link at the first', async () => {
    const { table, env } = await chain()
    const content = ({ partitionKey, rowKey, etag, timestamp, ...rest }: Record<string, any>) => rest
    const e2 = content(await table.getEntity('audit', auditId(2)))
    const e3 = content(await table.getEntity('audit', auditId(3)))
    await table.updateEntity({ partitionKey: 'audit', rowKey: auditId(2), ...e3 }, 'Replace')
    await table.updateEntity({ partitionKey: 'audit', rowKey: auditId(3), ...e2 }, 'Replace')
    const r = await runVerify(env)
    assert.equal(r.code, 1, r.out)
    assert.match(r.line, /^audit: TAMPERED at event 0000000000000002 \(seq 2\): broken_link: /)
  })

  it('the wrong KEY_ENCRYPTION_KEY → exit 1 at event 1; an anchor catches a rollback; no storage → exit 2', async () => {
    const { svc, table, env } = await chain()
    const wrong = await runVerify({ ...env, KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') })
    assert.equal(wrong.code, 1, wrong.out)
    assert.match(wrong.line, /event 0000000000000001 \(seq 1\): hash_mismatch/)
    // Roll back events 4–5 together with the head: invisible without an anchor, caught with one.
    const head = (await svc.store.getAuditHead())!
    const e3 = await svc.store.getAuditEvent(3)
    await table.deleteEntity('audit', auditId(5))
    await table.deleteEntity('audit', auditId(4))
    await table.updateEntity({ partitionKey: 'audit', rowKey: 'head', seq: { value: '3', type: 'Int64' }, hash: e3!.hash, at: { value: String(e3!.at), type: 'Int64' } }, 'Replace')
    assert.equal((await runVerify(env)).code, 0)
    const anchored = await runVerify(env, ['--anchor', `${head.seq}:${head.hash}`])
    assert.equal(anchored.code, 1, anchored.out)
    assert.match(anchored.line, /anchor_mismatch/)
    const down = await runVerify({ ...env, TABLES_CONNECTION_STRING: env.TABLES_CONNECTION_STRING.replace(/:\d+\//, `:${await freePort()}/`) })
    assert.equal(down.code, 2, down.out)
    assert.match(down.line, /^audit: cannot verify: storage did not answer/)
  })
})
