/**
 * The audit log at scale: N writer processes (1, 2, 4, 8), each like one Functions instance with
 * its own AuditLog (group commit, cached head), appending against ONE Azurite for a fixed time
 * with CONCURRENCY requests in flight each. Reports events/s, transactions, lost races (retries)
 * and failed appends, then verifies the whole chain (every event there, in order, hashes intact).
 *
 *   npm run bench -- --audit [--seconds 5]
 *
 * A writer is this file run with `--worker` (a child process, so writers really race).
 */
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { AuditLog } from '../shared/audit/log.js'
import { deriveAuditKey } from '../shared/audit/chain.js'
import { verifyAuditChain } from '../shared/audit/verify.js'
import { loadConfig } from '../shared/config.js'
import { createTablesStore } from '../shared/store/tables.js'
import type { Store } from '../shared/store/types.js'
import { systemClock } from '../shared/util/clock.js'
import { startAzurite } from '../test/helpers/azurite.js'

// `--worker <connection string> <prefix> <kek> <startAt>` is how the run starts its writers.
const { values: flags, positionals } = parseArgs({
  options: { seconds: { type: 'string' }, worker: { type: 'boolean' } },
  strict: false,
  allowPositionals: true,
})
const SECONDS = typeof flags.seconds === 'string' ? Number(flags.seconds) : 5
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16)
const WRITERS = (process.env.BENCH_WRITERS ?? '1,2,4,8').split(',').map(Number)

function storeFor(connectionString: string, prefix: string, kek: string): { store: Store; key: Promise<CryptoKey> } {
  const config = loadConfig({ TABLES_CONNECTION_STRING: connectionString, TABLE_PREFIX: prefix, KEY_ENCRYPTION_KEY: kek }, { local: true })
  return { store: createTablesStore({ config }), key: deriveAuditKey(config.keyEncryptionKey!) }
}

/** One writer: appends for SECONDS, then prints one JSON line of counts. */
async function worker([connectionString, prefix, kek, startAt]: string[]) {
  const { store, key } = storeFor(connectionString!, prefix!, kek!)
  let transactions = 0
  let lostRaces = 0
  const counted: Store = {
    ...store,
    appendAudit: async (events, head) => {
      transactions++
      try {
        return await store.appendAudit(events, head)
      } catch (e) {
        lostRaces++
        throw e
      }
    },
  }
  const log = new AuditLog({ store: counted, clock: systemClock, key, logError: () => {} })
  // Start together: every writer waits for the same moment.
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())))
  const until = Date.now() + SECONDS * 1000
  let ok = 0
  let failed = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, lane) => {
      while (Date.now() < until) {
        try {
          await log.append({ type: 'user.signed_in', actor: { userId: `w${process.pid}l${lane}` }, target: { sessionId: randomBytes(16).toString('base64url') }, detail: { audience: 'api://default' } })
          ok++
        } catch {
          failed++
        }
      }
    }),
  )
  console.log(JSON.stringify({ ok, failed, transactions, lostRaces }))
}

async function main() {
  const azurite = await startAzurite()
  const kek = randomBytes(32).toString('base64')
  const rows: Record<string, unknown>[] = []
  try {
    for (const n of WRITERS) {
      const prefix = `audit${n}x${process.pid}`
      const { store, key } = storeFor(azurite.connectionString, prefix, kek)
      await store.init()
      const startAt = Date.now() + 3000 // time for the writers to load
      const children = Array.from({ length: n }, () =>
        spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', azurite.connectionString, prefix, kek, String(startAt), '--seconds', String(SECONDS)], {
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      )
      const results = await Promise.all(
        children.map(
          (child) =>
            new Promise<{ ok: number; failed: number; transactions: number; lostRaces: number }>((resolve, reject) => {
              createInterface({ input: child.stdout! }).once('line', (l) => resolve(JSON.parse(l)))
              child.once('exit', (code) => code && reject(new Error(`writer exited ${code}`)))
            }),
        ),
      )
      const sum = (k: keyof (typeof results)[number]) => results.reduce((a, r) => a + r[k], 0)
      const verified = await verifyAuditChain({ store, key: await key })
      const row = {
        writers: n,
        eventsPerSecond: sum('ok') / SECONDS,
        events: sum('ok'),
        failed: sum('failed'),
        transactions: sum('transactions'),
        lostRaces: sum('lostRaces'),
        eventsPerTransaction: sum('ok') / Math.max(1, sum('transactions') - sum('lostRaces')),
        chain: verified.ok && verified.events === sum('ok') ? `intact, ${verified.events} events` : `PROBLEM ${JSON.stringify(verified.problem ?? { events: verified.events })}`,
      }
      rows.push(row)
    }
  } finally {
    await azurite.stop()
  }
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}; one Azurite (in memory) on loopback; each writer a process with ${CONCURRENCY} appends in flight, ${SECONDS} s.`)
  console.log('')
  console.log('| writers | events/s | events | failed appends | transactions | lost races (retried) | events per committed transaction | chain after the run |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const r of rows as any[])
    console.log(`| ${r.writers} | ${r.eventsPerSecond.toFixed(0)} | ${r.events} | ${r.failed} | ${r.transactions} | ${r.lostRaces} | ${r.eventsPerTransaction.toFixed(1)} | ${r.chain} |`)
  mkdirSync('.bench', { recursive: true })
  writeFileSync('.bench/audit.json', JSON.stringify(rows, null, 2))
  if (rows.some((r: any) => r.failed > 0 || !String(r.chain).startsWith('intact'))) process.exitCode = 1
}

if (flags.worker) {
  worker(positionals.slice(0, 4)).catch((e) => {
    console.error(e)
    process.exit(1)
  })
} else
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
