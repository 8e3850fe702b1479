/**
 * What the local server passes to the app as Hono `env` (AppBindings) for a Node request: the
 * caller's address (loopback-only routes check it) and a body reader straight from the socket,
 * which spares the hot path (the authorizer) a WHATWG stream per call.
 */
import type { IncomingMessage } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import type { AppBindings } from '../shared/app.js'

export function nodeBindings(incoming: IncomingMessage | Http2ServerRequest): AppBindings {
  return {
    remoteAddr: incoming.socket.remoteAddress,
    readBody: (limit) => readIncoming(incoming, limit),
    // Node has parsed the headers already; a WHATWG Headers copy is built only if asked for.
    header: (name) => {
      const v = incoming.headers[name]
      return Array.isArray(v) ? v.join(', ') : v
    },
  }
}

/** The whole body, or null as soon as it passes `limit` bytes (the rest is discarded). */
export function readIncoming(incoming: IncomingMessage | Http2ServerRequest, limit: number): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    incoming.on('data', (chunk: Buffer) => {
      if (over) return
      size += chunk.length
      if (size > limit) {
        over = true
        chunks.length = 0
        resolve(null)
        incoming.resume()
        return
      }
      chunks.push(chunk)
    })
    incoming.once('end', () => {
      if (!over) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
    })
    incoming.once('error', reject)
  })
}
