/**
 * The sample agent (`npm run agent`, scripts/agent.ts) against the local chain as `npm start`
 * runs it (local/server.ts with `sampleAgent: true`: service, dev gateway, echo backend) on a
 * real Azurite: seeding registers one agent and writes its key file (mode 0600), twice still one;
 * the script asks by CIBA, waits, and once the person approves (through the API, with a software
 * passkey) it calls the sample API through the gateway and prints X-User-Id / X-Actor-Id; clear
 * errors for a missing key file, an unknown user, a denial and a service that does not run.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startLocalServer, type LocalServer } from '../../local/server.js'
import { SAMPLE_AGENT_NAME, sampleAgentPath, type SampleAgentFile } from '../../local/sampleAgent.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { freePort, startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, post, signIn, signUp } from '../helpers/client.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

interface Run {
  child: ChildProcess
  stdout: () => string
  output: () => string
  exited: Promise<number | null>
}

/** `npm run agent -- …` as a child process (node --import tsx scripts/agent.ts). */
function runAgent(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/agent.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let output = ''
  child.stdout!.on('data', (d) => ((stdout += d), (output += d)))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  running.add(child)
  void exited.then(() => running.delete(child))
  return { child, stdout: () => stdout, output: () => output, exited }
}
const running = new Set<ChildProcess>()

async function waitFor(run: Run, re: RegExp, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!re.test(run.output())) {
    if (run.child.exitCode !== null) throw new Error(`the agent exited first:\n${run.output()}`)
    if (Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms:\n${run.output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('npm run agent: the sample agent through the local chain (CIBA poll, dev gateway)', { timeout: 180_000 }, () => {
  let azurite: Azurite
  let server: LocalServer
  let location: string
  let env: Record<string, string>
  const adminKey = new SoftAuthenticator()
  const personKey = new SoftAuthenticator()
  const username = `agentuser${process.pid}`
  let personId: string
  let keyFile: string

  const start = () => startLocalServer({ env, gateway: true, sampleAgent: true })
  const admin = async () => (await signIn(server.url, adminKey, 'admin', { origin: server.url })).body.access_token as string
  const personToken = async () => (await signIn(server.url, personKey, username, { origin: server.url })).body.access_token as string

  before(async () => {
    azurite = await startAzurite()
    location = mkdtempSync(join(tmpdir(), 'passkey-agent-'))
    env = {
      PORT: String(await freePort()),
      GATEWAY_PORT: String(await freePort()),
      AZURITE_LOCATION: location,
      TABLES_CONNECTION_STRING: azurite.connectionString,
      BOOTSTRAP_ADMINS: 'admin',
      RATE_LIMIT: '0',
    }
    server = await start()
    keyFile = sampleAgentPath(location)
    await signUp(server.url, adminKey, 'admin', { origin: server.url })
    personId = (await signUp(server.url, personKey, username, { origin: server.url })).user.id
    // The person may read orders; the sample agent's ceiling is `reader` too.
    assert.equal((await call(server.url, 'PUT', `/api/manage/users/${personId}/roles/reader`, undefined, bearer(await admin()))).status, 200)
  })
  after(async () => {
    for (const child of running) child.kill('SIGKILL') // by PID, only the ones this file started
    await server?.close()
    await azurite?.stop()
    if (location) rmSync(location, { recursive: true, force: true })
  })

  it('npm start registers the sample agent once: the key file (0600) names an agent client; starting again registers no second one', async () => {
    assert.equal(server.sampleAgent?.created, true)
    const file = JSON.parse(readFileSync(keyFile, 'utf8')) as SampleAgentFile
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the private key is readable by its owner only')
    assert.equal(file.clientId, server.sampleAgent?.clientId)
    assert.equal(file.privateJwk.kty, 'EC')
    assert.ok(file.privateJwk.d, 'the private half is in the file')
    assert.equal(file.gatewayUrl, server.gateway?.url)
    const view = await call(server.url, 'GET', `/api/manage/clients/${file.clientId}`, undefined, bearer(await admin()))
    assert.equal(view.status, 200)
    assert.equal(view.body.agent, true)
    assert.equal(view.body.token_endpoint_auth_method, 'private_key_jwt')
    assert.deepEqual(view.body.roles, ['reader'])
    assert.equal(JSON.stringify(view.body).includes(String(file.privateJwk.d)), false, 'the service holds the public key only')

    await server.close()
    server = await start()
    assert.equal(server.sampleAgent?.created, false)
    assert.equal(server.sampleAgent?.clientId, file.clientId)
    const listed = await call(server.url, 'GET', '/api/manage/clients?limit=100', undefined, bearer(await admin()))
    assert.equal(listed.status, 200)
    const clients = (Array.isArray(listed.body) ? listed.body : listed.body.clients) as { client_name?: string; name?: string; agent?: boolean }[]
    assert.equal(clients.filter((c) => c.agent && (c.client_name ?? c.name) === SAMPLE_AGENT_NAME).length, 1, 'one sample agent after two starts')
  })

  it('asks, waits for the person, then prints what the backend saw: X-User-Id = the person, X-Actor-Id = the agent', async () => {
    const run = runAgent(['--user', username, '--key', keyFile, 'Show my orders, please'])
    await waitFor(run, new RegExp(`waiting for ${username} to approve on ${server.url.replace(/[.]/g, '\\.')}/`))
    const token = await personToken()
    const list = await call(server.url, 'GET', '/api/me/approvals', undefined, bearer(token))
    assert.equal(list.status, 200)
    const request = list.body.find((a: { bindingMessage: string }) => a.bindingMessage === 'Show my orders, please')
    assert.ok(request, JSON.stringify(list.body))
    assert.equal(request.clientName, SAMPLE_AGENT_NAME)
    const options = await post(server.url, `/api/me/approvals/${request.id}/options`, {}, bearer(token))
    assert.equal(options.status, 200, JSON.stringify(options.body))
    const credential = await personKey.getAssertion(options.body, { origin: server.url })
    const verified = await post(server.url, `/api/me/approvals/${request.id}/verify`, { credential }, bearer(token))
    assert.equal(verified.status, 204, JSON.stringify(verified.body))

    assert.equal(await run.exited, 0, run.output())
    const out = run.stdout()
    assert.match(out, new RegExp(`X-User-Id: +${personId}\\n`))
    assert.match(out, new RegExp(`X-Actor-Id: +${server.sampleAgent!.clientId}\\n`))
    assert.match(out, /GET http:\/\/localhost:\d+\/sample\/orders → 200/)
    assert.doesNotMatch(run.output(), /eyJ/, 'no token is printed')
  })

  it('a denial ends it with "<user> denied the request" (exit 1)', async () => {
    const run = runAgent(['--user', username, '--key', keyFile, 'Cancel order 42'])
    await waitFor(run, /waiting for /)
    const token = await personToken()
    const list = await call(server.url, 'GET', '/api/me/approvals', undefined, bearer(token))
    const request = list.body.find((a: { bindingMessage: string }) => a.bindingMessage === 'Cancel order 42')
    assert.equal((await call(server.url, 'DELETE', `/api/me/approvals/${request.id}`, undefined, bearer(token))).status, 204)
    assert.equal(await run.exited, 1)
    assert.match(run.output(), new RegExp(`agent: ${username} denied the request`))
  })

  it('clear errors: an unknown user, a missing key file, no service running; no message (usage)', async () => {
    const unknown = runAgent(['--user', 'nobody-here', '--key', keyFile, 'hello'])
    assert.equal(await unknown.exited, 1)
    assert.match(unknown.output(), /knows no enabled user "nobody-here": sign up on the page first/)

    const missing = runAgent(['--user', username, '--key', join(location, 'nope.json'), 'hello'])
    assert.equal(await missing.exited, 2)
    assert.match(missing.output(), /no agent key file at .*nope\.json: start the service with `npm start`/)

    const down = runAgent(['--user', username, '--key', keyFile, '--issuer', `http://localhost:${await freePort()}/api`, 'hello'])
    assert.equal(await down.exited, 1)
    assert.match(down.output(), /the passkey service does not answer at http:\/\/localhost:\d+: is `npm start` running\?/)

    const usage = runAgent(['--user', username, '--key', keyFile])
    assert.equal(await usage.exited, 2)
    assert.match(usage.output(), /usage: npm run agent -- --user <username> "<message>"/)
  })
})
