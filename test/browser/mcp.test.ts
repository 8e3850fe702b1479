/**
 * CONTRACT v2 "AI clients and MCP servers behind the gateway", end to end the way an MCP client
 * works, in real Chromium: the MCP SDK's own client (@modelcontextprotocol/sdk Client +
 * StreamableHTTPClientTransport with an OAuthClientProvider) calls the sample MCP server behind
 * the dev gateway → 401 with `resource_metadata` (RFC 9728 §5.1) → it fetches the protected
 * resource metadata → authorization server discovery (RFC 8414) → authorization code + PKCE with
 * `resource` (RFC 8707) on the hosted passkey page, which the person completes in Chromium with a
 * virtual authenticator → token (aud = the resource) → tools/list and tools/call pass the gateway
 * and the authorizer, and the MCP server sees the person as the caller; the person then withdraws
 * the approval on the self-service page and the client's refresh token stops. Twice: with a
 * client registered here, and with a client nobody registered, whose client_id is the URL of its
 * client ID metadata document (draft-ietf-oauth-client-id-metadata-document) on a local
 * http://localhost server (allowed in local development), which the service fetches.
 *
 * The dev gateway is part of what is tested: when it does not run, the test fails (it never skips
 * for that).
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { bearer, call, decodeJwt, signUp as apiSignUp } from '../helpers/client.js'
import { registerClient } from '../oauth/helpers.js'
import { SKIP, launch, newPasskeyPage, type PasskeyPage } from './browser.js'
import { assertNoSecurityProblems, signUp } from './flows.js'
import { startBrowserService, type BrowserService } from './server.js'

/** Where the MCP client "listens" for the authorization response (Chromium's route catches it). */
const CALLBACK = 'http://127.0.0.1:53682/callback'

/** An MCP client's OAuth state, kept in memory; `redirectToAuthorization` records the URL. */
class Provider implements OAuthClientProvider {
  authorizationUrl: URL | undefined
  private saved: OAuthTokens | undefined
  private verifier = ''
  /** `clientId`: a registered client's id, or the URL of the client's metadata document. */
  constructor(private readonly clientId: string) {}
  get redirectUrl() {
    return CALLBACK
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'MCP test client', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'openid' }
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: this.clientId }
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url
  }
  saveCodeVerifier(v: string) {
    this.verifier = v
  }
  codeVerifier() {
    return this.verifier
  }
}

describe('MCP client → dev gateway → hosted passkey page → MCP tool call (RFC 9728, RFC 8707)', { skip: SKIP, timeout: 90_000 }, () => {
  let svc: BrowserService
  let browser: Browser
  let p: PasskeyPage
  let admin: string
  let clientId: string
  let docs: Server
  let documentUrl: string
  let documentHits = 0
  const username = `mcp${process.pid}`

  before(async () => {
    ;[svc, browser] = await Promise.all([startBrowserService(), launch()])
    // Fail, never skip: the chain under test runs through the dev gateway.
    assert.ok(svc.gatewayUrl, 'the local server started no dev gateway: the MCP chain cannot be tested')
    // The client ID metadata document of an MCP client nobody registered, on loopback.
    docs = createServer((req, res) => {
      if (req.url !== '/mcp/client.json') {
        res.writeHead(404)
        return res.end()
      }
      documentHits++
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ client_id: documentUrl, client_name: 'Metadata MCP client', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }))
    })
    await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r))
    documentUrl = `http://localhost:${(docs.address() as AddressInfo).port}/mcp/client.json`
    admin = (await apiSignUp(svc.url, new SoftAuthenticator(), 'admin', { origin: svc.url })).tokens.access_token
    const r = await call(svc.url, 'PUT', '/api/manage/roles/mcp-user', { permissions: [{ methods: ['POST', 'GET'], path: '/mcp' }] }, bearer(admin))
    assert.equal(r.status, 200, JSON.stringify(r.body))
    clientId = (await registerClient(svc.url, admin, { name: 'MCP test client', redirect_uris: [CALLBACK] })).client_id
    p = await newPasskeyPage(browser)
    await p.addAuthenticator({ transport: 'internal', backupEligible: true })
  })
  after(async () => {
    await browser?.close()
    await svc?.close()
    docs?.closeAllConnections()
    await new Promise((r) => docs?.close(r))
  })

  let personId: string
  /** The person has an account (a passkey in the virtual authenticator) and may use the MCP server. */
  async function person(): Promise<string> {
    if (personId) return personId
    await p.page.goto(svc.url)
    await signUp(p.page, username)
    const found = await call(svc.url, 'GET', `/api/manage/users?username=${username}`, undefined, bearer(admin))
    personId = found.body[0].id as string
    assert.equal((await call(svc.url, 'PUT', `/api/manage/users/${personId}/roles/mcp-user`, undefined, bearer(admin))).status, 200)
    return personId
  }

  it('401 → metadata → discovery → code + PKCE with resource (passkey in Chromium) → token → tools/call', async () => {
    await mcpFlow(clientId, 'MCP test client')
  })

  it('the same with a client ID metadata document: client_id = its http://localhost URL, fetched by the service, "not registered"', async () => {
    const discovery = (await (await fetch(`${svc.url}/api/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>
    assert.equal(discovery.client_id_metadata_document_supported, true, 'the SDK uses a URL client_id only when discovery says so')
    const before = documentHits
    await mcpFlow(documentUrl, 'Metadata MCP client', { registered: false })
    assert.ok(documentHits > before, 'the service fetched the document')
  })

  /**
   * The whole chain for one client. A metadata-document client's URL goes in as the provider's
   * client information: the SDK's own `clientMetadataUrl` accepts https URLs only (isHttpsUrl),
   * and in local development the document is on http://localhost; either way the SDK sends that
   * URL as client_id, which is what the service sees.
   */
  async function mcpFlow(clientId: string, clientName: string, { registered = true } = {}) {
    const { page } = p
    const personId = await person()

    const serverUrl = new URL(`${svc.gatewayUrl}/sample/mcp`)
    const resource = `${svc.gatewayUrl}/sample`
    // What the client will meet first, checked on its own: RFC 9728 §5.1 and §3.1.
    const bare = await fetch(serverUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    assert.equal(bare.status, 401)
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(bare.headers.get('www-authenticate') ?? '')?.[1]
    assert.equal(metadataUrl, `${svc.gatewayUrl}/.well-known/oauth-protected-resource/sample`)
    const metadata = (await (await fetch(metadataUrl!)).json()) as { resource: string; authorization_servers: string[] }
    assert.equal(metadata.resource, resource)
    assert.deepEqual(metadata.authorization_servers, [`${svc.url}/api`])

    // The MCP SDK's client: its first connect hits the 401 and asks us to send the person to the page.
    const provider = new Provider(clientId)
    const client = new Client({ name: 'mcp-e2e', version: '1.0.0' })
    const first = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider })
    await assert.rejects(client.connect(first), UnauthorizedError)
    const authorize = provider.authorizationUrl
    assert.ok(authorize, 'redirectToAuthorization was called')
    assert.equal(`${authorize.origin}${authorize.pathname}`, `${svc.url}/api/oauth2/authorize`)
    assert.equal(authorize.searchParams.get('resource'), resource, 'RFC 8707: the metadata resource, verbatim')
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256')
    assert.equal(authorize.searchParams.get('client_id'), clientId)

    // The hosted page in Chromium: the person signs in with the passkey; the redirect is caught.
    let code: string | undefined
    await page.route(`${CALLBACK}**`, async (route) => {
      const back = new URL(route.request().url())
      code = back.searchParams.get('code') ?? undefined
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'You can close this window.' })
    })
    // The page says what is asked for (read over HTTP: in Chromium the sign-in starts on load).
    const html = await (await fetch(authorize)).text()
    assert.ok(html.includes(`<code id="resource">${resource}</code>`), 'the resource asked for is shown')
    assert.equal(html.includes('This app is not registered by your administrator'), !registered, 'the page says whether an administrator registered the app')
    await page.goto(authorize.href)
    // The page offers the passkey through autofill (conditional mediation) as it loads; Chromium's
    // virtual authenticator answers that at once, so the sign-in completes without a click.
    await page.waitForURL(`${CALLBACK}**`)
    assert.ok(code, 'the authorization response carried a code')

    await first.finishAuth(code)
    const claims = decodeJwt(provider.tokens()!.access_token).payload
    assert.equal(claims.aud, resource, 'the token is for the API the metadata named')
    assert.equal(claims.client_id, clientId, 'client_id is the one the SDK sent (for a metadata document: its URL)')

    // Connected with the token: the calls pass the gateway and the authorizer.
    const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider })
    await client.connect(transport)
    const tools = await client.listTools()
    assert.deepEqual(tools.tools.map((x) => x.name).sort(), ['get_order', 'list_orders'])
    const result = await client.callTool({ name: 'get_order', arguments: { id: '42' } })
    const body = JSON.parse((result.content as { type: string; text: string }[])[0]!.text)
    assert.equal(body.order.item, 'espresso cups')
    assert.equal(body.caller, personId, 'the MCP server sees the person (X-User-Id from the gateway)')
    await client.close()

    // The self-service page lists the approval; withdrawing it signs the MCP client out.
    await page.goto(svc.url)
    const section = page.getByRole('region', { name: 'Apps you approved' })
    await section.getByRole('heading', { name: clientName }).waitFor()
    const listed = await section.locator('li.consent').innerText()
    assert.ok(listed.includes(resource), listed)
    assert.equal(listed.includes('not registered by your administrator'), !registered, listed)
    await section.getByRole('button', { name: `Withdraw ${clientName}` }).click()
    await section.getByText('No apps approved yet.').waitFor()
    const refreshed = await fetch(`${svc.url}/api/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: provider.tokens()!.refresh_token!, client_id: clientId }),
    })
    assert.equal(((await refreshed.json()) as { error?: string }).error, 'invalid_grant', "the withdrawn app's refresh token stops")
    await page.unroute(`${CALLBACK}**`)
    assertNoSecurityProblems(p.consoleProblems)
  }
})
