/**
 * "Your sessions" (CONTRACT v2 "Sessions"): the account's live sign-ins (GET /api/me/sessions),
 * signing one out (DELETE /api/me/sessions/{id}) and every other one (DELETE /api/me/sessions).
 * Signing out needs no recent sign-in: it only takes access away. The same list, for another
 * account, is what administration shows (`sessionFacts`).
 */
import { AccountList } from './listView.js'
import { Notice, focusOn, h, srOnly, timeEl } from './dom.js'
import { explain } from './explain.js'
import { authed } from './session.js'
import type { SessionView } from '../shared/schemas/sessions.js'

export type Session = SessionView

/** The page's own client id (shared/oauth FIRST_PARTY_CLIENT): sessions of this page. */
const FIRST_PARTY = 'passkey-web'

const BROWSERS: readonly [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/\b(?:OPR|Opera)\/(\d+)/, 'Opera'],
  [/\bSamsungBrowser\/(\d+)/, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\/(\d+)/, 'Firefox'],
  [/\b(?:HeadlessChrome|Chrome|CriOS|Chromium)\/(\d+)/, 'Chrome'],
  [/\bVersion\/(\d+)[\d.]*(?: Mobile\/\S+)? Safari\//, 'Safari'],
]
// iOS first: its user agents say "like Mac OS X".
const SYSTEMS: readonly [RegExp, string][] = [
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMacintosh\b|\bMac OS X\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
]

/**
 * A User-Agent as people say it: "Chrome 156 on Linux", "Safari 18 on iOS"; anything else is cut
 * to 40 characters. Display only: the header is whatever the client sent.
 *
 * @example
 * shortAgent('Mozilla/5.0 (X11; Linux x86_64) … Chrome/156.0.0.0 Safari/537.36') // 'Chrome 156 on Linux'
 */
export function shortAgent(ua: string | undefined): string | undefined {
  if (!ua) return undefined
  const browser = BROWSERS.map(([re, name]) => [re.exec(ua), name] as const).find(([m]) => m)
  const system = SYSTEMS.find(([re]) => re.test(ua))?.[1]
  if (!browser) return ua.length > 40 ? `${ua.slice(0, 39)}…` : ua
  const [m, name] = browser
  return `${name} ${m?.[1] ?? ''}`.trim() + (system ? ` on ${system}` : '')
}

/** What a session is called in lists: its browser and system, or its application. */
export function sessionTitle(s: Session): string {
  return shortAgent(s.userAgent) ?? (s.clientId === FIRST_PARTY ? 'A browser' : `Application ${s.clientId}`)
}

/** The facts of a session (created, last used, client, passkey, browser, expiry) as a `<dl>`. */
export function sessionFacts(s: Session, passkeyLabel?: string): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    h('dt', {}, 'Signed in'),
    h('dd', {}, timeEl(s.createdAt)),
    h('dt', {}, 'Last used'),
    h('dd', {}, timeEl(s.lastUsedAt)),
    h('dt', {}, 'Application'),
    h('dd', {}, s.clientId === FIRST_PARTY ? 'This page' : h('code', {}, s.clientId)),
    s.credentialId
      ? [h('dt', {}, 'Passkey'), h('dd', {}, passkeyLabel ?? h('code', { class: 'id' }, s.credentialId.slice(0, 12) + '…'))]
      : null,
    s.userAgent ? [h('dt', {}, 'Browser'), h('dd', { title: s.userAgent }, shortAgent(s.userAgent) ?? s.userAgent)] : null,
    h('dt', {}, 'Ends'),
    h('dd', {}, timeEl(s.expiresAt)),
  )
}

export interface SessionsDeps {
  list: HTMLUListElement
  notice: Notice
  heading: HTMLElement
  signOutOthers: HTMLButtonElement
  /** The label of one of the account's passkeys, when the page knows it. */
  passkeyLabel: (credentialId: string) => string | undefined
}

export class SessionsView extends AccountList<Session> {
  constructor(private readonly d: SessionsDeps) {
    super('/me/sessions', d)
    d.signOutOthers.addEventListener('click', () => void this.signOutOthers())
  }

  protected render(): void {
    const { list, signOutOthers } = this.d
    // This device first, then the others, most recently used first (the service's order).
    const sorted = [...this.items.filter((s) => s.current), ...this.items.filter((s) => !s.current)]
    list.replaceChildren(...sorted.map((s) => this.item(s)))
    list.setAttribute('aria-busy', 'false')
    signOutOthers.hidden = !this.items.some((s) => !s.current)
  }

  private item(s: Session): HTMLLIElement {
    const title = sessionTitle(s)
    return h(
      'li',
      { class: 'item session', 'data-id': s.id },
      h(
        'div',
        { class: 'passkey-head' },
        h('h3', { id: `session-${s.id}`, tabindex: '-1', class: 'passkey-label' }, title),
        s.current ? h('ul', { class: 'tags', 'aria-label': 'About this session' }, h('li', { class: 'tag tag-current' }, 'This device')) : null,
      ),
      sessionFacts(s, s.credentialId ? this.d.passkeyLabel(s.credentialId) : undefined),
      s.current
        ? null
        : h(
            'div',
            { class: 'actions' },
            h('button', { type: 'button', class: 'danger', onclick: () => void this.signOut(s) }, 'Sign out', srOnly(` ${title}`)),
          ),
    )
  }

  private async signOut(s: Session): Promise<void> {
    const { notice } = this.d
    const title = sessionTitle(s)
    notice.busy(`Signing out ${title}…`)
    try {
      await authed(`/me/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' })
      this.items = this.items.filter((x) => x.id !== s.id)
      this.render()
      notice.show('success', `Signed out ${title}.`, 'Its refresh token no longer works; an access token it holds stops at the next check.')
      focusOn(this.d.heading)
    } catch (e) {
      const { title: t, detail } = explain(e)
      focusOn(notice.show('error', t, detail))
    }
  }

  private async signOutOthers(): Promise<void> {
    const { notice } = this.d
    notice.busy('Signing out everywhere else…')
    try {
      await authed('/me/sessions', { method: 'DELETE' })
      await this.load()
      notice.show('success', 'Signed out everywhere else.', 'Only this device is still signed in.')
      focusOn(this.d.heading)
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }
}
