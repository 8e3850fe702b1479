/**
 * The sample agent of `npm start` (docs/agents.md "Trying it"): one client registered with
 * `"agent": true` (private_key_jwt, ES256), roles `reader` (the ceiling of what a person can
 * delegate to it), whose private key is kept on the developer machine in
 * `<AZURITE_LOCATION>/sample-agent.json` (mode 0600) for `npm run agent` (scripts/agent.ts).
 *
 * Registered once: the file names the client; while that client is still registered as an agent
 * nothing is registered again (the service's URLs in the file are brought up to date). A file
 * whose client is gone (Azurite's data deleted) gets a new key and a new registration.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import type { Core } from '../shared/core.js'
import { registerClient } from '../shared/admin/clients.js'
import { deleteClient } from '../shared/admin/clientChanges.js'

export const SAMPLE_AGENT_FILE = 'sample-agent.json'
export const SAMPLE_AGENT_NAME = 'Sample agent'
/** The sample role it may act within (local/server.ts SAMPLE_ROLES), when it is defined. */
const SAMPLE_AGENT_ROLES = ['reader']

/** What `npm run agent` reads: who the agent is, its private key, and where the service is. */
export interface SampleAgentFile {
  clientId: string
  kid: string
  /** The private JWK (ES256). Only on this machine; the service has the public half. */
  privateJwk: JWK
  /** The service's issuer (`…/api`): discovery, bc-authorize and the token endpoint. */
  issuer: string
  /** The page where the person approves. */
  pageUrl: string
  /** The dev gateway in front of the sample API, when it runs. */
  gatewayUrl?: string
}

/** The key file's path for a data directory (`AZURITE_LOCATION`, default `.azurite`). */
export const sampleAgentPath = (dir: string) => join(dir, SAMPLE_AGENT_FILE)

function readAgentFile(path: string): SampleAgentFile | undefined {
  try {
    const f = JSON.parse(readFileSync(path, 'utf8')) as SampleAgentFile
    return typeof f.clientId === 'string' && f.privateJwk && typeof f.kid === 'string' ? f : undefined
  } catch {
    return undefined // missing or unreadable: a new agent is registered and the file written anew
  }
}

/** Writes the file with mode 0600 (through a temporary file, so a reader never sees half of it). */
function writeAgentFile(path: string, f: SampleAgentFile): void {
  const tmp = `${path}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, `${JSON.stringify(f, null, 2)}\n`, { mode: 0o600 })
    chmodSync(tmp, 0o600) // the mode above is masked by the umask
    renameSync(tmp, path)
  } catch (err) {
    rmSync(tmp, { force: true }) // a private key left behind under another name
    throw err
  }
}

/**
 * Registers the sample agent unless the key file's client is still registered as an agent.
 *
 * @example
 * const { clientId, created } = await seedSampleAgent(core, { dir: '.azurite', pageUrl, gatewayUrl })
 */
export async function seedSampleAgent(
  core: Core,
  { dir, pageUrl, gatewayUrl }: { dir: string; pageUrl: string; gatewayUrl?: string },
): Promise<{ clientId: string; created: boolean; path: string }> {
  const path = sampleAgentPath(dir)
  const urls = { issuer: core.config.issuer, pageUrl, ...(gatewayUrl ? { gatewayUrl } : {}) }
  const existing = readAgentFile(path)
  if (existing && (await core.store.getClient(existing.clientId))?.agent) {
    const { gatewayUrl: _old, ...rest } = existing
    const updated: SampleAgentFile = { ...rest, ...urls }
    if (JSON.stringify(updated) !== JSON.stringify(existing)) writeAgentFile(path, updated)
    return { clientId: existing.clientId, created: false, path }
  }
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
  const kid = `sample-agent-${Date.now().toString(36)}`
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }
  const defined = new Set((await core.store.listRoles()).map((r) => r.name))
  // The directory first: a registration whose key file cannot be written would be an agent nobody
  // holds the key of, and the next start would register another.
  mkdirSync(dir, { recursive: true })
  const { client } = await registerClient(core, {
    reg: {
      name: SAMPLE_AGENT_NAME,
      kind: 'confidential',
      jwks: { keys: [publicJwk] },
      redirectUris: [],
      roles: SAMPLE_AGENT_ROLES.filter((r) => defined.has(r)),
      scopes: [],
      agent: true,
    },
    from: { actor: { system: 'npm-start-sample-agent' } },
  })
  try {
    writeAgentFile(path, { clientId: client.id, kid, privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' }, ...urls })
  } catch (err) {
    // Nobody could use it: take the registration back (best effort) before reporting the failure.
    await deleteClient(core, { clientId: client.id, from: { actor: { system: 'npm-start-sample-agent' } } }).catch(() => {})
    throw err
  }
  return { clientId: client.id, created: true, path }
}
