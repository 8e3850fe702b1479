/**
 * "Delete your account" (CONTRACT v2 "Disabling and deleting accounts": DELETE /api/me → 204).
 * The person confirms by typing their username; the service wants a recent sign-in (REAUTH_MAX_AGE,
 * 401 insufficient_user_authentication), which `authed` gets with a passkey step-up first.
 */
import { prompt } from './ceremonies.js'
import { Notice, focusOn, h } from './dom.js'
import { explain, isAborted } from './explain.js'
import { authed } from './session.js'

export interface DeleteAccountDeps {
  start: HTMLButtonElement
  confirm: HTMLElement
  notice: Notice
  /** The signed-in account's username: what must be typed. */
  username: () => string | undefined
  /** Runs `call` with the passkey step-up (if one is asked for) speaking in `notice`. */
  stepUpIn: (notice: Notice, call: () => Promise<unknown>) => Promise<unknown>
  /** The account is gone: the page forgets the session and shows the signed-out view. */
  onDeleted: () => void
}

export class DeleteAccountView {
  private busy = false

  constructor(private readonly d: DeleteAccountDeps) {
    d.start.addEventListener('click', () => this.ask())
  }

  /** Closes the question (signing out, another account). */
  reset(): void {
    this.d.confirm.replaceChildren()
    this.d.confirm.hidden = true
    this.d.start.hidden = false
  }

  private ask(): void {
    const { confirm, start, notice } = this.d
    const username = this.d.username()
    if (!username) return
    notice.clear()
    const input = h('input', {
      id: 'delete-account-username',
      name: 'username',
      type: 'text',
      autocomplete: 'off',
      autocapitalize: 'none',
      spellcheck: 'false',
      maxlength: 64,
      'aria-describedby': 'delete-account-warning',
    })
    const form = h(
      'form',
      {
        class: 'confirm',
        'aria-label': 'Confirm deleting your account',
        onsubmit: (ev: Event) => {
          ev.preventDefault()
          void this.remove(input)
        },
        onkeydown: (ev: Event) => {
          if ((ev as KeyboardEvent).key === 'Escape') this.cancel()
        },
      },
      h(
        'p',
        { id: 'delete-account-warning' },
        h('strong', {}, 'This cannot be undone. '),
        'Your passkeys, sessions and roles are erased, and every app signed in with this account is signed out. The username becomes free for someone else.',
      ),
      h('label', { for: input.id }, 'Type your username, ', h('strong', { class: 'mono' }, username), ', to confirm'),
      input,
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'submit', class: 'danger' }, 'Delete my account for good'),
        h('button', { type: 'button', onclick: () => this.cancel() }, 'Keep my account'),
      ),
    )
    confirm.replaceChildren(form)
    confirm.hidden = false
    start.hidden = true
    input.focus()
  }

  private cancel(): void {
    this.reset()
    this.d.notice.clear()
    this.d.start.focus()
  }

  private async remove(input: HTMLInputElement): Promise<void> {
    const { notice } = this.d
    const username = this.d.username()
    if (!username) return
    if (input.value.trim() !== username) {
      input.setAttribute('aria-invalid', 'true')
      focusOn(notice.show('error', 'The username does not match.', `Type ${username} exactly to delete this account, or press “Keep my account”.`))
      input.focus()
      return
    }
    input.removeAttribute('aria-invalid')
    if (this.busy) return
    this.busy = true
    notice.busy('Deleting your account…')
    try {
      await this.d.stepUpIn(notice, () => authed('/me', { method: 'DELETE' }))
    } catch (e) {
      this.busy = false
      if (isAborted(e)) return notice.clear()
      // A failed step-up is a sign-in that did not happen.
      const { title, detail } = explain(e, { ...prompt, what: 'sign-in' })
      focusOn(notice.show('error', title, detail))
      return
    }
    this.busy = false
    this.reset()
    notice.clear()
    this.d.onDeleted()
  }
}
