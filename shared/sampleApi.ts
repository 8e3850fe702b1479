/**
 * The sample API: what docs/apim.md imports into APIM, the dev gateway publishes locally
 * (local/echo.ts `SAMPLE_API`) and the page's "Try the sample API" calls (web/sampleApi.ts).
 * A plain module with no imports: web/ bundles it for the browser.
 */

/** The API URL suffix: clients call `/sample/...`. */
export const SAMPLE_API_SUFFIX = 'sample'

/**
 * The operations: APIM operation id, method and URL template (`{name}` one segment, a final `*`
 * any depth), plus the path the page calls and what it says it does. Permissions are written
 * against these paths, e.g. `{ methods: ['GET'], path: '/orders/**' }`.
 */
export const SAMPLE_OPERATIONS = [
  { id: 'list-orders', method: 'GET', urlTemplate: '/orders', example: '/orders', what: 'List orders' },
  { id: 'get-order', method: 'GET', urlTemplate: '/orders/{id}', example: '/orders/42', what: 'Read order 42' },
  { id: 'create-order', method: 'POST', urlTemplate: '/orders', example: '/orders', what: 'Create an order' },
  { id: 'delete-order', method: 'DELETE', urlTemplate: '/orders/{id}', example: '/orders/42', what: 'Delete order 42' },
  { id: 'admin', method: 'GET', urlTemplate: '/admin/*', example: '/admin/report', what: 'Read the admin report' },
] as const satisfies readonly {
  id: string
  method: 'GET' | 'POST' | 'DELETE'
  urlTemplate: string
  example: string
  what: string
}[]

/**
 * The sample backend as a minimal MCP server (streamable HTTP, local/mcp.ts): one endpoint,
 * POST for JSON-RPC messages and GET (answered 405: no server-initiated stream). Published
 * beside SAMPLE_OPERATIONS, not on the page's buttons (docs/mcp.md).
 */
export const SAMPLE_MCP_OPERATIONS = [
  { id: 'mcp', method: 'POST', urlTemplate: '/mcp' },
  { id: 'mcp-stream', method: 'GET', urlTemplate: '/mcp' },
] as const satisfies readonly { id: string; method: 'GET' | 'POST'; urlTemplate: string }[]

/** Every operation of the sample API (what APIM imports and the dev gateway publishes). */
export const SAMPLE_API_OPERATIONS: readonly { id: string; method: string; urlTemplate: string }[] = [
  ...SAMPLE_OPERATIONS.map(({ id, method, urlTemplate }) => ({ id, method, urlTemplate })),
  ...SAMPLE_MCP_OPERATIONS,
]
