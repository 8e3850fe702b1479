/**
 * Administration: registering an application (POST /api/manage/clients, CONTRACT
 * "Administration" and v2 "Scopes are granted, not echoed"). A public client has redirect URIs
 * (authorization code + PKCE); a machine client has a JWKS (private_key_jwt, no secrets). Its
 * `scopes` are a subset of the API scopes the service may grant (discovery `scopes_supported`
 * without openid and profile, which every client may have).
 *
 * The registered applications (CONTRACT v2 "Users and clients"): the list (GET
 * /api/manage/clients, 100 a page), editing name, roles, redirect URIs and scopes (PATCH
 * /api/manage/clients/{clientId}, only what changed) and deleting one after a confirmation
 * (DELETE: its tokens stop working).
 */
import { Notice, focusOn, h, srOnly, timeEl } from './dom.js'
import { explain } from './explain.js'
import { request } from './http.js'
import { authed } from './session.js'
import type { ClientCreatedBody } from '../shared/schemas/admin.js'

export interface ClientsDeps {
  form: HTMLFormElement
  name: HTMLInputElement
  redirectUris: HTMLTextAreaElement
  jwks: HTMLTextAreaElement
  roles: HTMLInputElement
  scopes: HTMLElement
  notice: Notice
  result: HTMLElement
  list: HTMLUListElement
  listNotice: Notice
  listHeading: HTMLElement
  more: HTMLButtonElement
}

type RegisteredClient = ClientCreatedBody

interface ClientPage {
  clients: RegisteredClient[]
  next?: string
}

const ALWAYS = new Set(['openid', 'profile'])

export class ClientsView {
  private loaded = false
  private apiScopes: string[] = []
  private clients: RegisteredClient[] = []
  private next: string | undefined

  constructor(private readonly d: ClientsDeps) {
    d.form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      void this.register()
    })
    d.more.addEventListener('click', () => void this.loadList(this.next))
  }

  /** Shows the API scopes (SCOPES) as checkboxes, once, and the registered applications. */
  async load(): Promise<void> {
    await Promise.all([this.loadScopes(), this.loadList()])
  }

  clear(): void {
    this.clients = []
    this.next = undefined
    this.d.list.replaceChildren()
  }

  private async loadScopes(): Promise<void> {
    if (this.loaded) return
    const meta = await request<{ scopes_supported?: string[] }>('/.well-known/openid-configuration')
    const api = (meta.scopes_supported ?? []).filter((s) => !ALWAYS.has(s))
    this.apiScopes = api
    this.d.scopes.replaceChildren(
      api.length
        ? h(
            'fieldset',
            { class: 'scopes' },
            h('legend', {}, 'API scopes it may be granted'),
            ...api.map((s) =>
              h(
                'label',
                { class: 'check' },
                h('input', { type: 'checkbox', name: 'scope', value: s }),
                ` ${s}`,
              ),
            ),
          )
        : h('p', { class: 'hint' }, 'No API scopes are configured (setting SCOPES): applications get openid and profile only.'),
    )
    this.loaded = true
  }

  private async register(): Promise<void> {
    const { notice, name, redirectUris, jwks, roles, scopes, result } = this.d
    const body: Record<string, unknown> = { name: name.value.trim() }
    const uris = redirectUris.value.split(/\s+/).filter(Boolean)
    const keys = jwks.value.trim()
    if (!body.name) return void focusOn(notice.show('error', 'Give the application a name.'))
    if (keys && uris.length) return void focusOn(notice.show('error', 'Give redirect URIs (an app people sign in to) or a JWKS (a machine client), not both.'))
    if (keys) {
      try {
        body.jwks = JSON.parse(keys)
      } catch {
        return void focusOn(notice.show('error', 'The JWKS is not valid JSON.', 'Paste the public keys as {"keys": [ … ]}.'))
      }
    } else body.redirect_uris = uris
    const roleNames = roles.value.split(/[\s,]+/).filter(Boolean)
    if (roleNames.length) body.roles = roleNames
    body.scopes = [...scopes.querySelectorAll<HTMLInputElement>('input[name="scope"]:checked')].map((x) => x.value)
    notice.busy('Registering the application…')
    try {
      const c = await authed<RegisteredClient>('/manage/clients', { json: body })
      notice.clear()
      result.replaceChildren(
        h(
          'div',
          { class: 'client-result' },
          h('h4', { tabindex: '-1' }, `Registered “${c.name}”`),
          h(
            'dl',
            { class: 'facts' },
            h('dt', {}, 'client_id'),
            h('dd', {}, h('code', {}, c.client_id)),
            h('dt', {}, 'Authentication'),
            h('dd', {}, c.token_endpoint_auth_method === 'none' ? 'none (public client, PKCE)' : 'private_key_jwt'),
            h('dt', {}, 'Scopes'),
            h('dd', { class: 'client-scopes' }, ['openid', 'profile', ...(c.scopes ?? [])].join(' ')),
            c.roles?.length ? [h('dt', {}, 'Roles'), h('dd', {}, c.roles.join(', '))] : null,
          ),
        ),
      )
      this.d.form.reset()
      focusOn(result.querySelector('h4'))
      this.clients = [...this.clients.filter((x) => x.client_id !== c.client_id), c]
      this.renderList()
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }

  // The registered applications

  private async loadList(cursor?: string): Promise<void> {
    const { list, listNotice } = this.d
    try {
      const page = await authed<ClientPage>(`/manage/clients${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`)
      this.clients = cursor ? [...this.clients, ...page.clients] : page.clients
      this.next = page.next
      this.renderList()
      if (cursor) listNotice.show('info', `${this.clients.length} applications shown.`)
    } catch (e) {
      list.setAttribute('aria-busy', 'false')
      const { title, detail } = explain(e)
      listNotice.show('error', title, detail)
    }
  }

  private itemId(c: RegisteredClient): string {
    return `client-${c.client_id}`
  }

  private renderList(): void {
    const { list, more } = this.d
    list.replaceChildren(
      ...(this.clients.length ? this.clients.map((c) => this.item(c)) : [h('li', { class: 'muted' }, 'No applications registered yet.')]),
    )
    list.setAttribute('aria-busy', 'false')
    more.hidden = !this.next
  }

  private item(c: RegisteredClient): HTMLLIElement {
    const box = h('div', { class: 'actions' })
    const li = h(
      'li',
      { class: 'item client', 'data-id': c.client_id },
      h(
        'div',
        { class: 'passkey-head' },
        h('h4', { id: this.itemId(c), tabindex: '-1', class: 'passkey-label' }, c.name),
        h('ul', { class: 'tags', 'aria-label': `About ${c.name}` }, h('li', { class: 'tag' }, isPublic(c) ? 'People sign in (PKCE)' : 'Machine client')),
      ),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'client_id'),
        h('dd', {}, h('code', {}, c.client_id)),
        c.redirect_uris?.length ? [h('dt', {}, 'Redirect URIs'), h('dd', {}, ...c.redirect_uris.map((u) => h('code', { class: 'block' }, u)))] : null,
        c.jwks_uri ? [h('dt', {}, 'JWKS URI'), h('dd', {}, h('code', {}, c.jwks_uri))] : null,
        c.jwks ? [h('dt', {}, 'Keys'), h('dd', {}, `${c.jwks.keys.length} public key${c.jwks.keys.length === 1 ? '' : 's'}`)] : null,
        h('dt', {}, 'Scopes'),
        h('dd', {}, ['openid', 'profile', ...(c.scopes ?? [])].join(' ')),
        c.roles?.length ? [h('dt', {}, 'Roles'), h('dd', {}, c.roles.join(', '))] : null,
        h('dt', {}, 'Registered'),
        h('dd', {}, timeEl(c.createdAt)),
      ),
      box,
    )
    this.fillActions(c, box)
    return li
  }

  private fillActions(c: RegisteredClient, box: HTMLElement): void {
    box.replaceChildren(
      h('button', { type: 'button', onclick: () => this.startEdit(c, box) }, 'Edit', srOnly(` ${c.name}`)),
      h('button', { type: 'button', class: 'danger', onclick: () => this.confirmDelete(c, box) }, 'Delete', srOnly(` ${c.name}`)),
    )
  }

  private startEdit(c: RegisteredClient, box: HTMLElement): void {
    const id = `edit-${c.client_id}`
    const field = (label: string, input: HTMLInputElement | HTMLTextAreaElement, key: string) => {
      input.id = `${id}-${key}`
      return [h('label', { for: input.id }, label), input]
    }
    const name = h('input', { name: 'name', value: c.name, maxlength: 100, required: true, autocomplete: 'off' })
    const roles = h('input', { name: 'roles', value: (c.roles ?? []).join(', '), autocomplete: 'off', spellcheck: 'false' })
    const uris = h('textarea', { name: 'redirect_uris', rows: 2, spellcheck: 'false', autocomplete: 'off' })
    uris.value = (c.redirect_uris ?? []).join('\n')
    const scopes = this.apiScopes.length
      ? h(
          'fieldset',
          { class: 'scopes' },
          h('legend', {}, 'API scopes it may be granted'),
          ...this.apiScopes.map((s) =>
            h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'scope', value: s, checked: (c.scopes ?? []).includes(s) }), ` ${s}`),
          ),
        )
      : null
    const cancel = () => {
      this.fillActions(c, box)
      focusOn(document.getElementById(this.itemId(c)))
    }
    const form = h(
      'form',
      {
        class: 'inline-form stack',
        'aria-label': `Edit ${c.name}`,
        onsubmit: (ev: Event) => {
          ev.preventDefault()
          const body: Record<string, unknown> = {}
          if (name.value.trim() !== c.name) body.name = name.value.trim()
          const roleNames = roles.value.split(/[\s,]+/).filter(Boolean)
          if (!isPublic(c) && roleNames.join(',') !== (c.roles ?? []).join(',')) body.roles = roleNames
          const uriList = uris.value.split(/\s+/).filter(Boolean)
          if (isPublic(c) && uriList.join(' ') !== (c.redirect_uris ?? []).join(' ')) body.redirect_uris = uriList
          const ticked = [...form.querySelectorAll<HTMLInputElement>('input[name="scope"]:checked')].map((x) => x.value)
          if (scopes && ticked.join(' ') !== (c.scopes ?? []).join(' ')) body.scopes = ticked
          void this.save(c, body)
        },
        onkeydown: (ev: Event) => {
          if ((ev as KeyboardEvent).key === 'Escape') cancel()
        },
      },
      field('Application name', name, 'name'),
      isPublic(c) ? field('Redirect URIs (one per line)', uris, 'uris') : field('Roles (comma separated)', roles, 'roles'),
      scopes,
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Save changes'), h('button', { type: 'button', onclick: cancel }, 'Cancel')),
    )
    box.replaceChildren(form)
    name.focus()
  }

  private async save(c: RegisteredClient, body: Record<string, unknown>): Promise<void> {
    const { listNotice } = this.d
    if (!Object.keys(body).length) {
      this.renderList()
      focusOn(document.getElementById(this.itemId(c)))
      listNotice.show('info', `Nothing to change in ${c.name}.`)
      return
    }
    listNotice.busy(`Saving ${c.name}…`)
    try {
      const updated = await authed<RegisteredClient>(`/manage/clients/${encodeURIComponent(c.client_id)}`, { method: 'PATCH', json: body })
      this.clients = this.clients.map((x) => (x.client_id === c.client_id ? updated : x))
      this.renderList()
      listNotice.show('success', `Saved ${updated.name}.`, 'The changes apply from its next request.')
      focusOn(document.getElementById(this.itemId(updated)))
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(listNotice.show('error', title, detail))
    }
  }

  private confirmDelete(c: RegisteredClient, box: HTMLElement): void {
    const keep = h('button', { type: 'button' }, 'Keep', srOnly(` ${c.name}`))
    keep.addEventListener('click', () => {
      this.fillActions(c, box)
      focusOn(document.getElementById(this.itemId(c)))
    })
    box.replaceChildren(
      h(
        'div',
        { class: 'confirm', role: 'group', 'aria-label': `Delete ${c.name}?` },
        h(
          'p',
          {},
          h('strong', {}, `Delete ${c.name}?`),
          ' Its refresh tokens stop at once and its access tokens within the authorizer’s cache time. Apps using its client_id can no longer sign anyone in.',
        ),
        h(
          'div',
          { class: 'row' },
          h('button', { type: 'button', class: 'danger', onclick: () => void this.remove(c) }, 'Delete for good', srOnly(` ${c.name}`)),
          keep,
        ),
      ),
    )
    keep.focus()
  }

  private async remove(c: RegisteredClient): Promise<void> {
    const { listNotice } = this.d
    listNotice.busy(`Deleting ${c.name}…`)
    try {
      await authed(`/manage/clients/${encodeURIComponent(c.client_id)}`, { method: 'DELETE' })
      this.clients = this.clients.filter((x) => x.client_id !== c.client_id)
      this.renderList()
      listNotice.show('success', `Deleted ${c.name}.`, 'Its tokens no longer work.')
      focusOn(this.d.listHeading)
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(listNotice.show('error', title, detail))
    }
  }
}

const isPublic = (c: RegisteredClient) => c.token_endpoint_auth_method === 'none'
