/**
 * Node only (the Functions host brings its own bindings, functions/adapter.ts).
 * What the local server passes to the app as Hono `env` (AppBindings) for a Node request: the
 * caller's address (loopback-only routes check it) and a body reader straight from the socket,
 * which spares the hot path (the authorizer) a WHATWG stream per call.
 */
import type { IncomingMessage } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import type { AppBindings } from '../../shared/env.js'

type NodeRequest = IncomingMessage | Http2ServerRequest

/** Bindings for one request: methods on a prototype, so no closures are made per request. */
class NodeBindings implements AppBindings {
  readonly remoteAddr: string | undefined
  constructor(private readonly incoming: NodeRequest) {
    this.remoteAddr = incoming.socket.remoteAddress
  }
  readBody(limit: number): Promise<Uint8Array | null> {
    return readIncoming(this.incoming, limit)
  }
  /** Node has parsed the headers already; a WHATWG Headers copy is built only if asked for. */
  header(name: string): string | undefined {
    const v = this.incoming.headers[name]
    return Array.isArray(v) ? v.join(', ') : v
  }
}

export function nodeBindings(incoming: NodeRequest): AppBindings {
  return new NodeBindings(incoming)
}

/** The whole body, or null as soon as it passes `limit` bytes (the rest is discarded). */
export function readIncoming(incoming: NodeRequest, limit: number): Promise<Uint8Array | null> {
  // A small body has usually arrived with the headers: the parser has completed the message and
  // the bytes wait in the stream's buffer. Take them without a listener round.
  if ('complete' in incoming && incoming.complete && !incoming.readableFlowing && incoming.readableLength <= limit) {
    const chunk = (incoming.read() as Buffer | null) ?? Buffer.alloc(0)
    if (incoming.readableLength === 0) return Promise.resolve(chunk.length > limit ? null : chunk)
    return readIncoming(incoming, limit - chunk.length).then((rest) => (rest === null ? null : Buffer.concat([chunk, rest])))
  }
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
