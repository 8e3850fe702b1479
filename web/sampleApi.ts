/**
 * "Try the sample API": calls the sample API through the gateway (locally the dev gateway, the
 * APIM stand-in) with the access token, and shows whether the gateway let the call through.
 * The gateway validates the token and asks the authorizer (POST /api/authz/check) about the
 * method and path, with live roles: an administrator's change flips the answer.
 *
 * Step-up (CONTRACT v2, RFC 9470): when a permission needs a more recent sign-in (`maxAge`) or a
 * stronger passkey (`acr`), the gateway answers 401 with `WWW-Authenticate: Bearer
 * error="insufficient_user_authentication", …`. Refreshing cannot help (a refreshed token keeps
 * its sign-in time), so the view offers "Confirm with your passkey": a passkey sign-in that
 * replaces the session, then the same call again with the fresh token.
 */
import { Notice, append, focusOn, h, type Child } from './dom.js'
import { explain } from './explain.js'
import { currentAccessToken, refresh, tokenIsBound } from './session.js'
import { proof, tookNonce } from './dpop.js'
import { SAMPLE_API_SUFFIX, SAMPLE_OPERATIONS } from '../shared/sampleApi.js'

export interface Operation {
  method: 'GET' | 'POST' | 'DELETE'
  path: string
  what: string
}

/** Operations of the sample API (shared/sampleApi.ts), as the gateway publishes them. */
export const OPERATIONS: readonly Operation[] = SAMPLE_OPERATIONS.map(({ method, example, what }) => ({
  method,
  path: `/${SAMPLE_API_SUFFIX}${example}`,
  what,
}))

/**
 * The gateway's own refusals: how each reads, and the reason shown when its problem body gives
 * none (401 and 403 from the authorizer's answer, 503 when it fails closed).
 */
const REFUSALS: Partial<Record<number, { kind: 'denied' | 'unavailable'; headline: (status: string) => string; reason: string }>> = {
  401: { kind: 'denied', headline: (s) => `Denied: ${s}.`, reason: 'The gateway did not accept the access token.' },
  403: { kind: 'denied', headline: (s) => `Denied: ${s}.`, reason: 'None of your roles permits this method and path.' },
  503: {
    kind: 'unavailable',
    headline: (s) => `The gateway could not get a decision: ${s}.`,
    reason: 'It fails closed when the authorizer does not answer.',
  },
}

export interface SampleApiDeps {
  /** The gateway's base URL, or undefined when this deployment names none. */
  gatewayUrl: string | undefined
  buttons: HTMLElement
  result: HTMLElement
  notice: Notice
  /**
   * A passkey sign-in of the signed-in account that replaces the page's session (the page's
   * step-up, main.ts); throws when cancelled or refused. Without it, no step-up is offered.
   */
  stepUp?: (notice: Notice) => Promise<void>
}

/** What an RFC 9470 §3 challenge asks for, or undefined when the header is not one. */
export function stepUpChallenge(header: string | null): { acrValues?: string; maxAge?: number } | undefined {
  if (!header || !/^Bearer\b/i.test(header) || !/\berror="insufficient_user_authentication"/.test(header)) return undefined
  const acr = /\bacr_values="([^"]*)"/.exec(header)?.[1]
  const maxAge = /\bmax_age=(\d+)/.exec(header)?.[1]
  return { ...(acr ? { acrValues: acr } : {}), ...(maxAge ? { maxAge: Number(maxAge) } : {}) }
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
}

export class SampleApiView {
  constructor(private readonly d: SampleApiDeps) {
    if (!d.gatewayUrl) {
      d.buttons.replaceChildren(
        h(
          'p',
          { class: 'muted' },
          'This deployment does not tell the page where its API gateway is, so there is nothing to try here. Locally, ',
          h('code', {}, 'npm start'),
          ' runs a gateway next to the service.',
        ),
      )
      return
    }
    d.buttons.replaceChildren(
      ...OPERATIONS.map((op) =>
        h(
          'button',
          { type: 'button', class: 'op', onclick: () => void this.call(op) },
          h('span', { class: `method method-${op.method.toLowerCase()}` }, op.method),
          ' ',
          h('code', {}, op.path),
          h('span', { class: 'op-what' }, op.what),
        ),
      ),
    )
  }

  async call(op: Operation): Promise<void> {
    const { gatewayUrl, result, notice } = this.d
    notice.clear()
    if (!gatewayUrl) return
    const url = gatewayUrl + op.path
    result.replaceChildren(
      h('p', { class: 'verdict verdict-busy' }, `Calling ${op.method} ${op.path}…`),
    )
    let res: Response
    try {
      res = await this.send(op, url)
      // An expired access token: refresh once and call again (a new token also skips any cached
      // decision). Not for a step-up: the refreshed token would keep the same sign-in time.
      if (res.status === 401 && !stepUpChallenge(res.headers.get('www-authenticate'))) {
        await refresh().catch(() => {})
        res = await this.send(op, url)
      }
    } catch {
      this.show('unavailable', 'Gateway not running.', [
        `Nothing answered at ${gatewayUrl}. Start it with `,
        h('code', {}, 'npm start'),
        ' (it runs the gateway next to the service), then try again.',
      ])
      return
    }
    const text = await res.text()
    let body: unknown = text
    try {
      body = text ? JSON.parse(text) : ''
    } catch {}
    const status = `${res.status} ${REASONS[res.status] ?? res.statusText}`.trim()
    const problem = (typeof body === 'object' && body !== null ? body : {}) as Record<
      string,
      unknown
    >
    const detail = [problem.title, problem.detail]
      .filter((x) => typeof x === 'string' && x)
      .join(': ')
    const refusal = REFUSALS[res.status]
    const stepUp = res.status === 401 ? stepUpChallenge(res.headers.get('www-authenticate')) : undefined
    if (stepUp && this.d.stepUp) this.offerStepUp(op, status, stepUp, body)
    else if (res.ok)
      this.show(
        'allowed',
        `Allowed: ${op.method} ${op.path} answered ${status}.`,
        'The gateway checked your token and your roles permit this call.',
        body,
      )
    else if (refusal)
      this.show(refusal.kind, refusal.headline(status), detail || refusal.reason, body)
    else this.show('denied', `${op.method} ${op.path} answered ${status}.`, detail, body)
  }

  /** The 401 step-up: why, and a button that signs in with a passkey and retries the call. */
  private offerStepUp(op: Operation, status: string, need: { acrValues?: string; maxAge?: number }, body: unknown): void {
    const why = [
      need.maxAge !== undefined ? `a sign-in within the last ${need.maxAge} seconds` : '',
      need.acrValues ? `a passkey of level ${need.acrValues} (a device-bound security key whose model the service trusts)` : '',
    ]
      .filter(Boolean)
      .join(' and ')
    const button = h('button', { type: 'button', class: 'step-up' }, 'Confirm with your passkey')
    button.addEventListener('click', () => void this.confirm(op, button))
    this.show('denied', `${op.method} ${op.path} needs you to confirm it is you: ${status}.`, `This call needs ${why || 'a more recent sign-in'}.`, body)
    append(this.d.result, h('p', {}, button))
  }

  private async confirm(op: Operation, button: HTMLButtonElement): Promise<void> {
    const { notice, stepUp } = this.d
    if (!stepUp) return
    button.disabled = true
    try {
      await stepUp(notice)
    } catch (e) {
      button.disabled = false
      const { title, detail } = explain(e)
      notice.show('error', title, detail)
      return
    }
    notice.clear()
    await this.call(op)
  }

  /**
   * The call through the gateway. With a DPoP-bound token (the page's own, RFC 9449), `DPoP` and a
   * proof by the page's key for this method and URL; a `use_dpop_nonce` 401 is retried once.
   */
  private async send(op: Operation, url: string): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { accept: 'application/json' }
      const token = currentAccessToken()
      const p = token && tokenIsBound() ? await proof(op.method, url, token) : undefined
      if (token) headers.authorization = `${p ? 'DPoP' : 'Bearer'} ${token}`
      if (p) headers.dpop = p
      if (op.method === 'POST') headers['content-type'] = 'application/json'
      const res = await fetch(url, {
        method: op.method,
        headers,
        body: op.method === 'POST' ? JSON.stringify({ item: 'sample' }) : undefined,
        credentials: 'omit',
        cache: 'no-store',
      })
      if (p && tookNonce(res, url) && attempt === 1) continue
      return res
    }
  }

  private show(
    kind: 'allowed' | 'denied' | 'unavailable',
    title: string,
    detail?: Child,
    body?: unknown,
  ): void {
    const { result } = this.d
    const mark = kind === 'allowed' ? '✓' : kind === 'denied' ? '✕' : '!'
    result.replaceChildren()
    append(
      result,
      h(
        'p',
        { class: `verdict verdict-${kind}` },
        h('span', { class: 'verdict-mark', 'aria-hidden': 'true' }, mark),
        ' ',
        title,
      ),
      detail ? h('p', { class: 'verdict-detail' }, detail) : null,
      body !== undefined && body !== ''
        ? h(
            'details',
            {},
            h('summary', {}, 'Response body'),
            h(
              'pre',
              { class: 'code' },
              typeof body === 'string' ? body : JSON.stringify(body, null, 2),
            ),
          )
        : null,
    )
    focusOn(result)
  }
}
