/**
 * Where an administrator's link lands (CONTRACT v2 "Invitations", "Recovery"): the page opened
 * with `#invitation=<token>` or `#recovery=<token>`. The token is read once and the fragment
 * removed from the address bar (history.replaceState), so it is not left in the history or
 * copied along with the address; it stays in memory only. The creation options name the account
 * (`user.name`), so the page says who before the person presses the one button.
 */
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/browser'
import { enrollWithLink, linkOptions, prompt, type LinkKind, type Registered } from './ceremonies.js'
import { Notice, focusOn } from './dom.js'
import { UNSUPPORTED, explain, isAborted } from './explain.js'
import { ApiError } from './http.js'

export interface Link {
  kind: LinkKind
  token: string
}

/**
 * The link in the address's fragment, if any, and the fragment cleared. Only the first of
 * `invitation` / `recovery` counts.
 *
 * @example
 * // at http://localhost:7071/#invitation=abc
 * takeLink() // { kind: 'invitation', token: 'abc' }, and the address is now http://localhost:7071/
 */
export function takeLink(): Link | undefined {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''))
  const kind = (['invitation', 'recovery'] as const).find((k) => fragment.get(k))
  if (!kind) return undefined
  history.replaceState(history.state, '', location.pathname + location.search)
  return { kind, token: fragment.get(kind) ?? '' }
}

export interface LandingDeps {
  title: HTMLElement
  lead: HTMLElement
  notice: Notice
  create: HTMLButtonElement
  retry: HTMLButtonElement
  leave: HTMLButtonElement
  supported: boolean
  /** Shows the landing view (and hides the others). */
  show: () => void
  /** The passkey was created: the account is signed in with these tokens. */
  onEnrolled: (r: Registered, kind: LinkKind) => Promise<void>
  /** "Go to the sign-in page". */
  onLeave: () => void
}

const TEXT = {
  invitation: {
    checking: 'Checking your invitation…',
    unreachable: 'Your invitation could not be checked',
    title: (name: string) => `You were invited as ${name}`,
    lead: 'Create a passkey to join: your phone’s or computer’s screen lock, or a security key. There is no password to choose.',
    button: 'Create your passkey',
    invalid: 'This invitation cannot be used',
    again: 'Ask the person who invited you for a new invitation link.',
  },
  recovery: {
    checking: 'Checking your recovery link…',
    unreachable: 'Your recovery link could not be checked',
    title: () => 'Add a new passkey to your account',
    lead: 'Create a passkey on this device to get back into your account. You are signed in with it at once; your other sessions end.',
    button: 'Create a new passkey',
    invalid: 'This recovery link cannot be used',
    again: 'Ask your administrator for a new recovery link.',
  },
} as const

export class LandingView {
  private link: Link | undefined
  private options: { json: PublicKeyCredentialCreationOptionsJSON; at: number } | undefined

  constructor(private readonly d: LandingDeps) {
    d.create.addEventListener('click', () => void this.enroll())
    d.retry.addEventListener('click', () => void this.check())
    d.leave.addEventListener('click', () => {
      this.link = this.options = undefined
      d.notice.clear()
      d.onLeave()
    })
  }

  /** Shows the view for `link` and asks the service for its options (which name the account). */
  async open(link: Link): Promise<void> {
    this.link = link
    this.d.show()
    await this.check()
  }

  private async check(): Promise<void> {
    const { title, lead, notice, create, retry, leave } = this.d
    const link = this.link
    if (!link) return
    const text = TEXT[link.kind]
    create.hidden = retry.hidden = true
    leave.hidden = false
    title.textContent = text.checking
    lead.textContent = ''
    notice.clear()
    if (!this.d.supported) {
      title.textContent = text.invalid
      focusOn(notice.show('error', UNSUPPORTED.title, UNSUPPORTED.detail))
      return
    }
    try {
      const json = await linkOptions(link.kind, link.token)
      this.options = { json, at: Date.now() }
      title.textContent = text.title(json.user.name)
      lead.textContent =
        link.kind === 'recovery' ? `Account: ${json.user.name}. ${text.lead}` : text.lead
      create.textContent = text.button
      create.hidden = false
      focusOn(title)
    } catch (e) {
      this.options = undefined
      const { title: t, detail } = explain(e)
      // A refused link stays refused; a service that did not answer may answer later.
      const refused = e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429
      title.textContent = refused ? text.invalid : text.unreachable
      lead.textContent = refused ? text.again : ''
      retry.hidden = refused
      notice.show('error', t, detail)
      focusOn(title)
    }
  }

  private async enroll(): Promise<void> {
    const { notice, create } = this.d
    const link = this.link
    // One ceremony at a time: a second press would abort the prompt that is open.
    if (!link || create.hasAttribute('aria-disabled')) return
    create.setAttribute('aria-disabled', 'true')
    try {
      // Options are single use and live CHALLENGE_TTL (their `timeout`): fetch fresh ones when
      // these were used by an attempt, or are about to expire.
      const o = this.options
      const fresh = o && Date.now() - o.at < (o.json.timeout ?? 60_000) * 0.8
      const json = fresh ? o.json : await linkOptions(link.kind, link.token)
      this.options = undefined
      notice.busy('Follow your browser’s prompt to create your passkey…')
      const r = await enrollWithLink(json)
      if (!r.tokens) throw new Error('The passkey was created but no tokens came back: sign in with it.')
      this.link = undefined
      notice.clear()
      await this.d.onEnrolled(r, link.kind)
    } catch (e) {
      if (isAborted(e)) return notice.clear()
      const { title, detail } = explain(e, { ...prompt, what: 'sign-up' })
      focusOn(notice.show('error', title, detail))
      if (e instanceof ApiError && (e.code === 'invitation_invalid' || e.code === 'recovery_invalid')) {
        this.d.title.textContent = TEXT[link.kind].invalid
        this.d.lead.textContent = TEXT[link.kind].again
        create.hidden = true
      }
    } finally {
      create.removeAttribute('aria-disabled')
    }
  }
}
