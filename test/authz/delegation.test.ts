/**
 * Approval per action (CONTRACT v2, RFC 9396 api_request), decideDelegated on a stub challenge
 * store that counts its writes: each approved entry is used once everywhere (storage's conditional
 * insert), and a spent entry replayed on the same instance is refused from memory, without a
 * storage write per call (the per-instance `spent` cache).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compilePermission } from '../../shared/authz/decide.js'
import { decideDelegated, type DelegatedRequest } from '../../shared/authz/delegation.js'
import { normalisePath } from '../../shared/authz/glob.js'
import { LruTtl } from '../../shared/authz/lru.js'
import { ConcurrencyError } from '../../shared/store/types.js'
import type { AccessTokenClaims } from '../../shared/tokens/accessToken.js'

/** Table Storage's insert-if-absent: the second insert of a marker is refused (409). */
function markers() {
  const kept = new Set<string>()
  let writes = 0
  return {
    store: {
      async putChallenge(id: string) {
        writes++
        if (kept.has(id)) throw new ConcurrencyError(`challenge ${id}`)
        kept.add(id)
      },
    },
    writes: () => writes,
  }
}

const now = Date.now()
const claims = {
  sub: 'person', jti: 'jti-1', exp: Math.floor(now / 1000) + 600, iat: Math.floor(now / 1000), auth_time: Math.floor(now / 1000),
  act: { sub: 'agent' },
  authorization_details: [{ type: 'api_request', method: 'POST', path: '/orders' }, { type: 'api_request', method: 'POST', path: '/orders' }],
} as unknown as AccessTokenClaims
const path = normalisePath('/orders')
assert.ok(path.ok)
const request = (spent?: LruTtl<true>): DelegatedRequest => ({
  claims, actor: 'agent', personRoles: ['writer'], agentRoles: ['writer'],
  defs: new Map([['writer', [compilePermission({ methods: ['POST'], path: '/orders', delegation: 'approve' })]]]),
  method: 'POST', path, scopes: [], ttl: 60, now, ...(spent ? { spent } : {}),
})

describe('Approval per action: each approved entry once; a spent one costs no storage write here', () => {
  it('two equal approved entries allow two calls, the third is refused (403, ttl 0)', async () => {
    const m = markers()
    const spent = new LruTtl<true>(100, false)
    const answers = []
    for (let i = 0; i < 3; i++) answers.push(await decideDelegated(m.store, request(spent)))
    assert.deepEqual(answers.map((a) => [a.allow, a.status, a.ttl]), [[true, 200, 0], [true, 200, 0], [false, 403, 0]])
    assert.equal(answers[2]!.reason, 'the approved action was used already')
    assert.equal(m.writes(), 2, 'the third call knew both markers were used: no write')
    for (let i = 0; i < 5; i++) assert.equal((await decideDelegated(m.store, request(spent))).allow, false)
    assert.equal(m.writes(), 2, 'replays of a spent token are answered from memory')
  })

  it('another instance (its own cache) still meets storage: its inserts are refused, and it too remembers', async () => {
    const m = markers()
    await decideDelegated(m.store, request(new LruTtl<true>(100, false)))
    await decideDelegated(m.store, request(new LruTtl<true>(100, false)))
    const other = new LruTtl<true>(100, false)
    const first = await decideDelegated(m.store, request(other))
    assert.deepEqual([first.allow, first.status], [false, 403], 'both entries were used on other instances')
    const writes = m.writes()
    await decideDelegated(m.store, request(other))
    assert.equal(m.writes(), writes, 'learnt from the refusals')
  })
})
