/**
 * Loopback HTTP servers for the Node-only pieces (local server, dev gateway, echo backend). The
 * Functions host never listens itself: nothing under functions/ imports this file.
 */
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]'])

/**
 * Throws the startup `TypeError` for a hostname that is not loopback: `who` binds loopback only.
 *
 * @example
 * assertLoopback(opts.hostname, 'the dev gateway')
 */
export function assertLoopback(hostname: string | undefined, who: string): void {
  if (hostname !== undefined && !LOOPBACK.has(hostname))
    throw new TypeError(`hostname ${JSON.stringify(hostname)} is not loopback: ${who} binds loopback only`)
}

/** Listens on host:port (exclusive), resolving once bound and rejecting on EADDRINUSE and the like. */
export function listen(listener: RequestListener, host: string, port: number): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const server = createServer(listener)
    server.once('error', reject)
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}

/** Stops accepting, drops open connections (keep-alive included), resolves when closed. */
export function stop(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/**
 * Listens on loopback only. Without `hostname` (or with `localhost`) that is 127.0.0.1 and, when
 * the machine has IPv6 loopback, ::1 on the same port, so `localhost` works whichever address a
 * browser or Node's fetch resolves it to. `port: 0` picks a free port. On failure it closes what
 * it opened and rejects with the listen error (EADDRINUSE and the like).
 *
 * @example
 * const { servers, port } = await listenLoopback(listener, { port: 0 })
 */
export async function listenLoopback(
  listener: RequestListener,
  { hostname, port }: { hostname?: string; port: number },
): Promise<{ servers: Server[]; port: number }> {
  if (hostname !== undefined && hostname !== 'localhost') {
    const server = await listen(listener, hostname.replace(/^\[|\]$/g, ''), port)
    return { servers: [server], port: (server.address() as AddressInfo).port }
  }
  const v4 = await listen(listener, '127.0.0.1', port)
  const actual = (v4.address() as AddressInfo).port
  const v6 = await listen(listener, '::1', actual).catch(async (err: NodeJS.ErrnoException) => {
    // No IPv6 loopback here (`localhost` is 127.0.0.1 only); or, for a port picked by the
    // system, taken on ::1 by someone else: 127.0.0.1 still serves.
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT') return undefined
    if (port === 0 && err.code === 'EADDRINUSE') return undefined
    await stop(v4)
    throw err
  })
  return { servers: v6 ? [v4, v6] : [v4], port: actual }
}
