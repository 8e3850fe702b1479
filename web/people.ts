/**
 * Administration of people (CONTRACT v2 "People and sessions", role admin): the users, 100 a page
 * (GET /api/manage/users, `?cursor=`), and per person: disable / enable (PATCH
 * /api/manage/users/{userId} `{ disabled }`), their sessions (GET / DELETE
 * /api/manage/users/{userId}/sessions), a recovery link (POST /api/manage/users/{userId}/recovery,
 * shown once), and deleting the account (DELETE /api/manage/users/{userId}) after a confirmation.
 */
import { Notice, focusOn, h, srOnly, timeEl } from './dom.js'
import { explain } from './explain.js'
import { authed } from './session.js'
import { sessionFacts, sessionTitle, type Session } from './sessions.js'
import { linkBox } from './links.js'
import type { ManagedUserSummaryBody } from '../shared/schemas/admin.js'

type Person = ManagedUserSummaryBody

interface UserPage {
  users: Person[]
  next?: string
}

interface RecoveryLink {
  token: string
  url: string
  expiresAt: string
}

export interface PeopleDeps {
  list: HTMLUListElement
  notice: Notice
  heading: HTMLElement
  next: HTMLButtonElement
  previous: HTMLButtonElement
  pageLabel: HTMLElement
  /** The signed-in administrator's id: their own account cannot be disabled or deleted here. */
  selfId: () => string | undefined
}

export class PeopleView {
  private people: Person[] = []
  /** The cursors of the pages shown so far: the last is this page's ('' for the first). */
  private cursors: string[] = ['']
  private next: string | undefined

  constructor(private readonly d: PeopleDeps) {
    d.next.addEventListener('click', () => {
      if (!this.next) return
      void this.loadPage([...this.cursors, this.next])
    })
    d.previous.addEventListener('click', () => void this.loadPage(this.cursors.slice(0, -1)))
  }

  async load(): Promise<void> {
    await this.loadPage(this.cursors, false)
  }

  clear(): void {
    this.people = []
    this.cursors = ['']
    this.next = undefined
    this.d.list.replaceChildren()
  }

  private async loadPage(cursors: string[], announce = true): Promise<void> {
    const { notice, list } = this.d
    const cursor = cursors[cursors.length - 1] ?? ''
    if (announce) notice.busy('Loading people…')
    list.setAttribute('aria-busy', 'true')
    try {
      const page = await authed<UserPage>(`/manage/users${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`)
      this.people = page.users
      this.next = page.next
      this.cursors = cursors.length ? cursors : ['']
      this.render()
      if (announce) {
        notice.show('info', `Page ${this.cursors.length}: ${this.people.length} ${this.people.length === 1 ? 'person' : 'people'}.`)
        focusOn(this.d.heading)
      }
    } catch (e) {
      list.setAttribute('aria-busy', 'false')
      const { title, detail } = explain(e)
      notice.show('error', title, detail)
    }
  }

  private render(): void {
    const { list, next, previous, pageLabel } = this.d
    list.replaceChildren(
      ...(this.people.length ? this.people.map((p) => this.item(p)) : [h('li', { class: 'muted' }, 'Nobody yet.')]),
    )
    list.setAttribute('aria-busy', 'false')
    next.hidden = !this.next
    previous.hidden = this.cursors.length < 2
    pageLabel.textContent = this.next || this.cursors.length > 1 ? `Page ${this.cursors.length}` : ''
  }

  private itemId(p: Person): string {
    return `person-${p.id}`
  }

  private item(p: Person): HTMLLIElement {
    const self = p.id === this.d.selfId()
    const panel = h('div', { class: 'panel', hidden: true })
    const li = h(
      'li',
      { class: 'item person', 'data-id': p.id },
      h(
        'div',
        { class: 'passkey-head' },
        h(
          'h4',
          { id: this.itemId(p), tabindex: '-1', class: 'passkey-label' },
          p.username,
          self ? h('span', { class: 'muted' }, ' (you)') : null,
        ),
        h(
          'ul',
          { class: 'tags', 'aria-label': `About ${p.username}` },
          p.disabled ? h('li', { class: 'tag tag-flagged' }, 'Disabled') : null,
          ...p.roles.map((r) => h('li', { class: 'tag' }, r)),
        ),
      ),
      h(
        'dl',
        { class: 'facts' },
        p.displayName && p.displayName !== p.username ? [h('dt', {}, 'Name'), h('dd', {}, p.displayName)] : null,
        h('dt', {}, 'Member since'),
        h('dd', {}, timeEl(p.createdAt)),
      ),
      this.actions(p, panel, self),
      panel,
    )
    return li
  }

  private actions(p: Person, panel: HTMLElement, self: boolean): HTMLElement {
    const u = p.username
    return h(
      'div',
      { class: 'actions' },
      self
        ? null
        : h(
            'button',
            { type: 'button', onclick: () => void this.setDisabled(p, !p.disabled) },
            p.disabled ? 'Enable' : 'Disable',
            srOnly(` ${u}`),
          ),
      h('button', { type: 'button', onclick: () => void this.showSessions(p, panel) }, 'Sessions', srOnly(` of ${u}`)),
      h('button', { type: 'button', onclick: () => void this.recovery(p, panel) }, 'Recovery link', srOnly(` for ${u}`)),
      self
        ? null
        : h('button', { type: 'button', class: 'danger', onclick: () => this.confirmDelete(p, panel) }, 'Delete', srOnly(` ${u}`)),
    )
  }

  private openPanel(panel: HTMLElement, ...children: HTMLElement[]): void {
    panel.replaceChildren(...children)
    panel.hidden = false
  }

  private closePanel(p: Person, panel: HTMLElement): void {
    panel.replaceChildren()
    panel.hidden = true
    focusOn(document.getElementById(this.itemId(p)))
  }

  private async setDisabled(p: Person, disabled: boolean): Promise<void> {
    const { notice } = this.d
    notice.busy(`${disabled ? 'Disabling' : 'Enabling'} ${p.username}…`)
    try {
      const updated = await authed<Person>(`/manage/users/${encodeURIComponent(p.id)}`, { method: 'PATCH', json: { disabled } })
      this.people = this.people.map((x) => (x.id === p.id ? updated : x))
      this.render()
      notice.show(
        'success',
        disabled ? `Disabled ${p.username}.` : `Enabled ${p.username}.`,
        disabled ? 'Their sessions ended, and their sign-ins are refused until you enable the account again.' : 'They can sign in again.',
      )
      focusOn(document.getElementById(this.itemId(p)))
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }

  private async showSessions(p: Person, panel: HTMLElement): Promise<void> {
    const { notice } = this.d
    notice.busy(`Loading the sessions of ${p.username}…`)
    let sessions: Session[]
    try {
      sessions = await authed<Session[]>(`/manage/users/${encodeURIComponent(p.id)}/sessions`)
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
      return
    }
    notice.clear()
    const headingId = `${this.itemId(p)}-sessions`
    const heading = h('h5', { id: headingId, tabindex: '-1' }, `Sessions of ${p.username}`)
    this.openPanel(
      panel,
      h(
        'section',
        { 'aria-labelledby': headingId },
        heading,
        sessions.length
          ? h(
              'ul',
              { class: 'items', 'aria-labelledby': headingId },
              ...sessions.map((s) =>
                h(
                  'li',
                  { class: 'item session' },
                  h('div', { class: 'passkey-head' }, h('p', { class: 'passkey-label' }, h('strong', {}, sessionTitle(s)), s.current ? ' (this page)' : '')),
                  sessionFacts(s),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No live sessions.'),
        h(
          'div',
          { class: 'row' },
          sessions.length
            ? h('button', { type: 'button', class: 'danger', onclick: () => void this.endSessions(p, panel) }, 'End all sessions', srOnly(` of ${p.username}`))
            : null,
          h('button', { type: 'button', onclick: () => this.closePanel(p, panel) }, 'Close', srOnly(` the sessions of ${p.username}`)),
        ),
      ),
    )
    focusOn(heading)
  }

  private async endSessions(p: Person, panel: HTMLElement): Promise<void> {
    const { notice } = this.d
    notice.busy(`Ending the sessions of ${p.username}…`)
    try {
      await authed(`/manage/users/${encodeURIComponent(p.id)}/sessions`, { method: 'DELETE' })
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
      return
    }
    await this.showSessions(p, panel)
    notice.show('success', `Ended every session of ${p.username}.`, 'Their refresh tokens no longer work; they sign in again with a passkey.')
  }

  private async recovery(p: Person, panel: HTMLElement): Promise<void> {
    const { notice } = this.d
    notice.busy(`Creating a recovery link for ${p.username}…`)
    try {
      const r = await authed<RecoveryLink>(`/manage/users/${encodeURIComponent(p.id)}/recovery`, { json: {} })
      notice.clear()
      const box = linkBox({
        id: `${this.itemId(p)}-recovery`,
        heading: `Recovery link for ${p.username}`,
        label: `Recovery link for ${p.username}`,
        copyWhat: 'the recovery link',
        url: r.url,
        expiresAt: r.expiresAt,
        hint: `Send it to ${p.username} over a channel you trust: it adds a passkey to the account without signing in, once. A new link replaces this one.`,
        onClose: () => this.closePanel(p, panel),
      })
      this.openPanel(panel, box)
      focusOn(box.querySelector('h5'))
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }

  private confirmDelete(p: Person, panel: HTMLElement): void {
    const keep = h('button', { type: 'button', onclick: () => this.closePanel(p, panel) }, 'Keep', srOnly(` ${p.username}`))
    this.openPanel(
      panel,
      h(
        'div',
        { class: 'confirm', role: 'group', 'aria-label': `Delete ${p.username}?` },
        h(
          'p',
          {},
          h('strong', {}, `Delete ${p.username} for good?`),
          ' Their passkeys, sessions, roles and invitations are erased at once, and the username becomes free again. This cannot be undone; to stop them for a while, disable the account instead.',
        ),
        h(
          'div',
          { class: 'row' },
          h('button', { type: 'button', class: 'danger', onclick: () => void this.remove(p) }, 'Delete for good', srOnly(` ${p.username}`)),
          keep,
        ),
      ),
    )
    keep.focus()
  }

  private async remove(p: Person): Promise<void> {
    const { notice } = this.d
    notice.busy(`Deleting ${p.username}…`)
    try {
      await authed(`/manage/users/${encodeURIComponent(p.id)}`, { method: 'DELETE' })
      this.people = this.people.filter((x) => x.id !== p.id)
      this.render()
      focusOn(notice.show('success', `Deleted ${p.username}.`, 'The account, its passkeys and its sessions are gone.'))
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }
}
