/**
 * The sample agent (`npm run agent -- --user <username> "<message>"`, docs/agents.md "Trying it"):
 * acts for a person the way any agent would, with the key `npm start` registered for it
 * (local/sampleAgent.ts, `.azurite/sample-agent.json`). It registers nothing itself.
 *
 *   1. asks by OpenID CIBA (POST bc-authorize: login_hint = --user, scope, binding_message = the
 *      message), authenticated with private_key_jwt (RFC 7523, ES256);
 *   2. prints where the person approves (the page) and polls the token endpoint (CIBA §7.3 /
 *      §11: every `interval`, 5 s more after each slow_down) until they approve or deny, or the
 *      request expires;
 *   3. calls the sample API through the dev gateway with the delegated token and prints what the
 *      backend saw: X-User-Id (the person) and X-Actor-Id (this agent).
 *
 * Options: --user (required), --scope (default "openid"), --path (default /sample/orders),
 * --key (default <AZURITE_LOCATION or .azurite>/sample-agent.json), --issuer and --gateway
 * (default: the URLs `npm start` wrote into the key file). Exit 0 when the call went through,
 * 1 when the person denied or the request failed, 2 for a usage or setup mistake.
 * No token is printed.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SignJWT, importJWK } from 'jose'
import type { SampleAgentFile } from '../local/sampleAgent.js'
import { jsonOrUndefined } from '../shared/util/json.js'

const CIBA = 'urn:openid:params:grant-type:ciba'
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

class Failed extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function options() {
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        user: { type: 'string' },
        scope: { type: 'string', default: 'openid' },
        path: { type: 'string', default: '/sample/orders' },
        key: { type: 'string' },
        issuer: { type: 'string' },
        gateway: { type: 'string' },
      },
    })
  } catch (e) {
    throw new Failed(`${(e as Error).message}\nusage: npm run agent -- --user <username> "<message>"`, 2)
  }
  const { values, positionals } = parsed
  const message = positionals.join(' ').trim()
  if (!values.user || !message) throw new Failed('usage: npm run agent -- --user <username> "<message>"  (the message is shown to the person)', 2)
  return { ...values, user: values.user, message }
}

function readKeyFile(path: string): SampleAgentFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Failed(`no agent key file at ${path}: start the service with \`npm start\` (it registers the sample agent and writes this file), or pass --key`, 2)
    throw new Failed(`cannot read ${path}: ${(e as Error).message}`, 2)
  }
  const f = jsonOrUndefined(text) as SampleAgentFile | undefined
  if (!f || typeof f.clientId !== 'string' || !f.privateJwk || typeof f.issuer !== 'string')
    throw new Failed(`${path} is not a sample agent key file (clientId, privateJwk, issuer): delete it and restart \`npm start\``, 2)
  return f
}

/** One HTTP call; a service that does not answer becomes a clear message. */
async function http(url: string, init: RequestInit, what: string) {
  let res: Response
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) })
  } catch {
    throw new Failed(`${what} does not answer at ${new URL(url).origin}: is \`npm start\` running?`)
  }
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: (jsonOrUndefined(text) ?? {}) as Record<string, any>, text }
}

async function main() {
  const opts = options()
  const keyPath = opts.key ?? join(process.env.AZURITE_LOCATION?.trim() || '.azurite', 'sample-agent.json')
  const file = readKeyFile(keyPath)
  const issuer = (opts.issuer ?? file.issuer).replace(/\/$/, '')
  const gateway = (opts.gateway ?? file.gatewayUrl)?.replace(/\/$/, '')
  const key = await importJWK(file.privateJwk, 'ES256')

  const discovery = await http(`${issuer}/.well-known/openid-configuration`, {}, 'the passkey service')
  if (discovery.status !== 200) throw new Failed(`discovery at ${issuer} answered ${discovery.status}: is --issuer right?`)
  const bcEndpoint = discovery.body.backchannel_authentication_endpoint as string | undefined
  const tokenEndpoint = discovery.body.token_endpoint as string
  if (!bcEndpoint) throw new Failed(`the service at ${issuer} does not offer CIBA (no backchannel_authentication_endpoint)`)

  /** private_key_jwt (RFC 7523 §3): aud = the issuer, a fresh jti each time. */
  const clientAuth = async () => {
    const now = Math.floor(Date.now() / 1000)
    const assertion = await new SignJWT({ jti: randomBytes(16).toString('base64url') })
      .setProtectedHeader({ alg: 'ES256', kid: file.kid })
      .setIssuer(file.clientId)
      .setSubject(file.clientId)
      .setAudience(issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(key)
    return { client_assertion_type: JWT_BEARER, client_assertion: assertion }
  }
  const post = async (url: string, params: Record<string, string>) =>
    http(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams({ ...params, ...(await clientAuth()) }) }, 'the passkey service')
  const oauthError = (r: { status: number; body: Record<string, any> }) =>
    `${r.body.error ?? r.status}${r.body.error_description ? `: ${r.body.error_description}` : ''}`

  // 1. Ask (CIBA §7.1).
  const asked = await post(bcEndpoint, { login_hint: opts.user, scope: opts.scope, binding_message: opts.message })
  if (asked.status !== 200) {
    switch (asked.body.error) {
      case 'unknown_user_id':
        throw new Failed(`the service knows no enabled user "${opts.user}": sign up on the page first (${file.pageUrl})`)
      case 'invalid_client':
      case 'unauthorized_client':
        throw new Failed(`the service does not accept this agent (${oauthError(asked)}); the key file may be from another Azurite: delete ${keyPath} and restart \`npm start\``)
      default:
        throw new Failed(`the request was refused: ${oauthError(asked)}`)
    }
  }
  const { auth_req_id: authReqId, expires_in: expiresIn } = asked.body as { auth_req_id: string; expires_in: number }
  let interval = Number(asked.body.interval ?? 5)
  console.log(`waiting for ${opts.user} to approve on ${file.pageUrl} (the request expires in ${expiresIn} s)`)

  // 2. Poll (CIBA §7.3, §11).
  let tokens: Record<string, any> | undefined
  const deadline = Date.now() + (expiresIn + 10) * 1000
  while (!tokens) {
    await sleep(interval * 1000)
    const r = await post(tokenEndpoint, { grant_type: CIBA, auth_req_id: authReqId })
    if (r.status === 200) tokens = r.body
    else if (r.body.error === 'authorization_pending') {
      if (Date.now() > deadline) throw new Failed(`the request expired before ${opts.user} approved it`)
    } else if (r.body.error === 'slow_down') interval += 5
    else if (r.body.error === 'access_denied') throw new Failed(`${opts.user} denied the request`)
    else if (r.body.error === 'expired_token') throw new Failed(`the request expired before ${opts.user} approved it`)
    else throw new Failed(`the token endpoint answered ${oauthError(r)}`)
  }
  console.log(`${opts.user} approved: delegated access token received (scope "${tokens.scope ?? opts.scope}", expires in ${tokens.expires_in} s)`)

  // 3. Call the sample API through the gateway.
  if (!gateway) throw new Failed('no gateway URL (the key file has none: was the dev gateway off?): pass --gateway', 2)
  const url = `${gateway}${opts.path}`
  const api = await http(url, { headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' } }, 'the dev gateway')
  console.log(`GET ${url} → ${api.status}`)
  if (api.status !== 200) {
    const hint =
      api.status === 403
        ? `: the call needs a role both ${opts.user} and the agent have (e.g. grant ${opts.user} "reader" on the page's administration section)`
        : ''
    throw new Failed(`the gateway refused the call${hint}${api.body.detail ? ` (${api.body.detail})` : ''}`)
  }
  console.log('the backend saw:')
  console.log(`  X-User-Id:    ${api.body.userId ?? '(none)'}`)
  console.log(`  X-Actor-Id:   ${api.body.actorId ?? '(none)'}`)
  console.log(`  X-User-Roles: ${api.body.roles ?? '(none)'}`)
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    if (e instanceof Failed) {
      console.error(`agent: ${e.message}`)
      process.exit(e.exitCode)
    }
    console.error('agent: failed:', e)
    process.exit(1)
  },
)
