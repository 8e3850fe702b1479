/**
 * The sample backend's minimal MCP server (local/mcp.ts) over streamable HTTP (MCP specification
 * "Transports" and "Lifecycle"), without the gateway: JSON-RPC 2.0 answers, 202 for
 * notifications, 405 for GET, the MCP-Protocol-Version check, the two tools over the sample orders.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createEchoApp } from '../../local/echo.js'
import { PROTOCOL_VERSIONS } from '../../local/mcp.js'

const app = createEchoApp()
const rpc = (body: unknown, headers: Record<string, string> = {}) =>
  app.request('/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-user-id': 'u1', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })

describe('local/mcp.ts: the sample MCP server (streamable HTTP)', () => {
  it('initialize negotiates a protocol version it speaks and announces tools', async () => {
    const res = await rpc({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })
    assert.equal(res.status, 200)
    const body = (await res.json()) as any
    assert.equal(body.id, 1)
    assert.equal(body.result.protocolVersion, '2025-06-18')
    assert.ok(body.result.capabilities.tools)
    const other = (await (await rpc({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '1999-01-01' } })).json()) as any
    assert.equal(other.result.protocolVersion, PROTOCOL_VERSIONS[0], 'an unknown version gets the latest it speaks')
  })

  it('a notification → 202 without a body; GET and DELETE → 405', async () => {
    const n = await rpc({ jsonrpc: '2.0', method: 'notifications/initialized' })
    assert.equal(n.status, 202)
    assert.equal(await n.text(), '')
    for (const method of ['GET', 'DELETE']) assert.equal((await app.request('/mcp', { method })).status, 405)
  })

  it('tools/list and tools/call over the sample orders; the caller is X-User-Id', async () => {
    const list = (await (await rpc({ jsonrpc: '2.0', id: 3, method: 'tools/list' })).json()) as any
    assert.deepEqual(list.result.tools.map((t: any) => t.name), ['list_orders', 'get_order'])
    const got = (await (await rpc({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'get_order', arguments: { id: '42' } } })).json()) as any
    const order = JSON.parse(got.result.content[0].text)
    assert.equal(order.order.item, 'espresso cups')
    assert.equal(order.caller, 'u1')
    const open = (await (await rpc({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'list_orders', arguments: { status: 'open' } } })).json()) as any
    assert.ok(JSON.parse(open.result.content[0].text).orders.every((o: any) => o.status === 'open'))
    const missing = (await (await rpc({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'get_order', arguments: { id: '9' } } })).json()) as any
    assert.equal(missing.result.isError, true)
  })

  it('errors: unknown tool -32602, unknown method -32601, bad JSON -32700 (400), a batch or unsupported MCP-Protocol-Version → 400', async () => {
    assert.equal(((await (await rpc({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'nope' } })).json()) as any).error.code, -32602)
    assert.equal(((await (await rpc({ jsonrpc: '2.0', id: 8, method: 'resources/list' })).json()) as any).error.code, -32601)
    const bad = await rpc('{not json')
    assert.equal(bad.status, 400)
    assert.equal(((await bad.json()) as any).error.code, -32700)
    assert.equal((await rpc([{ jsonrpc: '2.0', id: 9, method: 'ping' }])).status, 400)
    assert.equal((await rpc({ jsonrpc: '2.0', id: 10, method: 'ping' }, { 'mcp-protocol-version': '1999-01-01' })).status, 400)
    assert.equal((await rpc({ jsonrpc: '2.0', id: 11, method: 'ping' }, { 'mcp-protocol-version': '2025-06-18' })).status, 200)
  })
})
