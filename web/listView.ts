/**
 * A self-service list loaded from one of the account's routes (sessions, approved apps): the
 * items, loading them with a failure told in the section's notice (the rest of the page goes on),
 * and clearing them when the person signs out. Subclasses render.
 */
import type { Notice } from './dom.js'
import { explain } from './explain.js'
import { authed } from './session.js'

export abstract class AccountList<T> {
  protected items: T[] = []

  protected constructor(
    private readonly path: string,
    private readonly base: { list: HTMLUListElement; notice: Notice },
  ) {}

  async load(): Promise<void> {
    try {
      this.items = await authed<T[]>(this.path)
      this.render()
    } catch (e) {
      const { title, detail } = explain(e)
      this.base.notice.show('error', title, detail)
    }
  }

  clear(): void {
    this.items = []
    this.base.list.replaceChildren()
  }

  protected abstract render(): void
}
