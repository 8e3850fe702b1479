/**
 * Seeding the sample agent (local/sampleAgent.ts) on the memory store: a key file that cannot be
 * written leaves no registered agent behind (nobody would hold its key, and the next start would
 * register another); a writable directory gets exactly one agent and a file naming it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { seedSampleAgent, sampleAgentPath } from '../../local/sampleAgent.js'
import { loadConfig } from '../../shared/config.js'
import { createCore } from '../../shared/core.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import { ManualClock } from '../../shared/util/clock.js'

const dirs: string[] = []
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
function fresh() {
  const store = createMemoryStore()
  const config = loadConfig({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, { local: true })
  return { store, core: createCore({ config, store, clock: new ManualClock(Date.now()), log: () => {} }) }
}
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'agent-seed-'))
  dirs.push(d)
  return d
}

describe('seedSampleAgent: the registration and its key file go together', () => {
  it('the key file cannot be written (its path is a non-empty directory): the error surfaces and no agent stays registered', async () => {
    const { store, core } = fresh()
    const dir = tmp()
    mkdirSync(sampleAgentPath(dir))
    writeFileSync(join(sampleAgentPath(dir), 'in-the-way'), '')
    await assert.rejects(seedSampleAgent(core, { dir, pageUrl: 'http://localhost:7071/' }))
    assert.deepEqual((await store.listClients({ limit: 10 })).clients, [], 'the registration was taken back')
    assert.deepEqual(readdirSync(dir), ['sample-agent.json'], 'no temporary file with the private key left behind')
  })

  it('a writable directory: one agent, named by the file; seeding again registers nothing more', async () => {
    const { store, core } = fresh()
    const dir = tmp()
    const first = await seedSampleAgent(core, { dir, pageUrl: 'http://localhost:7071/' })
    assert.equal(first.created, true)
    assert.equal(JSON.parse(readFileSync(sampleAgentPath(dir), 'utf8')).clientId, first.clientId)
    const again = await seedSampleAgent(core, { dir, pageUrl: 'http://localhost:7071/' })
    assert.deepEqual([again.created, again.clientId], [false, first.clientId])
    assert.equal((await store.listClients({ limit: 10 })).clients.length, 1)
  })
})
