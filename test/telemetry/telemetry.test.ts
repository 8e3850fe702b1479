/**
 * Telemetry (docs/telemetry.md) with in-memory exporters against a real Azurite: the request
 * spans and their Table Storage children, the metrics, and that no token, username, client
 * address, user agent or raw path reaches an attribute.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SpanKind } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { MetricReader, type HistogramMetricData, type MetricData } from '@opentelemetry/sdk-metrics'
import { createTelemetry } from '../../shared/telemetry/otel.js'
import { SoftAuthenticator } from '../helpers/authenticator.js'
import { startAzurite, type Azurite } from '../helpers/azurite.js'
import { bearer, call, form, post, signUp } from '../helpers/client.js'
import { ORIGIN, startService, type TestService } from '../helpers/service.js'

/** Collects on demand (no timer): `collect()` returns what was recorded so far. */
class Reader extends MetricReader {
  protected override async onForceFlush() {}
  protected override async onShutdown() {}
}

let azurite: Azurite
let svc: TestService
const exporter = new InMemorySpanExporter()
const reader = new Reader()
let spans: ReadableSpan[]
let metrics: MetricData[]

const USERNAME = `telemetry${process.pid}`
const USER_AGENT = 'TelemetryProbe/9.9 (forbidden)'
/** Every value that must never appear in a span or metric. */
const forbidden: string[] = [USERNAME, USER_AGENT, '127.0.0.1']

before(async () => {
  azurite = await startAzurite()
  const telemetry = await createTelemetry({ spans: new SimpleSpanProcessor(exporter), metrics: reader })
  svc = await startService({ connectionString: azurite.connectionString, telemetry })

  const auth = new SoftAuthenticator()
  const up = await signUp(svc.url, auth, USERNAME)
  forbidden.push(up.tokens.access_token, up.tokens.refresh_token, up.tokens.id_token)
  // A sign-in, then the same assertion again: the second is a refused ceremony.
  const o = await post(svc.url, '/api/webauthn/authentication/options', { username: USERNAME })
  const credential = await auth.getAssertion(o.body, { origin: ORIGIN } as never)
  const signedIn = await post(svc.url, '/api/webauthn/authentication/verify', { credential })
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body))
  const replay = await post(svc.url, '/api/webauthn/authentication/verify', { credential })
  assert.equal(replay.status >= 400 && replay.status < 500, true, String(replay.status))
  forbidden.push(signedIn.body.access_token, signedIn.body.refresh_token)

  const refreshed = await form(svc.url, '/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: up.tokens.refresh_token })
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body))
  forbidden.push(refreshed.body.access_token, refreshed.body.refresh_token)
  assert.equal((await form(svc.url, '/api/oauth2/token', { grant_type: 'urn:made-up', x: '1' })).status, 400)

  const token = signedIn.body.access_token as string
  assert.equal((await post(svc.url, '/api/authz/check', { method: 'GET', path: `/orders/${USERNAME}` }, bearer(token))).body.status, 403)
  assert.equal((await post(svc.url, '/api/authz/check', { method: 'GET', path: '/orders/1' })).body.status, 401)
  assert.equal((await call(svc.url, 'DELETE', `/api/me/credentials/${up.credential.id}x`, undefined, { ...bearer(token), 'user-agent': USER_AGENT })).status >= 400, true)
  assert.equal((await call(svc.url, 'GET', `/api/nope/${USERNAME}`, undefined, { 'user-agent': USER_AGENT })).status, 404)

  spans = exporter.getFinishedSpans()
  metrics = (await reader.collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)
})
after(async () => {
  await svc?.close()
  await azurite?.stop()
})

const requests = () => spans.filter((s) => s.kind === SpanKind.SERVER)
const metric = (name: string) => metrics.find((m) => m.descriptor.name === name)
const points = (name: string) => (metric(name)?.dataPoints ?? []).map((p) => ({ attrs: p.attributes, value: p.value as number }))
const countOf = (name: string, attrs: Record<string, unknown>) =>
  points(name).filter((p) => Object.entries(attrs).every(([k, v]) => p.attrs[k] === v)).reduce((n, p) => n + p.value, 0)

describe('telemetry (in-memory exporters)', () => {
  it('one server span per request, named by method and route template, with its status', () => {
    const names = requests().map((s) => s.name)
    assert.ok(names.includes('POST /api/webauthn/registration/verify'), names.join(', '))
    assert.ok(names.includes('POST /api/authz/check'))
    assert.ok(names.includes('DELETE /api/me/credentials/:id'), names.join(', '))
    const unmatched = requests().find((s) => s.name === 'GET unmatched')
    assert.ok(unmatched, 'a 404 is recorded under `unmatched`, not its path')
    assert.equal(unmatched.attributes['http.response.status_code'], 404)
    const verify = requests().find((s) => s.name === 'POST /api/webauthn/registration/verify')!
    assert.deepEqual(verify.attributes, { 'http.request.method': 'POST', 'http.route': '/api/webauthn/registration/verify', 'http.response.status_code': 201 })
  })

  it('Table Storage round trips are client spans under their request: table, operation, status', () => {
    const storage = spans.filter((s) => s.kind === SpanKind.CLIENT)
    assert.ok(storage.length > 5)
    for (const s of storage) {
      assert.equal(s.attributes['db.system.name'], 'azure.tables')
      assert.match(String(s.attributes['db.collection.name']), /^(users|usernames|credentials|challenges|signingkeys|roles|audit)$/)
      assert.match(String(s.attributes['db.operation.name']), /^(read|replace|merge|delete|insert|query|transaction|table)$/)
      assert.match(String(s.attributes['db.response.status_code']), /^\d{3}$/)
      assert.deepEqual(Object.keys(s.attributes).sort(), ['db.collection.name', 'db.operation.name', 'db.response.status_code', 'db.system.name'])
    }
    const verify = requests().find((s) => s.name === 'POST /api/webauthn/registration/verify')!
    const children = storage.filter((s) => s.parentSpanContext?.spanId === verify.spanContext().spanId)
    assert.ok(children.some((s) => s.attributes['db.collection.name'] === 'challenges'), 'the challenge is consumed under the verify span')
    assert.ok(children.every((s) => s.spanContext().traceId === verify.spanContext().traceId))
  })

  it('counts authorizer decisions by status, ceremonies by outcome and code, token grants by type', () => {
    assert.equal(countOf('passkey.authz.decisions', { 'authz.status': 403 }), 1)
    assert.equal(countOf('passkey.authz.decisions', { 'authz.status': 401 }), 1)
    assert.equal(countOf('passkey.ceremonies', { ceremony: 'registration', outcome: 'success' }), 1)
    assert.equal(countOf('passkey.ceremonies', { ceremony: 'authentication', outcome: 'success' }), 1)
    const failed = points('passkey.ceremonies').filter((p) => p.attrs.outcome === 'failure')
    assert.equal(failed.length, 1)
    assert.equal(failed[0]!.attrs.ceremony, 'authentication')
    assert.match(String(failed[0]!.attrs['error.code']), /^[a-z_]+$/)
    assert.equal(countOf('passkey.token.grants', { grant_type: 'refresh_token', outcome: 'success' }), 1)
    assert.equal(countOf('passkey.token.grants', { grant_type: 'other', outcome: 'failure', error: 'unsupported_grant_type' }), 1)
  })

  it('records request durations in seconds by method, route template and status', () => {
    const h = metric('http.server.request.duration') as HistogramMetricData
    assert.equal(h.descriptor.unit, 's')
    const routes = h.dataPoints.map((p) => p.attributes['http.route'])
    assert.ok(routes.includes('/api/authz/check') && routes.includes('unmatched'))
    for (const p of h.dataPoints) {
      assert.deepEqual(Object.keys(p.attributes).sort(), ['http.request.method', 'http.response.status_code', 'http.route'])
      assert.ok(p.value.count >= 1 && p.value.sum! > 0 && p.value.sum! < 30)
    }
  })

  it('no token, username, client address, user agent or raw path in any span or metric', () => {
    const recorded = JSON.stringify([
      spans.map((s) => [s.name, s.attributes, s.events, s.resource.attributes]),
      metrics.map((m) => [m.descriptor, m.dataPoints.map((p) => p.attributes)]),
    ])
    for (const value of forbidden) assert.ok(value && !recorded.includes(value), `recorded ${value.slice(0, 24)}…`)
    assert.doesNotMatch(recorded, /\/api\/nope|credentials\/[A-Za-z0-9_-]{8,}/)
  })
})
