/** Loopback HTTP servers for the local pieces (service, dev gateway, echo backend). */
import { createServer, type RequestListener, type Server } from 'node:http'

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
