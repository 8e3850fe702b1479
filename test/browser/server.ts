/**
 * The service as a browser meets it: a real Azurite, and the real local server
 * (local/server.ts `startLocalServer`, which binds loopback and passes the caller's address to the
 * app) on `http://localhost:<free port>`, so the page's origin is the WebAuthn origin the service
 * expects (ALLOWED_ORIGINS and ISSUER follow PORT). The dev gateway (the APIM stand-in) runs on
 * its own free port unless `gateway: false`. Usernames in `BOOTSTRAP_ADMINS` (`admin`) become
 * administrators when they sign up.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalServer } from '../../local/server.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'

export interface BrowserService {
  /** `http://localhost:<port>`: open the page here. */
  url: string
  port: number
  /** The dev gateway's URL, when it runs. */
  gatewayUrl: string | undefined
  /** The gateway port the page was told about (GATEWAY_PORT), running or not. */
  gatewayPort: number
  azurite: Azurite
  close(): Promise<void>
}

/**
 * Starts Azurite and the local server (and its gateway) for one test file.
 *
 * @example
 * const svc = await startBrowserService()
 * after(() => svc.close())
 * await page.goto(svc.url)
 */
export async function startBrowserService(
  opts: { env?: Record<string, string>; gateway?: boolean } = {},
): Promise<BrowserService> {
  const azurite = await startAzurite()
  const location = mkdtempSync(join(tmpdir(), 'passkey-browser-'))
  try {
    const port = await freePort()
    let gatewayPort = await freePort()
    while (gatewayPort === port) gatewayPort = await freePort()
    const server = await startLocalServer({
      env: {
        PORT: String(port),
        GATEWAY_PORT: String(gatewayPort),
        AZURITE_LOCATION: location,
        TABLES_CONNECTION_STRING: azurite.connectionString,
        BOOTSTRAP_ADMINS: 'admin',
        RATE_LIMIT: '0',
        ...opts.env,
      },
      gateway: opts.gateway ?? true,
    })
    return {
      url: server.url,
      port: server.port,
      gatewayUrl: server.gateway?.url,
      gatewayPort,
      azurite,
      async close() {
        await server.close()
        await azurite.stop()
        rmSync(location, { recursive: true, force: true })
      },
    }
  } catch (err) {
    await azurite.stop()
    rmSync(location, { recursive: true, force: true })
    throw err
  }
}
