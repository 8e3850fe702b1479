/**
 * The sample backend behind the dev gateway: answers every method and path with what it received,
 * so a developer (or a test) sees exactly what the gateway forwarded.
 *
 * Paths are backend paths, as the gateway forwards them (the API URL suffix removed): a client
 * calls `http://localhost:7072/sample/orders/42`, the gateway asks the authorizer about
 * `/orders/42` and forwards `GET /orders/42` here. `/mcp` answers as a minimal MCP server over
 * a few sample orders (local/mcp.ts).
 */
import type { AddressInfo } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import { assertLoopback, listen, stop } from '../runtime/node/listen.js'
import { Hono } from 'hono'
import { SAMPLE_API_OPERATIONS, SAMPLE_API_SUFFIX } from '../shared/sampleApi.js'
import { mcpApp } from './mcp.js'

/** An APIM operation: method and URL template (`{name}` one segment, a final `*` any depth). */
export interface GatewayOperation {
  id: string
  method: string
  urlTemplate: string
}

/** An API as the gateway publishes it: APIM's API id, URL suffix and operations. */
export interface GatewayApi {
  id: string
  /** API URL suffix, without slashes (`sample` → clients call `/sample/...`). */
  suffix: string
  /** When given, a request matching none of them gets 404 before any policy runs (as in APIM). */
  operations?: readonly GatewayOperation[]
}

/**
 * The sample API (shared/sampleApi.ts): what docs/apim.md imports into APIM and the dev gateway
 * publishes locally.
 */
export const SAMPLE_API: GatewayApi = {
  id: 'sample',
  suffix: SAMPLE_API_SUFFIX,
  operations: SAMPLE_API_OPERATIONS,
}

/** What the echo backend answers. */
export interface EchoResponse {
  method: string
  path: string
  query: Record<string, string>
  userId: string | null
  roles: string | null
  /** X-Actor-Id: the agent acting for the user (a delegated token), else null. */
  actorId: string | null
  receivedAuthorization: boolean
}

/**
 * The echo backend as a Hono app (tests call `app.request()` or route a fetch to it).
 *
 * @example
 * const res = await createEchoApp().request('/orders?x=1', { headers: { 'X-User-Id': 'u1' } })
 * // { method: 'GET', path: '/orders', query: { x: '1' }, userId: 'u1', roles: null, receivedAuthorization: false }
 */
export function createEchoApp(): Hono {
  const app = new Hono()
  // POST/GET /mcp: the sample orders as a minimal MCP server (local/mcp.ts).
  app.route('/mcp', mcpApp())
  app.all('*', (c) => {
    const url = new URL(c.req.url)
    const body: EchoResponse = {
      method: c.req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      userId: c.req.header('x-user-id') ?? null,
      roles: c.req.header('x-user-roles') ?? null,
      actorId: c.req.header('x-actor-id') ?? null,
      receivedAuthorization: c.req.header('authorization') !== undefined,
    }
    return c.json(body, 200, { 'cache-control': 'no-store' })
  })
  return app
}

/**
 * Starts the echo backend on loopback. `port: 0` picks a free port (see `url`).
 *
 * @example
 * const echo = await startEchoBackend({ port: 0 })
 * await fetch(`${echo.url}/orders`)
 * await echo.close()
 */
export async function startEchoBackend(opts: {
  port: number
  hostname?: string
}): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const { port, hostname = '127.0.0.1' } = opts
  assertLoopback(hostname, 'the echo backend')
  const app = createEchoApp()
  const host = hostname === 'localhost' ? '127.0.0.1' : hostname.replace(/^\[|\]$/g, '')
  const server = await listen(getRequestListener((req) => app.fetch(req)), host, port)
  const actual = (server.address() as AddressInfo).port
  const urlHost = host.includes(':') ? `[${host}]` : host
  return { url: `http://${urlHost}:${actual}`, port: actual, close: () => stop(server) }
}

