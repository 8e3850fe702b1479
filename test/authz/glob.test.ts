/** Permission globs and path normalisation (CONTRACT "Authorizer": `*` one segment, `**` any depth). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compileGlob, normalisePath } from '../../shared/authz/glob.js'
import { LruTtl } from '../../shared/authz/lru.js'

const matches = (glob: string, path: string) => {
  const n = normalisePath(path)
  return n.ok && compileGlob(glob)(n.segments)
}

describe('compileGlob', () => {
  const table: [string, string, boolean][] = [
    ['/orders/*', '/orders/1', true],
    ['/orders/*', '/orders', false],
    ['/orders/*', '/orders/1/2', false],
    ['/orders/**', '/orders', true],
    ['/orders/**', '/orders/1/2/3', true],
    ['/orders/**', '/ordersX', false],
    ['/**', '/', true],
    ['/**', '/anything/at/all', true],
    ['/a/**/z', '/a/z', true],
    ['/a/**/z', '/a/b/c/z', true],
    ['/a/**/z', '/a/b/c', false],
    ['/*/items', '/x/items', true],
    ['/files/*.pdf', '/files/a.pdf', true],
    ['/files/*.pdf', '/files/a.pdfx', false],
    ['/v1.0/x', '/v1X0/x', false], // dots are literal, not regex wildcards
    ['/orders/*', '/Orders/1', false],
    ['/f/a*b*c', '/f/abc', true],
    ['/f/a*b*c', '/f/axxbyyc', true],
    ['/f/a*b*c', '/f/axxcyyb', false],
    ['/f/ab*ba', '/f/aba', false], // prefix and suffix may not overlap
    ['/f/*x*', '/f/x', true],
  ]
  for (const [glob, path, want] of table) it(`${glob} ${want ? 'matches' : 'does not match'} ${path}`, () => assert.equal(matches(glob, path), want))

  it('matching stays fast on adversarial globs and paths (no backtracking)', () => {
    const t0 = performance.now()
    assert.equal(matches('/files/*-*-*.pdf', '/files/' + '-'.repeat(2000)), false)
    assert.equal(matches('/**/a/**/a/**/b', '/' + Array(1000).fill('a').join('/')), false)
    assert.equal(matches('/**/a/**/a/**/b', '/' + Array(1000).fill('a').join('/') + '/b'), true)
    // A guard against catastrophic backtracking (the regex version took ~8 s here), not a benchmark.
    assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms`)
  })

  it('rejects malformed globs', () => {
    for (const g of ['orders', '/a/**b', '/a/../b', '', '/a\\b']) assert.throws(() => compileGlob(g), TypeError, g)
  })
})

describe('normalisePath', () => {
  it('drops query, fragment, empty segments and a trailing slash; decodes once', () => {
    const n = normalisePath('//a//b%20c/?q=1#f')
    assert.deepEqual(n, { ok: true, segments: ['a', 'b c'], path: '/a/b c' })
    assert.deepEqual(normalisePath('/a/%7e%20b'), { ok: true, segments: ['a', '~ b'], path: '/a/~ b' })
  })
  it('CONTRACT v2 ambiguous paths: refuses ;, %25 and encoded / \\ . before decoding, with a reason', () => {
    const cases: [string, RegExp][] = [
      ['/orders/..;/admin/x', /';'/],
      ['/orders/x;jsessionid=1', /';'/],
      ['/orders/..%3B/admin/x', /';'/],
      ['/orders/..%3b/admin/x', /';'/],
      ['/orders/%252e%252e/admin/x', /%25/],
      ['/orders/%25', /%25/],
      ['/orders/a%2Fb', /encoded '\/'/],
      ['/orders/a%2fb', /encoded '\/'/],
      ['/orders/a%5Cb', /encoded '\/' or '\\'/],
      ['/orders/%2E%2E/admin', /encoded '\.'/],
      ['/orders/.%2e/admin', /encoded '\.'/],
      ['/orders/report%2epdf', /encoded '\.'/],
    ]
    for (const [p, reason] of cases) {
      const n = normalisePath(p)
      assert.equal(n.ok, false, p)
      assert.match((n as { reason: string }).reason, reason, p)
    }
    // A ';' or '%25' in the query is not part of the path.
    assert.equal(normalisePath('/orders/1?a=b;c&d=%25').ok, true)
  })
  it('refuses dot segments, encoded slashes, backslashes, control characters, bad escapes', () => {
    for (const p of ['/a/..', '/a/./b', '/a/%2E%2E', '/a%2fb', '/a%5cb', '/a%00', '/a/%e0%a4%a', 'relative'])
      assert.equal(normalisePath(p).ok, false, p)
  })
})

describe('LruTtl', () => {
  it('keeps at most max entries, evicting the least recently used', () => {
    const c = new LruTtl<number>(2)
    c.set('a', 1, 100)
    c.set('b', 2, 100)
    c.get('a', 0)
    c.set('c', 3, 100)
    assert.equal(c.size, 2)
    assert.equal(c.get('b', 0), undefined)
    assert.equal(c.get('a', 0), 1)
  })
  it('without touch, evicts in insertion order (FIFO) whatever was read', () => {
    const c = new LruTtl<number>(2, false)
    c.set('a', 1, 100)
    c.set('b', 2, 100)
    c.get('a', 0)
    c.set('c', 3, 100)
    assert.equal(c.get('a', 0), undefined)
    assert.equal(c.get('b', 0), 2)
  })
  it('expires entries at their time', () => {
    const c = new LruTtl<number>(5)
    c.set('a', 1, 10)
    assert.equal(c.get('a', 9), 1)
    assert.equal(c.get('a', 10), undefined)
    assert.equal(c.size, 0)
  })
  it('deletes by prefix', () => {
    const c = new LruTtl<number>(5)
    c.set('u1/s1', 1, 100)
    c.set('u1/s2', 1, 100)
    c.set('u2/s1', 1, 100)
    c.deletePrefix('u1/')
    assert.equal(c.size, 1)
  })
})
