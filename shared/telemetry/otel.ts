/**
 * The OpenTelemetry side of shared/telemetry.ts: a tracer and a meter of our own, exported to
 * Azure Monitor by @azure/monitor-opentelemetry-exporter. Imported only when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set; in the Functions bundle it is telemetry.cjs beside
 * index.cjs (scripts/build.mjs BESIDE).
 *
 * Not `useAzureMonitor` (@azure/monitor-opentelemetry, docs/telemetry.md): that starts the whole
 * Node SDK with HTTP and Azure SDK auto-instrumentation, whose spans carry raw URLs (the Table
 * row keys in them are personal data, a SAS would be a key) and which must load before everything
 * else, on every cold start. Here nothing is patched: the spans are the ones the service makes.
 *
 * The packages are imported inside the functions, not at the top: the local server's bundle
 * keeps packages external and would otherwise import them at startup, setting or not.
 */
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { MetricReader } from '@opentelemetry/sdk-metrics'
import type { Config } from '../config.js'
import { METRICS, type Telemetry } from '../telemetry.js'

export interface Pipelines {
  spans: SpanProcessor
  metrics: MetricReader
}

/** Seconds: from a storage point read (≈ 5 ms) to the Functions host's slowest answers. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

let contextReady = false

/** A Telemetry over these span and metric pipelines (tests pass in-memory ones). */
export async function createTelemetry({ spans, metrics }: Pipelines): Promise<Telemetry & { flush(): Promise<void> }> {
  const [api, { BasicTracerProvider }, { MeterProvider }, { resourceFromAttributes }, { AsyncLocalStorageContextManager }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/context-async-hooks'),
  ])
  // The active span follows the request through awaits (storage spans become its children).
  // Process-wide and registered once; a second registration would be refused anyway.
  if (!contextReady) {
    contextReady = api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  }
  // service.name becomes the cloud role name; no resource detectors (host names, process args).
  const resource = resourceFromAttributes({ 'service.name': 'passkey-edge' })
  const tracer = new BasicTracerProvider({ resource, spanProcessors: [spans] }).getTracer('passkey-edge')
  const meterProvider = new MeterProvider({ resource, readers: [metrics] })
  const meter = meterProvider.getMeter('passkey-edge')
  const counters = new Map<string, ReturnType<typeof meter.createCounter>>()
  const histograms = new Map<string, ReturnType<typeof meter.createHistogram>>()
  for (const [name, m] of Object.entries(METRICS)) {
    if (m.kind === 'counter') counters.set(name, meter.createCounter(name, { unit: m.unit, description: m.description }))
    else histograms.set(name, meter.createHistogram(name, { unit: m.unit, description: m.description, advice: { explicitBucketBoundaries: DURATION_BUCKETS } }))
  }
  const KIND = { server: api.SpanKind.SERVER, client: api.SpanKind.CLIENT }
  return {
    enabled: true,
    span(name, kind, attributes, fn) {
      return tracer.startActiveSpan(name, { kind: KIND[kind], attributes }, async (span) => {
        const handle = {
          set: (more: Record<string, string | number | boolean>) => void span.setAttributes(more),
          rename: (to: string) => void span.updateName(to),
          fail: (type: string) => {
            span.setStatus({ code: api.SpanStatusCode.ERROR })
            span.setAttribute('error.type', type)
          },
        }
        try {
          return await fn(handle)
        } catch (err) {
          // The error's name only: messages may carry request values.
          handle.fail((err as { name?: unknown } | null)?.name === undefined ? 'Error' : String((err as Error).name))
          throw err
        } finally {
          span.end()
        }
      })
    },
    count: (metric, attrs) => counters.get(metric)!.add(1, attrs),
    record: (metric, value, attrs) => histograms.get(metric)!.record(value, attrs),
    async flush() {
      await Promise.all([spans.forceFlush(), meterProvider.forceFlush()])
    },
  }
}

/**
 * The Azure Monitor pipelines: spans in batches (every 5 s), metrics every 60 s. With
 * `Authorization=AAD` the exporters authenticate with Entra ID (the managed identity, or the one
 * ClientId names), from the identity module the store loads with managed identity too.
 */
export async function azureMonitorExporters(ai: NonNullable<Config['applicationInsights']>): Promise<Pipelines> {
  const [{ AzureMonitorTraceExporter, AzureMonitorMetricExporter }, { BatchSpanProcessor }, { PeriodicExportingMetricReader }] = await Promise.all([
    import('@azure/monitor-opentelemetry-exporter'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-metrics'),
  ])
  const credential = ai.aad
    ? await import('@azure/identity').then(
        ({ DefaultAzureCredential }) => new DefaultAzureCredential(ai.aad?.clientId ? { managedIdentityClientId: ai.aad.clientId } : {}),
      )
    : undefined
  const options = { connectionString: ai.connectionString, ...(credential ? { credential } : {}) }
  return {
    spans: new BatchSpanProcessor(new AzureMonitorTraceExporter(options)),
    metrics: new PeriodicExportingMetricReader({ exporter: new AzureMonitorMetricExporter(options), exportIntervalMillis: 60_000 }),
  }
}
