/**
 * Agents acting for the person (CONTRACT v2 "Agents acting for people", docs/agents.md):
 * - "Requests from agents": the pending CIBA requests (GET /api/me/approvals), each with the
 *   agent's name and id, its binding message, scope and per-action details, and its expiry;
 *   "Approve with your passkey" (…/options → the browser's prompt → …/verify: the challenge is
 *   bound to that very request) and "Deny" (DELETE).
 * - "Agents acting for you": standing delegations (GET /api/me/delegations), with "Revoke".
 *
 * Both lists are checked again every few seconds while the page is visible and signed in (and
 * with "Check for requests"); a list is only redrawn when what it shows changed, so focus and
 * buttons stay put between checks. Every value is put in as text (`h`, never markup).
 */
import { startAuthentication, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser'
import { prompt } from './ceremonies.js'
import { Notice, focusOn, h, relativeTime, srOnly, timeEl } from './dom.js'
import { explain, isAborted } from './explain.js'
import { ApiError } from './http.js'
import { authed, isSignedIn } from './session.js'
import type { ApprovalView, DelegationView } from '../shared/schemas/agents.js'

/** How often the lists are checked while the page is visible. */
export const POLL_MS = 4000

export interface AgentsDeps {
  approvalsList: HTMLUListElement
  approvalsHeading: HTMLElement
  approvalsNotice: Notice
  checkButton: HTMLButtonElement
  delegationsList: HTMLUListElement
  delegationsHeading: HTMLElement
  delegationsNotice: Notice
}

/** "GET /orders/42" and, when the detail names one, "on API sample". */
function actionText(d: NonNullable<ApprovalView['authorizationDetails']>[number]): string {
  return `${d.method} ${d.path}${d.apiId ? ` (API ${d.apiId})` : ''}`
}

function scopeList(scope: string): HTMLElement {
  const names = scope.split(' ').filter(Boolean)
  return h('span', { class: 'scopes' }, names.map((s, i) => [i ? ' ' : null, h('code', {}, s)]))
}

export class AgentsView {
  private approvals: ApprovalView[] = []
  private delegations: DelegationView[] = []
  private shown = { approvals: '', delegations: '' }
  private timer: ReturnType<typeof setTimeout> | undefined
  private running = false
  /** A ceremony or a change is under way: checks wait, so the list does not move under it. */
  private busy = false

  constructor(private readonly d: AgentsDeps) {
    d.checkButton.addEventListener('click', () => void this.check({ announce: true }))
    document.addEventListener('visibilitychange', () => {
      if (this.running && document.visibilityState === 'visible') void this.check()
    })
  }

  /** First load, then a check every POLL_MS while signed in. */
  async start(): Promise<void> {
    this.running = true
    try {
      await this.load()
    } finally {
      this.schedule()
    }
  }

  /** Signed out: no more checks, nothing of the account left in the lists. */
  stop(): void {
    this.running = false
    clearTimeout(this.timer)
    this.approvals = []
    this.delegations = []
    this.shown = { approvals: '', delegations: '' }
    this.d.approvalsList.replaceChildren()
    this.d.delegationsList.replaceChildren()
    this.d.approvalsNotice.clear()
    this.d.delegationsNotice.clear()
  }

  private schedule(): void {
    clearTimeout(this.timer)
    if (!this.running) return
    this.timer = setTimeout(() => {
      if (!this.running) return
      if (document.visibilityState !== 'visible' || this.busy || !isSignedIn()) return this.schedule()
      void this.check().finally(() => this.schedule())
    }, POLL_MS)
  }

  private async load(): Promise<void> {
    const [approvals, delegations] = await Promise.all([
      authed<ApprovalView[]>('/me/approvals'),
      authed<DelegationView[]>('/me/delegations'),
    ])
    if (!this.running) return // signed out meanwhile
    this.approvals = approvals
    this.delegations = delegations
    this.render()
  }

  /** A check between others: quiet unless asked for (the button) or it finds something new. */
  private async check({ announce = false } = {}): Promise<void> {
    if (!isSignedIn() || this.busy) return
    const before = new Set(this.approvals.map((a) => a.id))
    try {
      await this.load()
    } catch (e) {
      if (!isSignedIn()) return
      if (announce) {
        const { title, detail } = explain(e)
        focusOn(this.d.approvalsNotice.show('error', title, detail))
      }
      return
    }
    const fresh = this.approvals.filter((a) => !before.has(a.id)).length
    if (fresh) this.d.approvalsNotice.show('info', fresh === 1 ? 'A new request from an agent is waiting.' : `${fresh} new requests from agents are waiting.`)
    else if (announce) this.d.approvalsNotice.show('info', this.approvals.length ? 'No new requests.' : 'No requests are waiting.')
  }

  private render(): void {
    const approvals = JSON.stringify(this.approvals)
    if (approvals !== this.shown.approvals) {
      this.shown.approvals = approvals
      const { approvalsList: list } = this.d
      list.replaceChildren(
        ...(this.approvals.length ? this.approvals.map((a) => this.approvalItem(a)) : [h('li', { class: 'empty' }, 'No requests are waiting.')]),
      )
      list.setAttribute('aria-busy', 'false')
    }
    const delegations = JSON.stringify(this.delegations)
    if (delegations !== this.shown.delegations) {
      this.shown.delegations = delegations
      const { delegationsList: list } = this.d
      list.replaceChildren(
        ...(this.delegations.length
          ? this.delegations.map((x) => this.delegationItem(x))
          : [h('li', { class: 'empty' }, 'No agent acts for you.')]),
      )
      list.setAttribute('aria-busy', 'false')
    }
  }

  private approvalItem(a: ApprovalView): HTMLLIElement {
    const details = a.authorizationDetails ?? []
    return h(
      'li',
      { class: 'passkey approval', 'data-id': a.id },
      h('div', { class: 'passkey-head' }, h('h3', { class: 'passkey-label', id: `apr-${a.id}`, tabindex: '-1' }, a.clientName)),
      h(
        'div',
        { class: 'approval-body' },
        h('p', { class: 'binding-label' }, 'It says:'),
        h('blockquote', { class: 'binding-message' }, a.bindingMessage),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Agent id'),
          h('dd', {}, h('code', {}, a.clientId)),
          h('dt', {}, 'Scope'),
          h('dd', {}, scopeList(a.scope)),
          h('dt', {}, details.length ? 'Only these calls' : 'For'),
          h(
            'dd',
            {},
            details.length
              ? h('ul', { class: 'actions-asked' }, details.map((d) => h('li', {}, h('code', {}, actionText(d)))))
              : 'Standing access: any call your roles and the agent’s allow, until you revoke it',
          ),
          h('dt', {}, 'Asked'),
          h('dd', {}, timeEl(a.createdAt)),
          h('dt', {}, 'Expires'),
          h('dd', {}, timeEl(a.expiresAt), ` (${relativeTime(Date.parse(a.expiresAt))})`),
        ),
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => void this.approve(a) }, 'Approve with your passkey', srOnly(`: ${a.clientName}`)),
        h('button', { type: 'button', class: 'danger', onclick: () => void this.deny(a) }, 'Deny', srOnly(` ${a.clientName}`)),
      ),
    )
  }

  private delegationItem(x: DelegationView): HTMLLIElement {
    return h(
      'li',
      { class: 'passkey delegation', 'data-id': x.id },
      h('div', { class: 'passkey-head' }, h('h3', { class: 'passkey-label' }, x.clientName)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Agent id'),
        h('dd', {}, h('code', {}, x.clientId)),
        h('dt', {}, 'Scope'),
        h('dd', {}, scopeList(x.scope)),
        h('dt', {}, 'Since'),
        h('dd', {}, timeEl(x.createdAt)),
        h('dt', {}, 'Last used'),
        h('dd', {}, timeEl(x.lastUsedAt)),
      ),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', onclick: () => void this.revoke(x) }, 'Revoke', srOnly(` ${x.clientName}`))),
    )
  }

  /** Runs `work` with checks held back, then reloads; errors go to `notice`. */
  private async change(notice: Notice, work: () => Promise<unknown>, { gone, ceremony = false }: { gone: string; ceremony?: boolean }): Promise<boolean> {
    if (this.busy) return false // one change at a time (a second press while a prompt is open)
    this.busy = true
    try {
      await work()
      return true
    } catch (e) {
      if (isAborted(e)) {
        notice.clear()
        return false
      }
      const { title, detail } =
        e instanceof ApiError && e.status === 404
          ? { title: gone, detail: 'The list is up to date now.' }
          : explain(e, ceremony ? { ...prompt, what: 'approve' } : {})
      focusOn(notice.show('error', title, detail))
      return false
    } finally {
      this.busy = false
      await this.load().catch(() => {})
    }
  }

  private async approve(a: ApprovalView): Promise<void> {
    const { approvalsNotice: notice } = this.d
    const path = `/me/approvals/${encodeURIComponent(a.id)}`
    const ok = await this.change(
      notice,
      async () => {
        notice.busy('Follow your browser’s prompt to approve with your passkey…')
        const optionsJSON = await authed<PublicKeyCredentialRequestOptionsJSON>(`${path}/options`, { method: 'POST', json: {} })
        prompt.startedAt = Date.now()
        prompt.timeoutMs = optionsJSON.timeout ?? 0
        const credential = await startAuthentication({ optionsJSON })
        await authed(`${path}/verify`, { json: { credential } })
      },
      { gone: 'That request is no longer waiting (it was decided, or it expired).', ceremony: true },
    )
    if (!ok) return
    focusOn(
      notice.show(
        'success',
        `Approved: ${a.clientName} may go ahead.`,
        a.authorizationDetails?.length ? 'Only for the calls it listed, once each.' : 'It is listed under “Agents acting for you” once it picks up its access.',
      ),
    )
  }

  private async deny(a: ApprovalView): Promise<void> {
    const { approvalsNotice: notice } = this.d
    const ok = await this.change(notice, () => (notice.busy('Denying the request…'), authed(`/me/approvals/${encodeURIComponent(a.id)}`, { method: 'DELETE' })), {
      gone: 'That request is no longer waiting (it was decided, or it expired).',
    })
    if (ok) focusOn(notice.show('success', `Denied: ${a.clientName} gets no access.`))
  }

  private async revoke(x: DelegationView): Promise<void> {
    const { delegationsNotice: notice } = this.d
    const ok = await this.change(notice, () => (notice.busy(`Revoking ${x.clientName}’s access…`), authed(`/me/delegations/${encodeURIComponent(x.id)}`, { method: 'DELETE' })), {
      gone: 'That agent no longer acts for you (it was revoked or ended already).',
    })
    if (ok) {
      notice.show('success', `Revoked: ${x.clientName} can no longer act for you.`, 'Its refresh token stops now; an access token it holds is refused within moments.')
      focusOn(this.d.delegationsHeading)
    }
  }
}
