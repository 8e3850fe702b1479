/**
 * A link shown once (an invitation or a recovery link: the service keeps only its hash), in a
 * read-only field with a Copy button. The link is not kept anywhere else by the page: closing the
 * box or leaving the page drops it.
 */
import { h, srOnly, timeEl } from './dom.js'

export interface LinkBoxOptions {
  /** Prefix of the element ids in the box. */
  id: string
  heading: string
  /** The field's label. */
  label: string
  /** What the Copy button copies, for screen readers: "the invitation link". */
  copyWhat: string
  url: string
  expiresAt: string
  hint: string
  onClose: () => void
}

/**
 * Copies `text` to the clipboard (async Clipboard API, secure contexts). Where the browser refuses,
 * selects the field instead, so that the person can copy it with the keyboard.
 */
export async function copyText(text: string, field: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    field.focus()
    field.select()
    return false
  }
}

/**
 * The box: heading, field, Copy, a live status for "Copied", the expiry and how to send it.
 *
 * @example
 * panel.append(linkBox({ id: 'inv', heading: 'Invitation for carol', label: 'Invitation link', copyWhat: 'the invitation link', url, expiresAt, hint, onClose }))
 */
export function linkBox(o: LinkBoxOptions): HTMLElement {
  const fieldId = `${o.id}-url`
  const field = h('input', {
    id: fieldId,
    type: 'text',
    readonly: true,
    value: o.url,
    spellcheck: 'false',
    autocomplete: 'off',
    class: 'mono',
    'aria-describedby': `${o.id}-hint`,
  })
  const status = h('span', { class: 'hint', role: 'status', 'aria-live': 'polite' })
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      onclick: () =>
        void copyText(o.url, field).then((ok) => {
          status.textContent = ok ? 'Copied.' : 'The browser did not allow copying: the link is selected, copy it with Ctrl+C (⌘C).'
        }),
    },
    'Copy',
    srOnly(` ${o.copyWhat}`),
  )
  return h(
    'div',
    { class: 'link-box', id: o.id },
    h('h5', { tabindex: '-1' }, o.heading),
    h('label', { for: fieldId }, o.label),
    h('div', { class: 'row link-row' }, field, copy, status),
    h(
      'p',
      { id: `${o.id}-hint`, class: 'hint' },
      h('strong', {}, 'Shown only this once. '),
      'Valid until ',
      timeEl(o.expiresAt),
      ', single use. ',
      o.hint,
    ),
    h('div', { class: 'row' }, h('button', { type: 'button', onclick: o.onClose }, 'Done', srOnly(` with ${o.copyWhat}`))),
  )
}
