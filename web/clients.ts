/**
 * Administration: registering an application (POST /api/manage/clients, CONTRACT
 * "Administration" and v2 "Scopes are granted, not echoed"). A public client has redirect URIs
 * (authorization code + PKCE); a machine client has a JWKS (private_key_jwt, no secrets). Its
 * `scopes` are a subset of the API scopes the service may grant (discovery `scopes_supported`
 * without openid and profile, which every client may have).
 */
import { Notice, focusOn, h } from './dom.js'
import { explain } from './explain.js'
import { request } from './http.js'
import { authed } from './session.js'

export interface ClientsDeps {
  form: HTMLFormElement
  name: HTMLInputElement
  redirectUris: HTMLTextAreaElement
  jwks: HTMLTextAreaElement
  roles: HTMLInputElement
  scopes: HTMLElement
  notice: Notice
  result: HTMLElement
}

interface RegisteredClient {
  client_id: string
  name: string
  token_endpoint_auth_method: string
  redirect_uris?: string[]
  roles: string[]
  scopes: string[]
}

const ALWAYS = new Set(['openid', 'profile'])

export class ClientsView {
  private loaded = false

  constructor(private readonly d: ClientsDeps) {
    d.form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      void this.register()
    })
  }

  /** Shows the API scopes (SCOPES) as checkboxes, once. */
  async load(): Promise<void> {
    if (this.loaded) return
    const meta = await request<{ scopes_supported?: string[] }>('/.well-known/openid-configuration')
    const api = (meta.scopes_supported ?? []).filter((s) => !ALWAYS.has(s))
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
            h('dd', { class: 'client-scopes' }, ['openid', 'profile', ...c.scopes].join(' ')),
            c.roles.length ? [h('dt', {}, 'Roles'), h('dd', {}, c.roles.join(', '))] : null,
          ),
        ),
      )
      this.d.form.reset()
      focusOn(result.querySelector('h4'))
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notice.show('error', title, detail))
    }
  }
}
