/**
 * "Apps you approved": the applications the person approved on the hosted sign-in page with a
 * passkey (GET /api/me/consents), and withdrawing one (DELETE /api/me/consents/{clientId}), which
 * also signs that application out of this account.
 */
import { AccountList } from './listView.js'
import { Notice, focusOn, h, srOnly, timeEl } from './dom.js'
import { explain } from './explain.js'
import { authed } from './session.js'
import type { ConsentView } from '../shared/schemas/sessions.js'

export interface ConsentsDeps {
  list: HTMLUListElement
  notice: Notice
  heading: HTMLElement
  /** Called after a withdrawal: the sessions list changed too. */
  changed: () => void
}

export class ConsentsView extends AccountList<ConsentView> {
  constructor(private readonly d: ConsentsDeps) {
    super('/me/consents', d)
  }

  protected render(): void {
    const { list } = this.d
    list.replaceChildren(...(this.items.length ? this.items.map((c) => this.item(c)) : [h('li', { class: 'empty' }, 'No apps approved yet.')]))
    list.setAttribute('aria-busy', 'false')
  }

  private item(c: ConsentView): HTMLLIElement {
    return h(
      'li',
      { class: 'item consent' },
      h('div', { class: 'passkey-head' }, h('h3', { class: 'passkey-label' }, c.clientName)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Application'),
        h('dd', {}, h('code', {}, c.clientId), c.registered ? '' : ' (not registered by your administrator)'),
        h('dt', {}, 'Scopes'),
        h('dd', {}, c.scope),
        h('dt', {}, 'APIs'),
        h('dd', {}, c.resources.join(', ')),
        h('dt', {}, 'Approved'),
        h('dd', {}, timeEl(c.updatedAt)),
      ),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', onclick: () => void this.revoke(c) }, 'Withdraw', srOnly(` ${c.clientName}`))),
    )
  }

  private async revoke(c: ConsentView): Promise<void> {
    const { notice } = this.d
    notice.busy(`Withdrawing ${c.clientName}…`)
    try {
      await authed(`/me/consents/${encodeURIComponent(c.clientId)}`, { method: 'DELETE' })
      this.items = this.items.filter((x) => x.clientId !== c.clientId)
      this.render()
      notice.show('success', `Withdrew ${c.clientName}.`, 'It is signed out of this account; it has to ask again to sign in.')
      focusOn(this.d.heading)
      this.d.changed()
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }
}
