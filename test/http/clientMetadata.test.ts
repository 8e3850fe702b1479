/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document; CONTRACT v2 "AI
 * clients and MCP servers behind the gateway") against local test servers and a real Azurite:
 * the Node fetcher's limits (runtime/node/clientMetadata.ts: 5 s, 5 KiB, no redirects, resolved
 * and pinned addresses, no private / loopback / link-local targets outside local development),
 * the document's checks and cache (shared/oauth/clientMetadata.ts), and the whole code flow with
 * a URL client_id through the hosted page, which names the client, its host and that it is not
 * registered by an administrator.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createClientMetadataFetcher, FETCH_TIMEOUT_MS, isPublicAddress, MAX_DOCUMENT_BYTES, PRIVATE_OR_UNRESOLVED } from '../../runtime/node/clientMetadata.js'
import { ClientMetadataDocuments, ClientMetadataError, clientIdUrlRefusal, MAX_CLIENT_ID_URL } from '../../shared/oauth/clientMetadata.js'
import { ManualClock } from '../../shared/util/clock.js'
import { createApp } from '../../shared/app.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { call, decodeJwt, form, signIn, signUp } from '../helpers/client.js'
import { startService, type TestService } from '../helpers/service.js'
import { hostedSignIn, openAuthorize } from '../oauth/helpers.js'

let azurite: Azurite
let svc: TestService
let docs: Server
let base: string
let hits: Record<string, number> = {}
const alice = new SoftAuthenticator()
const REDIRECT = 'http://127.0.0.1:9/callback'

/** What the test server answers at each path (the document's URL is `${base}${path}`). */
const routes: Record<string, (url: string, res: ServerResponse) => void> = {
  '/good/client.json': (url, res) => json(res, { client_id: url, client_name: 'Orders <Assistant>', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }, 'max-age=60'),
  '/mismatch/client.json': (_url, res) => json(res, { client_id: `${base}/other/client.json`, client_name: 'Impostor', redirect_uris: [REDIRECT] }),
  '/big/client.json': (url, res) => json(res, { client_id: url, client_name: 'x'.repeat(10), redirect_uris: [REDIRECT], padding: 'p'.repeat(MAX_DOCUMENT_BYTES) }),
  '/streamed/client.json': (_url, res) => {
    // No Content-Length: the reader must stop by itself past the limit.
    res.writeHead(200, { 'content-type': 'application/json' })
    for (let i = 0; i < 8; i++) res.write('x'.repeat(1024))
    res.end()
  },
  '/redirect/client.json': (_url, res) => {
    res.writeHead(302, { location: `${base}/good/client.json` })
    res.end()
  },
  '/secret/client.json': (url, res) => json(res, { client_id: url, redirect_uris: [REDIRECT], client_secret: 'shh' }),
  '/basic/client.json': (url, res) => json(res, { client_id: url, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' }),
  '/text/client.json': (url, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(JSON.stringify({ client_id: url, redirect_uris: [REDIRECT] }))
  },
  '/slow/client.json': (url, res) => {
    setTimeout(() => json(res, { client_id: url, redirect_uris: [REDIRECT] }), 1_500).unref()
  },
}

function json(res: ServerResponse, body: unknown, cacheControl?: string) {
  res.writeHead(200, { 'content-type': 'application/json', ...(cacheControl ? { 'cache-control': cacheControl } : {}) })
  res.end(JSON.stringify(body))
}

before(async () => {
  docs = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url!, 'http://x').pathname
    hits[path] = (hits[path] ?? 0) + 1
    const route = routes[path]
    if (!route) {
      res.writeHead(404)
      return res.end()
    }
    route(`${base}${path}`, res)
  })
  await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r))
  base = `http://localhost:${(docs.address() as AddressInfo).port}`
  azurite = await startAzurite()
  svc = await startService({ connectionString: azurite.connectionString, port: await freePort() })
  await signUp(svc.url, alice, 'alice')
})
after(async () => {
  docs?.closeAllConnections()
  await new Promise((r) => docs?.close(r))
  await svc?.close()
  await azurite?.stop()
})

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}
const authorizeUrl = (clientId: string, challenge: string, extra: Record<string, string> = {}) =>
  `${svc.url}/api/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', state: 'st', ...extra })}`

describe('client ID metadata documents: the hosted code flow with a URL client_id', () => {
  it('discovery says client_id_metadata_document_supported: true', async () => {
    const d = await call(svc.url, 'GET', '/api/.well-known/oauth-authorization-server')
    assert.equal(d.body.client_id_metadata_document_supported, true)
  })

  it('a good document: the page names the client (escaped), its host and "not registered by your administrator"; code → token with client_id = the URL; refresh', async () => {
    const clientId = `${base}/good/client.json`
    const { verifier, challenge } = pkce()
    const page = await openAuthorize(authorizeUrl(clientId, challenge))
    assert.equal(page.status, 200, page.html.slice(0, 400))
    assert.ok(page.html.includes('Orders &lt;Assistant&gt;'), 'client_name shown, escaped')
    assert.ok(page.html.includes(`(${new URL(base).host})`), 'the document host')
    assert.match(page.html, /not registered by your administrator/)
    const back = await hostedSignIn(svc.url, authorizeUrl(clientId, challenge), alice)
    const t = await form(svc.url, '/api/oauth2/token', { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier })
    assert.equal(t.status, 200, JSON.stringify(t.body))
    assert.equal(decodeJwt(t.body.access_token).payload.client_id, clientId)
    const r = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: clientId })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    // Cached per max-age: one fetch served the page, the sign-in and both token calls.
    assert.equal(hits['/good/client.json'], 1)
  })

  it('the approval is remembered under the URL client_id and withdrawn by it (percent-encoded)', async () => {
    const access = (await signIn(svc.url, alice)).body.access_token as string
    const clientId = `${base}/good/client.json`
    const list = await call(svc.url, 'GET', '/api/me/consents', undefined, { authorization: `Bearer ${access}` })
    const mine = (list.body as any[]).find((c) => c.clientId === clientId)
    assert.ok(mine, JSON.stringify(list.body))
    assert.equal(mine.registered, false)
    assert.equal(mine.clientName, 'Orders <Assistant>')
    const r = await call(svc.url, 'DELETE', `/api/me/consents/${encodeURIComponent(clientId)}`, undefined, { authorization: `Bearer ${access}` })
    assert.equal(r.status, 204, JSON.stringify(r.body))
    assert.equal((await call(svc.url, 'GET', '/api/me/consents', undefined, { authorization: `Bearer ${access}` })).body.length, 0)
  })

  it('discovery says nothing of client ID metadata documents when the runtime gives no fetcher', async () => {
    const without = createApp({ config: svc.config, store: svc.store, logError: () => {} })
    const d = await without.request('/api/.well-known/oauth-authorization-server')
    assert.equal(d.status, 200)
    assert.equal(((await d.json()) as Record<string, unknown>).client_id_metadata_document_supported, undefined, 'no fetcher: not advertised')
    const withOne = createApp({ config: svc.config, store: svc.store, logError: () => {}, clientMetadataFetcher: createClientMetadataFetcher })
    const e = await withOne.request('/api/.well-known/oauth-authorization-server')
    assert.equal(((await e.json()) as Record<string, unknown>).client_id_metadata_document_supported, true)
  })

  it('PKCE stays required, redirect_uri must be exactly one of the document\'s', async () => {
    const clientId = `${base}/good/client.json`
    const noPkce = await openAuthorize(`${svc.url}/api/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT })}`)
    assert.equal(noPkce.status, 302)
    assert.equal(new URL(noPkce.headers.get('location')!).searchParams.get('error'), 'invalid_request')
    const other = await openAuthorize(authorizeUrl(clientId, pkce().challenge).replace(encodeURIComponent(REDIRECT), encodeURIComponent('http://127.0.0.1:9/other')))
    assert.equal(other.status, 400)
  })

  for (const [path, why] of [
    ['/mismatch/client.json', /client_id is not its URL/],
    ['/big/client.json', /over 5120 bytes/],
    ['/streamed/client.json', /over 5120 bytes/],
    ['/redirect/client.json', /redirects/],
    ['/secret/client.json', /client_secret/],
    ['/basic/client.json', /not valid/],
    ['/text/client.json', /not JSON/],
    ['/missing/client.json', /answered 404/],
  ] as const)
    it(`${path}: refused on our own page (invalid_client, never redirected): ${why}`, async () => {
      const page = await openAuthorize(authorizeUrl(`${base}${path}`, pkce().challenge))
      assert.equal(page.status, 400)
      assert.match(page.html, /invalid_client/)
      assert.match(page.html, why)
      // And at the token endpoint.
      const t = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'a.b.c', client_id: `${base}${path}` })
      assert.equal(t.status, 401)
      assert.equal(t.body.error, 'invalid_client')
    })

  it('a redirect is not followed: the target is never fetched through it', async () => {
    // Its own paths (never asked before, so neither cache answers): the redirect and its target.
    routes['/redirect-fresh/client.json'] = (_url, res) => {
      res.writeHead(302, { location: `${base}/redirect-target/client.json` })
      res.end()
    }
    routes['/redirect-target/client.json'] = (url, res) => json(res, { client_id: url, redirect_uris: [REDIRECT] })
    const page = await openAuthorize(authorizeUrl(`${base}/redirect-fresh/client.json`, pkce().challenge))
    assert.equal(page.status, 400)
    assert.match(page.html, /redirects/)
    assert.equal(hits['/redirect-fresh/client.json'], 1, 'the redirect itself was fetched')
    assert.equal(hits['/redirect-target/client.json'] ?? 0, 0, 'its target never')
  })
})

describe('the client_id URL (draft §3)', () => {
  const local = { local: true, rpId: 'localhost' }
  const azure = { local: false, rpId: 'id.contoso.com' }
  it('https with a path; http only for localhost in local development; no fragment, query, user info, dot segments', () => {
    assert.equal(clientIdUrlRefusal(azure, 'https://app.example/client.json'), undefined)
    assert.equal(clientIdUrlRefusal(local, 'http://localhost:3000/client.json'), undefined)
    assert.match(clientIdUrlRefusal(azure, 'http://localhost:3000/client.json')!, /https/)
    assert.match(clientIdUrlRefusal(local, 'http://127.0.0.1:3000/client.json')!, /https/)
    assert.match(clientIdUrlRefusal(azure, 'https://app.example')!, /path/)
    assert.match(clientIdUrlRefusal(azure, 'https://app.example/c.json#x')!, /fragment/)
    assert.match(clientIdUrlRefusal(azure, 'https://app.example/c.json?x=1')!, /query/)
    assert.match(clientIdUrlRefusal(azure, 'https://u:p@app.example/c.json')!, /user information/)
    assert.match(clientIdUrlRefusal(azure, 'https://app.example/a/../c.json')!, /dot segments|normal form/)
    assert.match(clientIdUrlRefusal(azure, 'https://APP.example/c.json')!, /normal form/)
  })

  it('at most 255 characters (MAX_CLIENT_ID_URL): longer is refused before any fetch, on our own page', async () => {
    assert.equal(MAX_CLIENT_ID_URL, 255)
    const at = (n: number) => `https://app.example/${'a'.repeat(n - 'https://app.example/'.length - '.json'.length)}.json`
    assert.equal(at(255).length, 255)
    assert.equal(clientIdUrlRefusal(azure, at(255)), undefined)
    assert.match(clientIdUrlRefusal(azure, at(256))!, /over 255 characters/)
    const long = `${base}/${'a/'.repeat(900)}client.json`
    const page = await openAuthorize(authorizeUrl(long, pkce().challenge))
    assert.equal(page.status, 400)
    assert.match(page.html, /invalid_client/)
    assert.match(page.html, /over 255 characters/)
    assert.equal(Object.keys(hits).some((p) => p.startsWith('/a/')), false, 'never fetched')
  })
})

describe('runtime/node/clientMetadata.ts: the transport limits', () => {
  it('5 s and 5 KiB by default', () => {
    assert.equal(FETCH_TIMEOUT_MS, 5_000)
    assert.equal(MAX_DOCUMENT_BYTES, 5 * 1024)
  })

  it('slow: past the timeout → refused (an injected 300 ms stands in for 5 s)', async () => {
    const fetch = createClientMetadataFetcher({ allowPrivateAddresses: true, timeoutMs: 300 })
    await assert.rejects(fetch(new URL(`${base}/slow/client.json`)), (e: unknown) => e instanceof ClientMetadataError && /within 300 ms/.test(e.message))
  })

  it('outside local development: private, loopback, link-local, unspecified, multicast and IPv4-mapped addresses are refused before connecting', async () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '169.254.169.254', '0.0.0.0', '224.0.0.1', '::1', 'fc00::1', 'fe80::1', '::', 'ff02::1', '::ffff:127.0.0.1', '::ffff:a00:1'])
      assert.equal(isPublicAddress(address), false, address)
    for (const address of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']) assert.equal(isPublicAddress(address), true, address)
    const port = (docs.address() as AddressInfo).port
    const before = hits['/good/client.json'] ?? 0
    for (const answer of [[{ address: '127.0.0.1', family: 4 }], [{ address: '10.0.0.7', family: 4 }], [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }]]) {
      const fetch = createClientMetadataFetcher({ allowPrivateAddresses: false, resolve: async () => answer })
      await assert.rejects(fetch(new URL(`http://metadata.test:${port}/good/client.json`)), /does not resolve to a public address/, JSON.stringify(answer))
    }
    // A literal address is checked too.
    const literal = createClientMetadataFetcher({ allowPrivateAddresses: false })
    await assert.rejects(literal(new URL(`http://127.0.0.1:${port}/good/client.json`)), /does not resolve to a public address/)
    assert.equal(hits['/good/client.json'] ?? 0, before, 'nothing was fetched')
  })

  // Each refused range: its first, a middle and its last address refused; its neighbours outside allowed.
  for (const [range, inside, outside] of [
    ['0.0.0.0/8 "this network"', ['0.0.0.0', '0.1.2.3', '0.255.255.255'], ['1.0.0.1']],
    ['100.64.0.0/10 carrier-grade NAT', ['100.64.0.0', '100.100.1.1', '100.127.255.255'], ['100.63.255.255', '100.128.0.0']],
    ['168.63.129.16 Azure platform', ['168.63.129.16'], ['168.63.129.15', '168.63.129.17']],
    ['169.254.0.0/16 link-local, instance metadata', ['169.254.0.1', '169.254.169.254'], ['169.253.255.255', '169.255.0.0']],
    ['192.0.0.0/24 IETF protocol assignments', ['192.0.0.0', '192.0.0.170', '192.0.0.255'], ['192.0.1.0']],
    ['192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 documentation', ['192.0.2.1', '198.51.100.7', '203.0.113.255'], ['192.0.3.1', '198.51.101.1', '203.0.114.1']],
    ['198.18.0.0/15 benchmarking', ['198.18.0.0', '198.19.255.255'], ['198.17.255.255', '198.20.0.0']],
    ['240.0.0.0/4 reserved, 255.255.255.255 broadcast', ['240.0.0.1', '250.1.2.3', '255.255.255.255'], ['223.255.255.255']],
    ['::ffff:0:0:0/96 IPv4-translated', ['::ffff:0:7f00:1', '::ffff:0:a00:1', '::ffff:0:5db8:d822'], []],
    ['::ffff:0:0/96 IPv4-mapped (even of a public address)', ['::ffff:7f00:1', '::ffff:5db8:d822'], []],
    ['64:ff9b::/96 and 64:ff9b:1::/48 NAT64', ['64:ff9b::7f00:1', '64:ff9b:1::a00:1', '64:ff9b:1:ffff::1'], ['64:ff9b:2::1']],
    ['2001::/32 Teredo', ['2001::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2'], ['2001:1::1']],
    ['2001:db8::/32 documentation', ['2001:db8::1'], ['2001:db9::1']],
    ['2002::/16 6to4', ['2002:7f00:1::1'], ['2003::1']],
    ['100::/64 discard-only', ['100::1'], ['100:0:0:1::1']],
  ] as const)
    it(`refused range ${range}`, () => {
      for (const a of inside) assert.equal(isPublicAddress(a), false, `${a} is inside`)
      for (const a of outside) assert.equal(isPublicAddress(a), true, `${a} is outside`)
    })

  it('a host that does not resolve and one that resolves to a refused address get the same answer (no DNS probing)', async () => {
    const port = (docs.address() as AddressInfo).port
    const messages = []
    for (const resolve of [async () => [], async () => Promise.reject(new Error('ENOTFOUND')), async () => [{ address: '10.0.0.7', family: 4 }]]) {
      const fetch = createClientMetadataFetcher({ allowPrivateAddresses: false, resolve })
      messages.push(await fetch(new URL(`http://metadata.test:${port}/good/client.json`)).then(() => 'fetched', (e: Error) => e.message))
    }
    assert.deepEqual(messages, [PRIVATE_OR_UNRESOLVED, PRIVATE_OR_UNRESOLVED, PRIVATE_OR_UNRESOLVED])
  })

  it('the connection goes to the resolved (checked) address: a name only the resolver knows reaches it', async () => {
    const port = (docs.address() as AddressInfo).port
    const fetch = createClientMetadataFetcher({ allowPrivateAddresses: true, resolve: async () => [{ address: '127.0.0.1', family: 4 }] })
    const answer = await fetch(new URL(`http://metadata.test:${port}/good/client.json`))
    assert.equal(answer.status, 200)
    assert.match(answer.contentType!, /application\/json/)
  })

  it('outside local development the whole path refuses an http://localhost client_id; the cache keeps a failure briefly', async () => {
    const clock = new ManualClock(Date.now())
    let calls = 0
    const documents = new ClientMetadataDocuments({
      config: { local: false, rpId: 'id.contoso.com' },
      clock,
      fetch: async () => {
        calls++
        throw new ClientMetadataError(PRIVATE_OR_UNRESOLVED)
      },
    })
    await assert.rejects(documents.resolve(`${base}/good/client.json`), /https/)
    await assert.rejects(documents.resolve('https://app.example/c.json'), /public address/)
    await assert.rejects(documents.resolve('https://app.example/c.json'), /public address/)
    assert.equal(calls, 1, 'negative-cached')
    clock.advance(31_000)
    await assert.rejects(documents.resolve('https://app.example/c.json'), /public address/)
    assert.equal(calls, 2)
  })
})
