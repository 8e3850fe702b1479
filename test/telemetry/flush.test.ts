/**
 * Telemetry is sent before the process stops (docs/telemetry.md): spans are batched for 5 s and
 * metrics exported every 60 s, so a worker that stops (scale-in, deployment, Ctrl-C) would lose
 * the last of them. Service.flush (called by the local server's close and the Functions host's
 * appTerminate hook) pushes both pipelines out, and a failing exporter does not stop the stop.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base'
import { MetricReader } from '@opentelemetry/sdk-metrics'
import { createService } from '../../shared/bootstrap.js'
import { createMemoryStore } from '../../shared/store/memory.js'
import { createTelemetry } from '../../shared/telemetry/otel.js'

class CountingReader extends MetricReader {
  flushes = 0
  protected override async onForceFlush() {
    this.flushes++
  }
  protected override async onShutdown() {}
}
const env = { KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), RATE_LIMIT: '0' }

describe('Service.flush: batched telemetry goes out before the process stops', () => {
  it('spans waiting in the batch are exported, and the metric reader is flushed', async () => {
    const exporter = new InMemorySpanExporter()
    const reader = new CountingReader()
    // A batch that would wait a minute: only a flush sends it now.
    const spans = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60_000 })
    const telemetry = await createTelemetry({ spans, metrics: reader })
    const service = await createService({ env, local: true, store: createMemoryStore(), telemetry })
    assert.equal((await service.app.request('/api/health')).status, 200)
    assert.equal(exporter.getFinishedSpans().length, 0, 'still batched')
    await service.flush()
    assert.ok(exporter.getFinishedSpans().some((s) => s.name === 'GET /api/health'), 'the request span was exported')
    assert.equal(reader.flushes, 1)
    await spans.shutdown()
  })

  it('an exporter that fails: flush resolves all the same (stopping goes on)', async () => {
    const failing = { flushes: 0 }
    const telemetry = { enabled: true, span: (_n: string, _k: string, _a: object, fn: (s: any) => Promise<any>) => fn({ set() {}, rename() {}, fail() {} }), count() {}, record() {}, flush: async () => { failing.flushes++; throw new Error('exporter down at https://example.invalid') } }
    const service = await createService({ env, local: true, store: createMemoryStore(), telemetry: telemetry as never })
    const logged: string[] = []
    const original = console.error
    console.error = (...args: unknown[]) => void logged.push(args.join(' '))
    try {
      await service.flush()
    } finally {
      console.error = original
    }
    assert.equal(failing.flushes, 1)
    assert.deepEqual(logged, ['telemetry flush failed: Error'], 'the error name only, never its message')
  })
})
