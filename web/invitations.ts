/**
 * Inviting people (CONTRACT v2 "Invitations", role admin): POST /api/manage/invitations
 * `{ username, displayName?, roles?, ttl? }` → the link, shown once with a Copy button; the pending
 * ones (GET /api/manage/invitations, no tokens) with Revoke (DELETE /api/manage/invitations/{id}).
 * The section stays hidden when the service has no invitations (404).
 */
import { Notice, focusOn, h, srOnly, timeEl } from './dom.js'
import { explain } from './explain.js'
import { ApiError } from './http.js'
import { linkBox } from './links.js'
import { authed } from './session.js'

interface Invitation {
  id: string
  username: string
  displayName?: string
  roles: string[]
  expiresAt: string
  createdAt?: string
}

interface InvitationCreated extends Invitation {
  token: string
  url: string
}

export interface InvitationsDeps {
  section: HTMLElement
  form: HTMLFormElement
  username: HTMLInputElement
  displayName: HTMLInputElement
  roles: HTMLInputElement
  ttl: HTMLSelectElement
  notice: Notice
  result: HTMLElement
  list: HTMLUListElement
  listHeading: HTMLElement
}

export class InvitationsView {
  private pending: Invitation[] = []

  constructor(private readonly d: InvitationsDeps) {
    d.form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      void this.invite()
    })
  }

  async load(): Promise<void> {
    const { section, notice } = this.d
    try {
      this.pending = await authed<Invitation[]>('/manage/invitations')
      section.hidden = false
      this.render()
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405 || e.status === 501)) {
        section.hidden = true
        return
      }
      section.hidden = false
      const { title, detail } = explain(e)
      notice.show('error', title, detail)
    }
  }

  clear(): void {
    this.pending = []
    this.d.list.replaceChildren()
    this.d.result.replaceChildren()
  }

  private render(): void {
    const { list } = this.d
    list.replaceChildren(
      ...(this.pending.length
        ? this.pending.map((i) =>
            h(
              'li',
              { class: 'item invitation', 'data-id': i.id },
              h('div', { class: 'passkey-head' }, h('p', { class: 'passkey-label' }, h('strong', {}, i.username), i.roles.length ? ` · ${i.roles.join(', ')}` : '')),
              h('dl', { class: 'facts' }, h('dt', {}, 'Valid until'), h('dd', {}, timeEl(i.expiresAt))),
              h(
                'div',
                { class: 'actions' },
                h('button', { type: 'button', class: 'danger', onclick: () => void this.revoke(i) }, 'Revoke', srOnly(` the invitation for ${i.username}`)),
              ),
            ),
          )
        : [h('li', { class: 'muted' }, 'No pending invitations.')]),
    )
  }

  private async invite(): Promise<void> {
    const { username, displayName, roles, ttl, notice, result, form } = this.d
    const name = username.value.trim()
    if (!name) {
      username.setAttribute('aria-invalid', 'true')
      focusOn(notice.show('error', 'Enter the username of the person you invite.'))
      username.focus()
      return
    }
    username.removeAttribute('aria-invalid')
    const roleNames = roles.value.split(/[\s,]+/).filter(Boolean)
    const body = {
      username: name,
      ...(displayName.value.trim() ? { displayName: displayName.value.trim() } : {}),
      ...(roleNames.length ? { roles: roleNames } : {}),
      ttl: Number(ttl.value),
    }
    notice.busy(`Inviting ${name}…`)
    try {
      const inv = await authed<InvitationCreated>('/manage/invitations', { json: body })
      notice.clear()
      form.reset()
      const box = linkBox({
        id: 'invitation-link',
        heading: `Invitation for ${inv.username}`,
        label: 'Invitation link',
        copyWhat: 'the invitation link',
        url: inv.url,
        expiresAt: inv.expiresAt,
        hint: `Send it to ${inv.username}: opening it lets them create a passkey for this username${inv.roles.length ? ` with role ${inv.roles.join(', ')}` : ''}.`,
        onClose: () => {
          result.replaceChildren()
          username.focus()
        },
      })
      result.replaceChildren(box)
      focusOn(box.querySelector('h5'))
      this.pending = [...this.pending.filter((i) => i.id !== inv.id), { id: inv.id, username: inv.username, roles: inv.roles, expiresAt: inv.expiresAt }]
      this.render()
    } catch (e) {
      if (e instanceof ApiError && e.code === 'username_taken') username.setAttribute('aria-invalid', 'true')
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }

  private async revoke(i: Invitation): Promise<void> {
    const { notice } = this.d
    notice.busy(`Revoking the invitation for ${i.username}…`)
    try {
      await authed(`/manage/invitations/${encodeURIComponent(i.id)}`, { method: 'DELETE' })
      this.pending = this.pending.filter((x) => x.id !== i.id)
      this.render()
      notice.show('success', `Revoked the invitation for ${i.username}.`, 'Its link no longer works.')
      focusOn(this.d.listHeading)
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }
}
