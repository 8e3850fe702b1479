/**
 * CONTRACT "Authenticator trust (FIDO Metadata Service)", over HTTP against Azurite: a BLOB signed
 * by this file's own MDS root (METADATA_ROOT), read from a file (METADATA_BLOB); models whose
 * latest status refuses them are refused at registration and their passkeys at sign-in
 * (`authenticator_not_allowed`); AUTHENTICATOR_POLICY `certified` and an AAGUID list; attestation
 * checked against the model's attestationRootCertificates (acr `phrh` without ATTESTATION_ROOTS);
 * credential views gain `authenticator`; a BLOB that does not verify leaves the last good one.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { policyNote } from '../../shared/routes/manageAuthenticators.js'
import { SoftAuthenticator, type SoftAttestation } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, decodeJwt, post, signIn, signUp } from '../helpers/client.js'
import { createTestMds, mdsEntry, mdsPayload, type TestMds } from '../helpers/mds.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'

const CERTIFIED = 'c0ffee00-0000-4000-8000-000000000001'
const REVOKED = 'c0ffee00-0000-4000-8000-000000000002'
const UNCERTIFIED = 'c0ffee00-0000-4000-8000-000000000003'
const OTHER_ROOTS = 'c0ffee00-0000-4000-8000-000000000004'
const LATER_REVOKED = 'c0ffee00-0000-4000-8000-000000000005'
const UNKNOWN = 'c0ffee00-0000-4000-8000-0000000000ff'

let azurite: Azurite
let mds: TestMds
let dir: string
let blobFile: string
let n = 0
const uniq = () => `mds${process.pid}n${++n}`
const services: TestService[] = []

async function entries(laterRevoked: string[] = ['FIDO_CERTIFIED_L1']) {
  const foreign = await createTestMds()
  const foreignRoot = foreign.rootPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '')
  return [
    await mdsEntry({ aaguid: CERTIFIED, name: 'Test Key Certified' }),
    await mdsEntry({ aaguid: REVOKED, name: 'Test Key Revoked', statuses: ['FIDO_CERTIFIED_L1', 'REVOKED'] }),
    await mdsEntry({ aaguid: UNCERTIFIED, name: 'Test Key Uncertified', statuses: ['NOT_FIDO_CERTIFIED'] }),
    await mdsEntry({ aaguid: OTHER_ROOTS, name: 'Test Key Other Roots', roots: [foreignRoot] }),
    await mdsEntry({ aaguid: LATER_REVOKED, name: 'Test Key Later', statuses: laterRevoked }),
  ]
}

async function service(env: Record<string, string> = {}): Promise<TestService> {
  const svc = await startService({
    connectionString: azurite.connectionString,
    env: { ATTESTATION: 'direct', METADATA_BLOB: blobFile, METADATA_ROOT: mds.rootPem, ...env },
  })
  services.push(svc)
  return svc
}

/** Registration options + verify; the raw verify answer (201 or a problem). */
async function register(svc: TestService, auth: SoftAuthenticator, username = uniq()) {
  const o = await post(svc.url, '/api/webauthn/registration/options', { username })
  assert.equal(o.status, 200, JSON.stringify(o.body))
  const credential = await auth.createCredential(o.body, { origin: ORIGIN })
  return { username, ...(await post(svc.url, '/api/webauthn/registration/verify', { credential })) }
}

const key = (aaguid: string, attestation: SoftAttestation = 'packed-full') => new SoftAuthenticator({ aaguid, attestation })

before(async () => {
  azurite = await startAzurite()
  mds = await createTestMds()
  dir = mkdtempSync(join(tmpdir(), 'mds-'))
  blobFile = join(dir, 'blob.jwt')
  writeFileSync(blobFile, await mds.sign(mdsPayload(await entries(), { no: 1 })))
})
after(async () => {
  for (const s of services) await s.close()
  await azurite?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('Authenticator trust, AUTHENTICATOR_POLICY any', () => {
  let svc: TestService
  before(async () => {
    svc = await service()
  })

  it('a certified model with an attestation chaining to its metadata roots registers: authenticator {name, certified}, acr phrh (no ATTESTATION_ROOTS)', async () => {
    const auth = key(CERTIFIED)
    const r = await register(svc, auth)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.deepEqual(r.body.credential.authenticator, { name: 'Test Key Certified', certified: true, status: 'FIDO_CERTIFIED_L1', icon: `/api/authenticators/${CERTIFIED}/icon` })
    assert.equal(r.body.credential.label, 'Test Key Certified')
    assert.equal(decodeJwt(r.body.tokens.access_token).payload.acr, 'phrh')
    const me = await call(svc.url, 'GET', '/api/me/credentials', undefined, bearer(r.body.tokens.access_token))
    assert.equal(me.status, 200)
    assert.deepEqual(me.body[0].authenticator, { name: 'Test Key Certified', certified: true, status: 'FIDO_CERTIFIED_L1', icon: `/api/authenticators/${CERTIFIED}/icon` })
    const s = await signIn(svc.url, auth)
    assert.equal(s.status, 200, JSON.stringify(s.body))
    assert.equal(decodeJwt(s.body.access_token).payload.acr, 'phrh')
  })

  it('the same model without a verified attestation (none) is named but not shown certified: its AAGUID is only a claim', async () => {
    const r = await register(svc, key(CERTIFIED, 'none'))
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.deepEqual(r.body.credential.authenticator, { name: 'Test Key Certified', certified: false, status: 'FIDO_CERTIFIED_L1', icon: `/api/authenticators/${CERTIFIED}/icon` })
  })

  it('a model whose latest status is REVOKED → 400 authenticator_not_allowed at registration, attested or not, and nothing is written', async () => {
    for (const attestation of ['packed-full', 'none'] as const) {
      const r = await register(svc, key(REVOKED, attestation))
      assert.equal(r.status, 400, attestation)
      assert.equal(r.body.code, 'authenticator_not_allowed')
      assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/)
      // No half-written account: the username is still free.
      const again = await post(svc.url, '/api/webauthn/registration/options', { username: r.username })
      assert.equal(again.status, 200, JSON.stringify(again.body))
    }
  })

  it('a model in the metadata whose attestation does not chain to its roots → 400 signature_invalid', async () => {
    const r = await register(svc, key(OTHER_ROOTS))
    assert.equal(r.status, 400)
    assert.equal(r.body.code, 'signature_invalid')
  })

  it('models the metadata does not know, or with attestation none, still register under policy any (no authenticator, acr phr)', async () => {
    const unknown = await register(svc, key(UNKNOWN))
    assert.equal(unknown.status, 201, JSON.stringify(unknown.body))
    assert.equal(unknown.body.credential.authenticator, undefined)
    assert.equal(decodeJwt(unknown.body.tokens.access_token).payload.acr, 'phr')
    const none = await register(svc, key(UNCERTIFIED, 'none'))
    assert.equal(none.status, 201, JSON.stringify(none.body))
    assert.deepEqual(none.body.credential.authenticator, { name: 'Test Key Uncertified', certified: false, status: 'NOT_FIDO_CERTIFIED', icon: `/api/authenticators/${UNCERTIFIED}/icon` })
  })

  it('a model revoked after registration: its passkey is refused at sign-in with authenticator_not_allowed; a BLOB that does not verify changes nothing', async () => {
    const auth = key(LATER_REVOKED)
    assert.equal((await register(svc, auth)).status, 201)
    assert.equal((await signIn(svc.url, auth)).status, 200)

    // A forged BLOB (another root) saying the model is fine is ignored, with a log line.
    const forger = await createTestMds()
    writeFileSync(blobFile, await forger.sign(mdsPayload(await entries(['FIDO_CERTIFIED_L1', 'REVOKED']), { no: 2 })))
    assert.equal(await svc.core.metadata.refresh(), false)
    assert.ok(svc.logs.some((l) => /METADATA_BLOB ignored: .*chain.*BLOB no 1 stays in use/.test(l)), svc.logs.join('\n'))
    assert.equal((await signIn(svc.url, auth)).status, 200)

    // The real MDS revokes it (BLOB no 2): refused from the next sign-in.
    writeFileSync(blobFile, await mds.sign(mdsPayload(await entries(['FIDO_CERTIFIED_L1', 'USER_KEY_PHYSICAL_COMPROMISE']), { no: 2 })))
    assert.equal(await svc.core.metadata.refresh(), true)
    const s = await signIn(svc.url, auth)
    assert.equal(s.status, 400)
    assert.equal(s.body.code, 'authenticator_not_allowed')

    // A tampered copy of a later BLOB is ignored too: the model stays refused.
    const good = await mds.sign(mdsPayload(await entries(), { no: 3 }))
    const [h, p, sig] = good.split('.')
    writeFileSync(blobFile, `${h}.${p}x.${sig}`)
    assert.equal(await svc.core.metadata.refresh(), false)
    assert.equal((await signIn(svc.url, auth)).body.code, 'authenticator_not_allowed')
  })
})

describe('AUTHENTICATOR_POLICY certified', () => {
  let svc: TestService
  before(async () => {
    // Its own BLOB file: the test above rewrites the shared one.
    const file = join(dir, 'certified.jwt')
    writeFileSync(file, await mds.sign(mdsPayload(await entries(), { no: 1 })))
    svc = await service({ AUTHENTICATOR_POLICY: 'certified', METADATA_BLOB: file })
  })

  it('a certified model proven by its attestation registers and signs in', async () => {
    const auth = key(CERTIFIED)
    const r = await register(svc, auth)
    assert.equal(r.status, 201, JSON.stringify(r.body))
    assert.equal((await signIn(svc.url, auth)).status, 200)
  })

  it('an uncertified model, an unknown one, or a certified AAGUID with no attestation (a claim) → 400 authenticator_not_allowed', async () => {
    for (const auth of [key(UNCERTIFIED), key(UNKNOWN), key(CERTIFIED, 'none'), key(CERTIFIED, 'packed-self')]) {
      const r = await register(svc, auth)
      assert.equal(r.status, 400, `${auth.aaguid} ${auth.attestation}`)
      assert.equal(r.body.code, 'authenticator_not_allowed')
    }
  })
})

describe('AUTHENTICATOR_POLICY: a list of AAGUIDs', () => {
  let open: TestService
  let listed: TestService
  before(async () => {
    const file = join(dir, 'list.jwt')
    writeFileSync(file, await mds.sign(mdsPayload(await entries(), { no: 1 })))
    // Two services on the same tables: passkeys registered under `open` meet the list at sign-in.
    const shared = { METADATA_BLOB: file, TABLE_PREFIX: `l${process.pid}${randomBytes(3).toString('hex')}`, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }
    open = await service(shared)
    listed = await service({ ...shared, AUTHENTICATOR_POLICY: `${UNCERTIFIED.toUpperCase()},${UNKNOWN}` })
  })

  it('a listed model proven by its attestation registers (certified or not); unlisted or unproven → 400 authenticator_not_allowed', async () => {
    assert.equal((await register(listed, key(UNCERTIFIED))).status, 201)
    for (const auth of [key(CERTIFIED), key(UNCERTIFIED, 'none')]) {
      const r = await register(listed, auth)
      assert.equal(r.status, 400, `${auth.aaguid} ${auth.attestation}`)
      assert.equal(r.body.code, 'authenticator_not_allowed')
    }
  })

  it('existing passkeys of a model the list leaves out are refused at sign-in', async () => {
    const outside = key(CERTIFIED)
    const inside = key(UNCERTIFIED)
    assert.equal((await register(open, outside)).status, 201)
    assert.equal((await register(open, inside)).status, 201)
    const s = await signIn(listed.url, outside)
    assert.equal(s.status, 400)
    assert.equal(s.body.code, 'authenticator_not_allowed')
    assert.equal((await signIn(listed.url, inside)).status, 200)
  })
})

describe('Model icons (GET /api/authenticators/{id}/icon) and the administration view', () => {
  const SVG = 'c0ffee00-0000-4000-8000-0000000000c1'
  const HTML = 'c0ffee00-0000-4000-8000-0000000000c2'
  let svc: TestService
  let admin: string
  before(async () => {
    const file = join(dir, 'icons.jwt')
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><script>alert(1)</script></svg>`
    writeFileSync(
      file,
      await mds.sign(
        mdsPayload([
          ...(await entries()),
          await mdsEntry({ aaguid: SVG, name: 'Test Key SVG', icon: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` }),
          await mdsEntry({ aaguid: HTML, name: 'Test Key HTML', icon: `data:text/html;base64,${Buffer.from('<b>x</b>').toString('base64')}` }),
        ]),
      ),
    )
    svc = await service({ METADATA_BLOB: file, BOOTSTRAP_ADMINS: 'chief' })
    admin = (await signUp(svc.url, key(UNKNOWN), 'chief')).tokens.access_token
  })

  it('serves a model icon from our origin: its bytes decoded from the data: URL, exact type, nosniff, cached', async () => {
    const res = await fetch(`${svc.url}/api/authenticators/${CERTIFIED.toUpperCase()}/icon`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'image/png')
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/)
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from('iVBORw0KGgo=', 'base64'))
  })

  it('an SVG icon is served as image/svg+xml with a CSP that runs no script (sandbox)', async () => {
    const res = await fetch(`${svc.url}/api/authenticators/${SVG}/icon`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'image/svg+xml')
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'.*sandbox/)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
  })

  it('a non-image data: URL, an unknown model, or a malformed id → 404 problem+json, never the content', async () => {
    for (const id of [HTML, UNKNOWN, 'not-an-aaguid', '..%2F..%2Fhealth']) {
      const res = await call(svc.url, 'GET', `/api/authenticators/${id}/icon`)
      assert.equal(res.status, 404, id)
      assert.equal(res.body.code, 'not_found', id)
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/)
    }
  })

  it('GET /api/manage/authenticators shows the policy, the BLOB in use and the note that an AAGUID alone is a claim; admins only', async () => {
    const res = await call(svc.url, 'GET', '/api/manage/authenticators', undefined, bearer(admin))
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.policy, 'any')
    assert.equal(res.body.attestation, 'direct')
    assert.match(res.body.note, /only what the client claims/)
    assert.match(res.body.note, /revoked or compromised are refused/)
    // Without METADATA_BLOB nothing is refused by model, and the note does not claim it.
    assert.doesNotMatch(policyNote({ kind: 'any' }, 'none', false), /revoked|compromised/)
    assert.match(policyNote({ kind: 'any' }, 'none', false), /METADATA_BLOB is not set/)
    assert.deepEqual(res.body.metadata, { configured: true, source: 'file', no: 1, nextUpdate: '2099-01-01', stale: false, models: 7, refusedModels: 1 })
    const user = await signUp(svc.url, key(UNKNOWN), uniq())
    assert.equal((await call(svc.url, 'GET', '/api/manage/authenticators', undefined, bearer(user.tokens.access_token))).status, 403)
    assert.equal((await call(svc.url, 'GET', '/api/manage/authenticators')).status, 401)
  })

  it('the admin user lookup flags a passkey of a model revoked since: authenticator.refused and its status', async () => {
    const file = join(dir, 'icons-later.jwt')
    writeFileSync(file, await mds.sign(mdsPayload(await entries(['FIDO_CERTIFIED_L1']), { no: 1 })))
    const shared = { METADATA_BLOB: file, BOOTSTRAP_ADMINS: 'boss2', TABLE_PREFIX: `i${process.pid}${randomBytes(3).toString('hex')}`, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }
    const a = await service(shared)
    const boss = (await signUp(a.url, key(UNKNOWN), 'boss2')).tokens.access_token
    const username = uniq()
    await signUp(a.url, key(LATER_REVOKED), username)
    const lookup = async () => (await call(a.url, 'GET', `/api/manage/users?username=${username}`, undefined, bearer(boss))).body[0].credentials[0].authenticator
    assert.equal((await lookup()).refused, undefined)
    writeFileSync(file, await mds.sign(mdsPayload(await entries(['FIDO_CERTIFIED_L1', 'REVOKED']), { no: 2 })))
    assert.equal(await a.core.metadata.refresh(), true)
    const flagged = await lookup()
    assert.equal(flagged.refused, true)
    assert.equal(flagged.status, 'REVOKED')
    assert.equal(flagged.name, 'Test Key Later')
  })
})
