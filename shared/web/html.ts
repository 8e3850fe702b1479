/**
 * Markup through `hono/html`: its `html` tagged template escapes every interpolated string
 * (`& < > " '`) and leaves nested `html` fragments (and `raw(…)`) as they are, so the pages need
 * no escape function of their own.
 */
import type { HtmlEscapedString } from 'hono/utils/html'

export { html, raw } from 'hono/html'

/** What `html` returns: escaped markup (a Promise only when a value inside was one). */
export type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>

/**
 * The markup as a plain string. `html` answers a Promise only when a value inside is one; the
 * pages put in strings, numbers and fragments only, so a Promise here is a programming error.
 *
 * @example
 * markup(html`<p>${name}</p>`) // '<p>&lt;b&gt;</p>' for name = '<b>'
 */
export function markup(fragment: Fragment): string {
  if (fragment instanceof Promise) throw new TypeError('markup(): an asynchronous value inside html``')
  return fragment.toString()
}
