/**
 * "Your passkeys": the list (GET /api/me/credentials), rename (PATCH), add another (registration
 * with Bearer `{}`), delete (DELETE; the service refuses the last one with 409 last_credential).
 */
import { sendSignal } from '@simplewebauthn/browser'
import { addPasskey, prompt, type PasskeyView } from './ceremonies.js'
import { Notice, focusOn, h, srOnly, timeEl } from './dom.js'
import { explain, isAborted } from './explain.js'
import { ApiError } from './http.js'
import { authed, currentPasskey } from './session.js'

export interface PasskeysDeps {
  list: HTMLUListElement
  notice: Notice
  heading: HTMLElement
  addForm: HTMLFormElement
  addLabel: HTMLInputElement
  rpId: string
  /** The account's id (the WebAuthn user handle, base64url). */
  userId: () => string | undefined
  /** The passkey of this session was deleted: the session is gone. */
  onOwnPasskeyDeleted: () => void
}

/** "Security key (USB, NFC)", "Built into this device", … from the authenticator's transports. */
export function kindOf(p: Pick<PasskeyView, 'transports'>): string | undefined {
  const t = new Set(p.transports)
  const keyVia = ['usb', 'nfc', 'ble', 'smart-card']
    .filter((x) => t.has(x))
    .map((x) => x.toUpperCase())
  if (keyVia.length) return `Security key (${keyVia.join(', ')})`
  if (t.has('hybrid') && !t.has('internal')) return 'Phone or tablet'
  if (t.has('internal')) return 'Built into a device'
  return undefined
}

/** The model's name: from the FIDO metadata in use when it knows the model, else a well-known AAGUID's. */
export function deviceName(p: PasskeyView): string | undefined {
  return p.authenticator?.name ?? p.authenticatorName
}

/**
 * The model's icon from the metadata, served by the service itself (`authenticator.icon`, a path
 * on its own origin): never the metadata's data: URL inlined, never another site's address.
 */
function modelIcon(p: PasskeyView): HTMLImageElement | null {
  const src = p.authenticator?.icon
  if (!src?.startsWith('/api/authenticators/')) return null
  return h('img', { class: 'model-icon', src, alt: '', width: '20', height: '20', loading: 'lazy', decoding: 'async' })
}

export class PasskeysView {
  private items: PasskeyView[] = []

  constructor(private readonly d: PasskeysDeps) {
    d.addForm.addEventListener('submit', (ev) => {
      ev.preventDefault()
      void this.add()
    })
  }

  async load(): Promise<void> {
    this.items = await authed<PasskeyView[]>('/me/credentials')
    this.render()
    this.signalAccepted()
  }

  /** Tells the browser which passkeys the service still accepts, so deleted ones disappear from its lists. */
  private signalAccepted(): void {
    const userID = this.d.userId()
    if (!userID) return
    const ids = this.items.filter((p) => !p.flagged).map((p) => p.id)
    sendSignal({
      signalName: 'allAcceptedCredentials',
      rpID: this.d.rpId,
      userID,
      allAcceptedCredentialIDs: ids,
    }).catch(() => {})
  }

  /** The label of one of the account's passkeys, if it is in the list. */
  labelOf(id: string): string | undefined {
    return this.items.find((p) => p.id === id)?.label
  }

  private headingId(id: string): string {
    return `pk-${id}`
  }

  private focusItem(id: string): void {
    focusOn(document.getElementById(this.headingId(id)))
  }

  render(): void {
    const { list } = this.d
    list.replaceChildren(...this.items.map((p) => this.item(p)))
    list.setAttribute('aria-busy', 'false')
  }

  private item(p: PasskeyView): HTMLLIElement {
    const name = deviceName(p)
    const kind = kindOf(p)
    const current = currentPasskey() === p.id
    const synced = p.backupEligible
    const li = h(
      'li',
      { class: 'passkey', 'data-id': p.id },
      h(
        'div',
        { class: 'passkey-head' },
        h('h3', { id: this.headingId(p.id), tabindex: '-1', class: 'passkey-label' }, p.label),
        h(
          'ul',
          { class: 'tags', 'aria-label': 'About this passkey' },
          h(
            'li',
            { class: synced ? 'tag tag-synced' : 'tag tag-bound' },
            synced ? 'Synced' : 'Device-bound',
          ),
          synced && !p.backedUp ? h('li', { class: 'tag' }, 'Not backed up yet') : null,
          current ? h('li', { class: 'tag tag-current' }, 'Used for this sign-in') : null,
          p.flagged ? h('li', { class: 'tag tag-flagged' }, `Revoked: ${p.flagged}`) : null,
          p.authenticator?.certified ? h('li', { class: 'tag tag-certified', title: 'The model is FIDO certified, proven by its attestation' }, 'FIDO certified') : null,
          p.authenticator?.refused ? h('li', { class: 'tag tag-flagged' }, `Model refused: ${p.authenticator.status ?? 'revoked'}`) : null,
        ),
      ),
      h(
        'dl',
        { class: 'facts' },
        name ? [h('dt', {}, 'Stored in'), h('dd', { class: 'model' }, modelIcon(p), name)] : null,
        kind ? [h('dt', {}, 'Kind'), h('dd', {}, kind)] : null,
        h('dt', {}, 'Created'),
        h('dd', {}, timeEl(p.createdAt)),
        h('dt', {}, 'Last used'),
        h('dd', {}, timeEl(p.lastUsedAt)),
      ),
      this.actions(p),
    )
    return li
  }

  private actions(p: PasskeyView): HTMLElement {
    const box = h('div', { class: 'actions' })
    box.append(
      h(
        'button',
        { type: 'button', onclick: () => this.startRename(p, box) },
        'Rename',
        srOnly(` ${p.label}`),
      ),
      h(
        'button',
        { type: 'button', class: 'danger', onclick: () => this.confirmDelete(p, box) },
        'Delete',
        srOnly(` ${p.label}`),
      ),
    )
    return box
  }

  private startRename(p: PasskeyView, box: HTMLElement): void {
    const inputId = `rename-${p.id}`
    const holder = h('div', { class: 'actions' })
    const input = h('input', {
      id: inputId,
      name: 'label',
      value: p.label,
      maxlength: 64,
      required: true,
      autocomplete: 'off',
    })
    const cancel = () => {
      holder.replaceWith(this.actions(p))
      this.focusItem(p.id)
    }
    const form = h(
      'form',
      {
        class: 'inline-form',
        onsubmit: (ev: Event) => {
          ev.preventDefault()
          void this.rename(p, input.value)
        },
        onkeydown: (ev: Event) => {
          if ((ev as KeyboardEvent).key === 'Escape') cancel()
        },
      },
      h('label', { for: inputId }, `New name for “${p.label}”`),
      h(
        'div',
        { class: 'row' },
        input,
        h('button', { type: 'submit', class: 'primary' }, 'Save name'),
        h('button', { type: 'button', onclick: cancel }, 'Cancel'),
      ),
    )
    holder.append(form)
    box.replaceWith(holder)
    input.focus()
    input.select()
  }

  private async rename(p: PasskeyView, label: string): Promise<void> {
    const { notice } = this.d
    notice.busy('Saving the new name…')
    try {
      const updated = await authed<PasskeyView>(`/me/credentials/${encodeURIComponent(p.id)}`, {
        method: 'PATCH',
        json: { label },
      })
      this.items = this.items.map((x) => (x.id === p.id ? { ...x, ...updated } : x))
      this.render()
      notice.show('success', `Renamed to “${updated.label}”.`)
      this.focusItem(p.id)
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }

  private confirmDelete(p: PasskeyView, box: HTMLElement): void {
    const own = currentPasskey() === p.id
    const keep = h('button', { type: 'button' }, 'Keep it')
    const question = h(
      'div',
      { class: 'confirm', role: 'group', 'aria-label': `Delete “${p.label}”?` },
      h(
        'p',
        {},
        h('strong', {}, `Delete “${p.label}”?`),
        ' You will no longer be able to sign in with it',
        own ? ', and since you signed in with it, you will be signed out here.' : '.',
        p.backupEligible
          ? ' It may stay listed in your password manager until you remove it there too.'
          : '',
      ),
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          { type: 'button', class: 'danger', onclick: () => void this.remove(p) },
          'Delete passkey',
        ),
        keep,
      ),
    )
    const holder = h('div', { class: 'actions' }, question)
    keep.addEventListener('click', () => {
      holder.replaceWith(this.actions(p))
      this.focusItem(p.id)
    })
    box.replaceWith(holder)
    keep.focus()
  }

  private async remove(p: PasskeyView): Promise<void> {
    const { notice } = this.d
    notice.busy(`Deleting “${p.label}”…`)
    try {
      await authed(`/me/credentials/${encodeURIComponent(p.id)}`, { method: 'DELETE' })
    } catch (e) {
      if (e instanceof ApiError && e.code === 'last_credential') {
        this.render()
        const msg = notice.show(
          'error',
          'You cannot delete your only passkey.',
          `${(e.detail ?? e.title).replace(/\.?$/, '.')} There is no password to fall back on, so without a passkey there would be no way back into this account.`,
        )
        focusOn(msg)
        return
      }
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
      return
    }
    if (currentPasskey() === p.id) {
      this.d.onOwnPasskeyDeleted()
      return
    }
    this.items = this.items.filter((x) => x.id !== p.id)
    this.render()
    this.signalAccepted()
    notice.show('success', `Deleted “${p.label}”.`, 'Sessions signed in with it have ended.')
    focusOn(this.d.heading)
  }

  private async add(): Promise<void> {
    const { notice, addLabel, addForm } = this.d
    const button = addForm.querySelector('button')
    notice.busy('Follow your browser’s prompt to create the new passkey…')
    button?.setAttribute('aria-disabled', 'true')
    try {
      const label = addLabel.value.trim()
      const r = await addPasskey(label || undefined)
      addLabel.value = ''
      await this.load()
      notice.show('success', `Added “${r.credential.label}”.`, 'You can now sign in with it too.')
      this.focusItem(r.credential.id)
    } catch (e) {
      if (isAborted(e)) return notice.clear()
      const { title, detail } = explain(e, { ...prompt, what: 'add' })
      focusOn(notice.show('error', title, detail))
    } finally {
      button?.removeAttribute('aria-disabled')
    }
  }
}
