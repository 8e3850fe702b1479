/**
 * Revocation on this instance applies at once (docs/authz.md): a decision whose storage reads
 * were in flight when the revocation landed must not put the old state into the caches.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { createApp } from '../../shared/app.js'
import { loadConfig } from '../../shared/config.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'

describe('Authorizer: a revocation racing an in-flight decision', () => {
  it('the next decision sees the revocation (the stale read is not cached)', async () => {
    const config = loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), BOOTSTRAP_ADMINS: 'boss' }, { local: true })
    const store = createMemoryStore()
    const app = createApp({ config, store, logError: () => {} })
    const env = { remoteAddr: '127.0.0.1' }
    const json = async (path: string, body: unknown, headers: Record<string, string> = {}) =>
      (await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }, env)).json() as Promise<any>
    const o = await json('/api/webauthn/registration/options', { username: 'boss' })
    const up = await json('/api/webauthn/registration/verify', { credential: await new SoftAuthenticator().createCredential(o, { origin: 'http://localhost:7071' }) })
    await app.request('/api/manage/roles/reader', { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${up.tokens.access_token}` }, body: JSON.stringify({ permissions: [{ methods: ['GET'], path: '/**' }] }) }, env)
    await app.request(`/api/manage/users/${up.user.id}/roles/reader`, { method: 'PUT', headers: { authorization: `Bearer ${up.tokens.access_token}` } }, env)
    app.core.authz.forgetUser(up.user.id)

    // The session read returns what it read, then lingers: the revocation lands meanwhile.
    let release!: () => void
    const lingering = new Promise<void>((r) => (release = r))
    const getSession = store.getSession.bind(store)
    let first = true
    store.getSession = async (u, s) => {
      const v = await getSession(u, s)
      if (first) {
        first = false
        await lingering
      }
      return v
    }
    const check = () => json('/api/authz/check', { method: 'GET', path: '/x' }, { authorization: `Bearer ${up.tokens.access_token}` })
    const inFlight = check()
    await new Promise((r) => setTimeout(r, 20))
    const session = (await store.listSessions(up.user.id))[0]!
    await app.core.sessions.revoke(session, 'test')
    release()
    await inFlight // may still say allow: it raced the revocation
    const after = await check()
    assert.deepEqual([after.allow, after.status], [false, 401])
  })
})
