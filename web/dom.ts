/**
 * A few DOM helpers. Elements are built with `createElement` and `textContent` only (never
 * `innerHTML`), so no server or user value is ever parsed as markup; the page's CSP also demands
 * Trusted Types for script sinks, which this keeps us clear of.
 */

export type Child = Node | string | number | null | undefined | false | readonly Child[]
type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>

/**
 * Creates an element: string / number / boolean attributes (false and null are left out), `on*`
 * functions as event listeners, children as nodes or text.
 *
 * @example
 * h('button', { type: 'button', class: 'danger', onclick: () => remove() }, 'Delete')
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value)
    else el.setAttribute(name, value === true ? '' : String(value))
  }
  append(el, ...children)
  return el
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, ...(c as readonly Child[]))
    else el.append(typeof c === 'number' ? String(c) : (c as Node | string))
  }
}

/** The element with this id; throws when the page's markup lacks it (a bug, not a user error). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id)
  if (!el) throw new Error(`#${id} is missing from the page`)
  return el as T
}

/** The members of a view's deps that are elements of the page (what `byIds` looks up). */
export type ElementsOf<T> = { [K in keyof T as T[K] extends HTMLElement ? K : never]: T[K] }

/**
 * The elements with these ids, by name (`byId` for each): a view's part of the markup in one
 * table. Their types come from `T`, the view's deps, where they are declared once.
 *
 * @example
 * const parts = byIds<ElementsOf<ClientsDeps>>({ form: 'client-form', name: 'client-name', … })
 */
export function byIds<T extends Record<string, HTMLElement>>(ids: { [K in keyof T]: string }): T {
  return Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, byId(id)])) as T
}

/** Text read by screen readers only (e.g. which passkey a "Rename" button is for). */
export function srOnly(text: string): HTMLSpanElement {
  return h('span', { class: 'sr-only' }, text)
}

/** Moves focus to `el` (made focusable when it is not) and brings it into view. */
export function focusOn(el: HTMLElement | null | undefined): void {
  if (!el) return
  if (!el.hasAttribute('tabindex') && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName))
    el.setAttribute('tabindex', '-1')
  el.focus({ preventScroll: true })
  el.scrollIntoView({ block: 'nearest' })
}

export type Tone = 'info' | 'success' | 'error' | 'busy'

/**
 * A status area: a live region present in the page from the start (so screen readers announce
 * what is written into it), holding one message at a time. Errors read "Problem:" first, so the
 * message does not rely on colour alone.
 */
export class Notice {
  /**
   * A page-wide notice whose success messages ("Welcome…", "Signed out.") give way as soon as
   * another notice speaks, so an old message does not linger above newer ones.
   */
  static page: Notice | undefined

  constructor(readonly el: HTMLElement) {}

  show(tone: Tone, title: string, detail?: string): HTMLElement {
    const page = Notice.page
    if (page && page !== this && page.el.querySelector('.notice-success')) page.clear()
    const msg = h(
      'p',
      { class: `notice notice-${tone}` },
      tone === 'error' ? h('strong', {}, 'Problem: ') : null,
      tone === 'error' ? title : h('strong', {}, title),
      detail
        ? h('span', { class: 'notice-detail' }, `${/[.!?:…]$/.test(title) ? '' : '.'} ${detail}`)
        : null,
    )
    this.el.replaceChildren(msg)
    return msg
  }

  busy(text: string): void {
    this.show('busy', text)
  }

  clear(): void {
    this.el.replaceChildren()
  }
}

/** "5 May 2025, 14:03" in the reader's locale; "never" for null. */
export function formatTime(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined) return 'never'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return String(iso)
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

/** "in 9 minutes" / "3 hours ago", relative to now. */
export function relativeTime(ms: number, now = Date.now()): string {
  const diff = Math.round((ms - now) / 1000)
  const abs = Math.abs(diff)
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })
  if (abs < 60) return rtf.format(diff, 'second')
  if (abs < 3600) return rtf.format(Math.round(diff / 60), 'minute')
  if (abs < 86400) return rtf.format(Math.round(diff / 3600), 'hour')
  return rtf.format(Math.round(diff / 86400), 'day')
}

/** A `<time>` element for an ISO date. */
export function timeEl(iso: string | null | undefined): HTMLElement {
  if (!iso) return h('span', {}, 'never')
  return h('time', { datetime: iso }, formatTime(iso))
}
