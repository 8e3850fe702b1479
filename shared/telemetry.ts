/**
 * What the service measures (docs/telemetry.md), as three calls that routes and the store make
 * whether or not telemetry is on. Without APPLICATIONINSIGHTS_CONNECTION_STRING they are the
 * no-ops below and no OpenTelemetry code is loaded; with it, shared/telemetry/otel.ts (a file of
 * its own beside the Functions bundle, scripts/build.mjs BESIDE) exports to Azure Monitor.
 *
 * Attributes are low-cardinality facts only: route templates, statuses, error codes, grant types,
 * table names. Never a token, username, client address, user agent or raw path: anything sent
 * here ends up in a workspace that more people read than the audit log's.
 */
import type { Config } from './config.js'

export type Attrs = Record<string, string | number | boolean>

/** What a span's callback may add once it knows the outcome. */
export interface SpanHandle {
  set(attrs: Attrs): void
  rename(name: string): void
  /** Marks the span failed (an Application Insights failure), with a type such as `5xx`. */
  fail(type: string): void
}

/** Every metric, with its instrument, unit and meaning: nothing else can be counted. */
export const METRICS = {
  'http.server.request.duration': { kind: 'histogram', unit: 's', description: 'Request duration by method, route template and status' },
  'passkey.authz.decisions': { kind: 'counter', unit: '{decision}', description: 'Authorizer decisions by status (200, 401, 403)' },
  'passkey.ceremonies': { kind: 'counter', unit: '{ceremony}', description: 'WebAuthn ceremony verifies by ceremony, outcome and error code' },
  'passkey.token.grants': { kind: 'counter', unit: '{request}', description: 'Token endpoint requests by grant type, outcome and error' },
} as const

export type MetricName = keyof typeof METRICS
type Of<K extends 'counter' | 'histogram'> = { [M in MetricName]: (typeof METRICS)[M]['kind'] extends K ? M : never }[MetricName]

export interface Telemetry {
  /** false for the no-op: callers skip work whose only use is an attribute. */
  readonly enabled: boolean
  /** Runs `fn` in a span (the active one while it runs, so storage spans nest under requests). */
  span<T>(name: string, kind: 'server' | 'client', attrs: Attrs, fn: (span: SpanHandle) => Promise<T>): Promise<T>
  count(metric: Of<'counter'>, attrs: Attrs): void
  record(metric: Of<'histogram'>, value: number, attrs: Attrs): void
  /** Sends what is batched (spans every 5 s, metrics every 60 s) now: before the process stops. */
  flush?(): Promise<void>
}

const NO_SPAN: SpanHandle = { set() {}, rename() {}, fail() {} }

export const noTelemetry: Telemetry = {
  enabled: false,
  span: (_name, _kind, _attrs, fn) => fn(NO_SPAN),
  count() {},
  record() {},
}

/**
 * The service's telemetry: the no-op unless APPLICATIONINSIGHTS_CONNECTION_STRING is set, when
 * the OpenTelemetry module is imported (only then: its packages are ≈ 1 MiB to parse).
 */
export async function loadTelemetry(config: Config): Promise<Telemetry> {
  const ai = config.applicationInsights
  if (!ai) return noTelemetry
  const { createTelemetry, azureMonitorExporters } = await import('./telemetry/otel.js')
  return createTelemetry(await azureMonitorExporters(ai))
}

/** The grant types counted by name; any other value a client sends is `other` (bounded cardinality). */
const GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials', 'urn:openid:params:grant-type:ciba', 'urn:ietf:params:oauth:grant-type:token-exchange'])
export const grantLabel = (grant: string | undefined): string => (grant && GRANTS.has(grant) ? grant : 'other')
