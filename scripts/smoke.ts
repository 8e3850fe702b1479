/**
 * Smoke test for any deployment (`npm run smoke -- --base <url> [--gateway <url>]
 * [--origin <url>] [--function-key <key>] [--invitation <token>] [--username <name>]`): the whole
 * chain as a client written from CONTRACT.md would walk it, with a software passkey. One line per
 * step; exit 1 at the first failure (the line says what was expected and what came back).
 *
 *   1. health, discovery, JWKS
 *   2. sign-up (or, with --invitation, enrolment) with a new software passkey
 *   3. the access token verified independently: node:crypto against the JWKS, typ, iss, aud, exp
 *   4. sign-in with that passkey, by username
 *   5. a refresh grant
 *   6. the authorizer's decision for the token (locally the loopback caller is allowed; in Azure
 *      pass the function key)
 *   7. with --gateway: GET /sample/orders through the gateway (a decision: 200 or 403, not 401/5xx)
 *   8. sign-out: the refresh token revoked (RFC 7009), then refused
 *
 * The passkey's origin defaults to the base URL's origin (the page's). Nothing is left behind but
 * the account it made (name `smoke-<random>` unless --username).
 */
import { parseArgs } from 'node:util'
import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto'
import { jsonOrUndefined } from '../shared/util/json.js'
import { SoftAuthenticator } from '../test/helpers/authenticator.js'

const FLAGS = ['base', 'gateway', 'origin', 'function-key', 'invitation', 'username'] as const
const { values: flags } = parseArgs({
  options: Object.fromEntries(FLAGS.map((name) => [name, { type: 'string' }])) as Record<(typeof FLAGS)[number], { type: 'string' }>,
  strict: false,
})
const opt = (name: (typeof FLAGS)[number]) => {
  const v = flags[name]
  return typeof v === 'string' ? v : undefined
}
const base = (opt('base') ?? 'http://localhost:7071').replace(/\/$/, '')
const gateway = opt('gateway')?.replace(/\/$/, '')
const origin = opt('origin') ?? new URL(base).origin
const functionKey = opt('function-key')
const invitation = opt('invitation')
const username = opt('username') ?? `smoke-${randomBytes(4).toString('hex')}`

class StepFailed extends Error {}

async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const init: RequestInit = { method, headers: { accept: 'application/json', ...headers }, signal: AbortSignal.timeout(15_000) }
  if (typeof body === 'string') init.body = body
  else if (body !== undefined) {
    init.body = JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
  }
  const res = await fetch(url, init)
  const text = await res.text()
  const json: any = jsonOrUndefined(text)
  return { status: res.status, json, text, headers: res.headers }
}

function expect(cond: unknown, what: string): asserts cond {
  if (!cond) throw new StepFailed(what)
}

function expectStatus(r: { status: number; text: string }, status: number | number[], what: string) {
  const ok = Array.isArray(status) ? status.includes(r.status) : r.status === status
  expect(ok, `${what}: expected ${status}, got ${r.status} ${r.text.slice(0, 300)}`)
}

const form = (params: Record<string, string>) => ({ body: new URLSearchParams(params).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })

async function main() {
  const steps: [string, () => Promise<string | void>][] = []
  const step = (name: string, fn: () => Promise<string | void>) => steps.push([name, fn])
  let meta: any
  let jwks: any
  const auth = new SoftAuthenticator()
  let tokens: any
  let accessToken = ''

  step('health', async () => {
    expectStatus(await http('GET', `${base}/api/health`), 200, 'GET /api/health')
  })
  step('discovery', async () => {
    const r = await http('GET', `${base}/api/.well-known/openid-configuration`)
    expectStatus(r, 200, 'discovery')
    meta = r.json
    for (const k of ['issuer', 'token_endpoint', 'jwks_uri', 'revocation_endpoint']) expect(typeof meta?.[k] === 'string', `discovery has ${k}`)
    return `issuer ${meta.issuer}`
  })
  step('JWKS', async () => {
    const r = await http('GET', meta.jwks_uri)
    expectStatus(r, 200, 'JWKS')
    jwks = r.json
    expect(Array.isArray(jwks?.keys) && jwks.keys.length > 0, 'JWKS lists keys')
    expect(jwks.keys.every((k: any) => k.kid && !('d' in k)), 'JWKS keys have kids and no private members')
    return `${jwks.keys.length} keys`
  })
  step(invitation ? 'enrol with the invitation' : 'sign up', async () => {
    const o = await http('POST', `${base}/api/webauthn/registration/options`, invitation ? { invitation } : { username })
    expectStatus(o, 200, 'registration options')
    const credential = await auth.createCredential(o.json, { origin })
    const v = await http('POST', `${base}/api/webauthn/registration/verify`, { credential })
    expectStatus(v, 201, 'registration verify')
    expect(v.json?.tokens?.access_token, 'sign-up answers tokens')
    tokens = v.json.tokens
    accessToken = tokens.access_token
    return `user ${v.json.user.id} (${v.json.user.username})`
  })
  step('token verified independently', async () => {
    const [h, p, s] = accessToken.split('.') as [string, string, string]
    const header = JSON.parse(Buffer.from(h, 'base64url').toString())
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
    expect(header.typ === 'at+jwt', `typ at+jwt (got ${header.typ})`)
    const jwk = jwks.keys.find((k: any) => k.kid === header.kid)
    expect(jwk, `kid ${header.kid} is in the JWKS`)
    const key = createPublicKey({ key: jwk, format: 'jwk' })
    const data = Buffer.from(`${h}.${p}`)
    const sig = Buffer.from(s, 'base64url')
    const ok =
      header.alg === 'RS256'
        ? nodeVerify('sha256', data, key, sig)
        : header.alg === 'PS256'
          ? nodeVerify('sha256', data, { key, padding: 6, saltLength: 32 }, sig)
          : header.alg === 'ES256' && nodeVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)
    expect(ok, `the ${header.alg} signature verifies with node:crypto`)
    expect(payload.iss === meta.issuer, `iss is the issuer (got ${payload.iss})`)
    expect(typeof payload.aud === 'string' && payload.aud, 'aud is set')
    expect(payload.exp * 1000 > Date.now(), 'not expired')
    return `${header.alg}, aud ${payload.aud}, acr ${payload.acr}`
  })
  step('sign in', async () => {
    // Usernameless after an invitation (the invited name is the invitation's), else by username.
    const o = await http('POST', `${base}/api/webauthn/authentication/options`, invitation ? {} : { username })
    expectStatus(o, 200, 'authentication options')
    const credential = await auth.getAssertion(o.json, { origin })
    const v = await http('POST', `${base}/api/webauthn/authentication/verify`, { credential })
    expectStatus(v, 200, 'authentication verify')
    tokens = v.json
    accessToken = tokens.access_token
  })
  step('refresh', async () => {
    const f = form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })
    const r = await http('POST', meta.token_endpoint, f.body, f.headers)
    expectStatus(r, 200, 'refresh grant')
    expect(r.json.refresh_token && r.json.refresh_token !== tokens.refresh_token, 'the refresh token rotated')
    tokens = r.json
    accessToken = tokens.access_token
  })
  step('authorizer', async () => {
    const headers: Record<string, string> = { authorization: `Bearer ${accessToken}` }
    if (functionKey) headers['x-functions-key'] = functionKey
    const r = await http('POST', `${base}/api/authz/check`, { method: 'GET', path: '/orders' }, headers)
    expectStatus(r, 200, 'the authorizer decides')
    expect(typeof r.json?.allow === 'boolean' && [200, 403].includes(r.json.status), `a decision for a valid token (got ${r.text.slice(0, 200)})`)
    return `allow ${r.json.allow}, status ${r.json.status}, ttl ${r.json.ttl}`
  })
  if (gateway)
    step('through the gateway', async () => {
      const r = await http('GET', `${gateway}/sample/orders`, undefined, { authorization: `Bearer ${accessToken}` })
      expectStatus(r, [200, 403], 'GET /sample/orders through the gateway')
      return `${r.status}`
    })
  step('sign out', async () => {
    const f = form({ token: tokens.refresh_token, token_type_hint: 'refresh_token' })
    expectStatus(await http('POST', meta.revocation_endpoint, f.body, f.headers), 200, 'revocation')
    const g = form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })
    const again = await http('POST', meta.token_endpoint, g.body, g.headers)
    expectStatus(again, 400, 'the revoked refresh token is refused')
  })

  for (const [name, fn] of steps) {
    const t0 = performance.now()
    try {
      const detail = await fn()
      console.log(`ok   ${name} (${Math.round(performance.now() - t0)} ms)${detail ? `: ${detail}` : ''}`)
    } catch (e) {
      console.log(`FAIL ${name}: ${e instanceof StepFailed ? e.message : e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
      process.exit(1)
    }
  }
  console.log(`smoke test passed against ${base}${gateway ? ` and ${gateway}` : ''}`)
}

void main()
