/**
 * The sample backend as a minimal MCP server: streamable HTTP (MCP specification, "Transports"),
 * hand-written JSON-RPC 2.0 rather than the SDK, over a few fixed sample orders. Behind the dev
 * gateway it is `POST /sample/mcp`: the gateway has checked the token and the authorizer the
 * caller's roles before a message arrives here, and `X-User-Id` says who is calling.
 *
 * - POST, one JSON-RPC message a request (no batches): a request is answered with one JSON
 *   response (`application/json`, no SSE stream); a notification or a response → 202, no body.
 * - GET → 405 (no server-initiated stream); DELETE → 405 (stateless: no `Mcp-Session-Id`).
 * - `MCP-Protocol-Version`: when sent, one of PROTOCOL_VERSIONS, else 400.
 * - Methods: `initialize`, `ping`, `tools/list`, `tools/call` (`list_orders`, `get_order`).
 */
import { Hono } from 'hono'

/** Protocol revisions this server speaks, newest first. */
export const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'] as const

export const SAMPLE_ORDERS = [
  { id: '41', item: 'coffee beans', quantity: 2, status: 'shipped' },
  { id: '42', item: 'espresso cups', quantity: 6, status: 'open' },
  { id: '43', item: 'milk frother', quantity: 1, status: 'open' },
] as const

const TOOLS = [
  {
    name: 'list_orders',
    title: 'List orders',
    description: 'Lists the sample orders, optionally only those with a status.',
    inputSchema: { type: 'object', properties: { status: { type: 'string', enum: ['open', 'shipped'] } }, additionalProperties: false },
  },
  {
    name: 'get_order',
    title: 'Read an order',
    description: 'Reads one sample order by its id.',
    inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'], additionalProperties: false },
  },
] as const

type Id = string | number
type Message = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown }

const rpcError = (id: Id | null, code: number, message: string) => ({ jsonrpc: '2.0', id, error: { code, message } })
const rpcResult = (id: Id, result: unknown) => ({ jsonrpc: '2.0', id, result })
const text = (value: unknown, isError = false) => ({
  content: [{ type: 'text', text: JSON.stringify(value) }],
  ...(isError ? { isError: true } : { structuredContent: { result: value } }),
})

/** tools/call: a tool's result, or a JSON-RPC error for an unknown tool (-32602). */
function callTool(name: unknown, args: Record<string, unknown>, caller: string | undefined) {
  if (name === 'list_orders') {
    const status = args.status
    if (status !== undefined && status !== 'open' && status !== 'shipped') return text({ error: 'status must be open or shipped' }, true)
    return text({ caller: caller ?? null, orders: SAMPLE_ORDERS.filter((o) => status === undefined || o.status === status) })
  }
  if (name === 'get_order') {
    const order = SAMPLE_ORDERS.find((o) => o.id === args.id)
    return order ? text({ caller: caller ?? null, order }) : text({ error: `no order ${String(args.id)}` }, true)
  }
  return undefined
}

function handle(msg: Message, caller: string | undefined): object | undefined {
  // A notification (no id) or a response to us: nothing to answer.
  if (msg.id === undefined || msg.method === undefined) return undefined
  const id = msg.id
  if (typeof id !== 'string' && typeof id !== 'number') return rpcError(null, -32600, 'id must be a string or a number')
  if (msg.jsonrpc !== '2.0' || typeof msg.method !== 'string') return rpcError(id, -32600, 'not a JSON-RPC 2.0 request')
  const params = (msg.params && typeof msg.params === 'object' ? msg.params : {}) as Record<string, unknown>
  switch (msg.method) {
    case 'initialize': {
      const asked = params.protocolVersion
      const version = (PROTOCOL_VERSIONS as readonly unknown[]).includes(asked) ? (asked as string) : PROTOCOL_VERSIONS[0]
      return rpcResult(id, {
        protocolVersion: version,
        capabilities: { tools: { listChanged: false } },
        serverInfo: { name: 'passkey-edge-sample-orders', version: '1.0.0' },
        instructions: 'Sample orders behind the passkey-edge dev gateway.',
      })
    }
    case 'ping':
      return rpcResult(id, {})
    case 'tools/list':
      return rpcResult(id, { tools: TOOLS })
    case 'tools/call': {
      const args = (params.arguments && typeof params.arguments === 'object' ? params.arguments : {}) as Record<string, unknown>
      const result = callTool(params.name, args, caller)
      return result ? rpcResult(id, result) : rpcError(id, -32602, `Unknown tool: ${String(params.name)}`)
    }
    default:
      return rpcError(id, -32601, `Method not found: ${msg.method}`)
  }
}

/**
 * The MCP endpoint as a Hono app, mounted at `/mcp` by the echo backend (local/echo.ts).
 *
 * @example
 * const res = await mcpApp().request('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) })
 */
export function mcpApp(): Hono {
  const app = new Hono()
  app.post('/', async (c) => {
    const version = c.req.header('mcp-protocol-version')
    if (version !== undefined && !(PROTOCOL_VERSIONS as readonly string[]).includes(version))
      return c.json(rpcError(null, -32600, `Unsupported MCP-Protocol-Version: ${version}`), 400)
    let msg: unknown
    try {
      msg = await c.req.json()
    } catch {
      return c.json(rpcError(null, -32700, 'Parse error'), 400)
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return c.json(rpcError(null, -32600, 'one JSON-RPC message per request'), 400)
    const answer = handle(msg as Message, c.req.header('x-user-id'))
    if (!answer) return c.body(null, 202)
    return c.json(answer, 200, { 'cache-control': 'no-store' })
  })
  // No server-initiated stream and no sessions to end.
  app.on(['GET', 'DELETE'], '/', (c) => c.body(null, 405, { allow: 'POST' }))
  return app
}
