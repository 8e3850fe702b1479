/**
 * Administration (role `admin`, CONTRACT "Administration"): roles and their permissions
 * (GET /api/manage/roles, PUT/DELETE /api/manage/roles/{role}), who has which role
 * (GET /api/manage/users?username=…, PUT/DELETE /api/manage/users/{id}/roles/{role}), and the
 * audit log when the service offers one (GET /api/manage/audit answers 200).
 */
import { Notice, focusOn, formatTime, h, srOnly, timeEl } from './dom.js'
import { explain } from './explain.js'
import { ApiError } from './http.js'
import { authed } from './session.js'
import type { AuditEventBody, AuthenticatorTrustBody, ManagedUserBody, RoleBody } from '../shared/schemas/admin.js'
import type { CredentialView } from '../shared/schemas/webauthn.js'
import type { PermissionBody } from '../shared/schemas/authz.js'
import { ROLE_NAME } from '../shared/schemas/names.js'

export type Permission = PermissionBody
type Role = RoleBody
type ManagedUser = ManagedUserBody

export interface AdminDeps {
  section: HTMLElement
  rolesList: HTMLElement
  rolesNotice: Notice
  newRoleForm: HTMLFormElement
  newRoleName: HTMLInputElement
  userForm: HTMLFormElement
  userName: HTMLInputElement
  userResult: HTMLElement
  usersNotice: Notice
  audit: HTMLElement
  auditBody: HTMLElement
  auditNotice: Notice
  auditRefresh: HTMLButtonElement
  /** The authenticator policy and metadata in force (GET /api/manage/authenticators). */
  trust: HTMLElement
  trustNotice: Notice
  /** The signed-in user's id: changing one's own roles reloads the page's view of them. */
  selfId: () => string | undefined
  onSelfRolesChanged: () => void
}

/** Role names the service accepts (shared/routes/manage.ts). */
const ACRS = [
  { value: '', text: 'Any passkey' },
  { value: 'phr', text: 'phr (any passkey sign-in)' },
  { value: 'phrh', text: 'phrh (device-bound, attested passkey)' },
]
const ADMIN = 'admin'

let seq = 0

export class AdminView {
  private roles: Role[] = []
  private user: ManagedUser | undefined

  constructor(private readonly d: AdminDeps) {
    d.newRoleForm.addEventListener('submit', (ev) => {
      ev.preventDefault()
      void this.createRole()
    })
    d.userForm.addEventListener('submit', (ev) => {
      ev.preventDefault()
      void this.lookUp(d.userName.value.trim())
    })
    d.auditRefresh.addEventListener('click', () => void this.loadAudit(true))
  }

  async load(): Promise<void> {
    await Promise.all([this.loadRoles(), this.loadAudit(false), this.loadTrust()])
  }

  // Authenticator models (CONTRACT "Authenticator trust")

  private async loadTrust(): Promise<void> {
    try {
      const t = await authed<AuthenticatorTrustBody>('/manage/authenticators')
      const m = t.metadata
      const policy = Array.isArray(t.policy) ? `only these AAGUIDs: ${t.policy.join(', ')}` : t.policy
      this.d.trust.replaceChildren(
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Policy'),
          h('dd', { id: 'trust-policy' }, policy),
          h('dt', {}, 'Attestation asked for'),
          h('dd', {}, t.attestation),
          h('dt', {}, 'FIDO metadata'),
          h(
            'dd',
            { id: 'trust-metadata' },
            !m.configured
              ? 'none (METADATA_BLOB not set)'
              : m.no === undefined
                ? 'not loaded (see the service log)'
                : `BLOB no ${m.no}, ${m.models ?? 0} models (${m.refusedModels ?? 0} refused), next update ${m.nextUpdate}${m.stale ? ' (past: still used until a newer one verifies)' : ''}${m.source === 'url' ? ', downloaded daily' : ''}`,
          ),
        ),
        h('p', { id: 'trust-note', class: 'hint' }, t.note),
      )
    } catch (e) {
      const { title, detail } = explain(e)
      this.d.trustNotice.show('error', title, detail)
    }
  }

  // Roles and permissions

  private async loadRoles(): Promise<void> {
    try {
      this.roles = await authed<Role[]>('/manage/roles')
      this.renderRoles()
    } catch (e) {
      const { title, detail } = explain(e)
      this.d.rolesNotice.show('error', title, detail)
    }
  }

  private renderRoles(): void {
    const { rolesList } = this.d
    if (this.roles.length === 0) {
      rolesList.replaceChildren(h('p', { class: 'muted' }, 'No roles yet. Create one below.'))
      return
    }
    rolesList.replaceChildren(...this.roles.map((r) => this.roleForm(r)))
  }

  private roleHeadingId(name: string): string {
    return `role-${name}`
  }

  private roleForm(role: Role): HTMLFormElement {
    const list = h('div', { class: 'perms' })
    const addRow = (p: Permission) => list.append(this.permRow(role.name, p, list))
    for (const p of role.permissions) addRow(p)
    const empty = h(
      'p',
      { class: 'muted perms-empty' },
      'No permissions: this role allows nothing.',
    )
    const headingId = this.roleHeadingId(role.name)
    const form = h(
      'form',
      {
        class: 'role',
        'aria-labelledby': headingId,
        onsubmit: (ev: Event) => {
          ev.preventDefault()
          void this.saveRole(role.name, list)
        },
      },
      h(
        'div',
        { class: 'role-head' },
        h('h4', { id: headingId, tabindex: '-1' }, role.name),
        role.updatedAt ? h('span', { class: 'muted' }, 'changed ', timeEl(role.updatedAt)) : null,
      ),
      role.permissions.length ? null : empty,
      list,
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              empty.remove()
              addRow({ methods: ['GET'], path: '/' })
              const inputs = list.querySelectorAll<HTMLInputElement>('.perm:last-child input')
              focusOn(inputs[0])
            },
          },
          'Add permission',
          srOnly(` to ${role.name}`),
        ),
        h('button', { type: 'submit', class: 'primary' }, 'Save ', role.name),
        h(
          'button',
          { type: 'button', class: 'danger', onclick: () => void this.deleteRole(role.name) },
          'Delete role',
          srOnly(` ${role.name}`),
        ),
      ),
    )
    return form
  }

  private permRow(role: string, p: Permission, list: HTMLElement): HTMLFieldSetElement {
    const n = ++seq
    const field = (label: string, input: HTMLElement, hint?: string, wide = false) => {
      const id = `perm-${n}-${label.toLowerCase().replace(/\W+/g, '-')}`
      input.id = id
      const hintId = hint ? `${id}-hint` : undefined
      if (hintId) input.setAttribute('aria-describedby', hintId)
      return h(
        'div',
        { class: wide ? 'field field-wide' : 'field' },
        h('label', { for: id }, label),
        input,
        hint ? h('span', { id: hintId, class: 'hint' }, hint) : null,
      )
    }
    const acr = h(
      'select',
      { name: 'acr' },
      ...ACRS.map((a) =>
        h('option', { value: a.value, selected: (p.acr ?? '') === a.value }, a.text),
      ),
    )
    const fs = h(
      'fieldset',
      { class: 'perm' },
      h('legend', { class: 'sr-only' }, `Permission of ${role}`),
      field(
        'Methods',
        h('input', {
          name: 'methods',
          value: p.methods.join(', '),
          required: true,
          autocomplete: 'off',
          spellcheck: 'false',
        }),
        'e.g. GET, POST or *',
      ),
      field(
        'Path',
        h('input', {
          name: 'path',
          value: p.path,
          required: true,
          autocomplete: 'off',
          spellcheck: 'false',
        }),
        '* one segment, ** any depth',
      ),
      field(
        'API id',
        h('input', {
          name: 'apiId',
          value: p.apiId ?? '',
          autocomplete: 'off',
          spellcheck: 'false',
          placeholder: 'any API',
        }),
        undefined,
        true,
      ),
      field('Sign-in needed', acr, undefined, true),
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          onclick: () => {
            const next = (fs.nextElementSibling ?? fs.previousElementSibling) as HTMLElement | null
            fs.remove()
            focusOn(next?.querySelector('input') ?? list.closest('form')?.querySelector('h4'))
          },
        },
        'Remove',
        srOnly(' this permission'),
      ),
    )
    return fs
  }

  private readPermissions(list: HTMLElement): Permission[] {
    return [...list.querySelectorAll<HTMLFieldSetElement>('.perm')].map((fs) => {
      const v = (name: string) =>
        (
          fs.querySelector<HTMLInputElement | HTMLSelectElement>(`[name="${name}"]`)?.value ?? ''
        ).trim()
      const methods = v('methods')
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((m) => m.toUpperCase())
      const apiId = v('apiId')
      const acr = v('acr')
      // The select offers exactly the schema's acr values.
      return { methods, path: v('path'), ...(apiId ? { apiId } : {}), ...(acr ? { acr: acr as NonNullable<Permission['acr']> } : {}) }
    })
  }

  private async saveRole(name: string, list: HTMLElement): Promise<void> {
    const { rolesNotice } = this.d
    rolesNotice.busy(`Saving ${name}…`)
    try {
      const saved = await authed<Role>(`/manage/roles/${encodeURIComponent(name)}`, {
        method: 'PUT',
        json: { permissions: this.readPermissions(list) },
      })
      this.roles = this.roles.map((r) => (r.name === name ? saved : r))
      this.renderRoles()
      rolesNotice.show(
        'success',
        `Saved ${name}.`,
        `${saved.permissions.length} permission${saved.permissions.length === 1 ? '' : 's'}; the authorizer uses them from the next call.`,
      )
      focusOn(document.getElementById(this.roleHeadingId(name)))
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(rolesNotice.show('error', title, detail))
    }
  }

  private async deleteRole(name: string): Promise<void> {
    const { rolesNotice } = this.d
    rolesNotice.busy(`Deleting ${name}…`)
    try {
      await authed(`/manage/roles/${encodeURIComponent(name)}`, { method: 'DELETE' })
      this.roles = this.roles.filter((r) => r.name !== name)
      this.renderRoles()
      focusOn(
        rolesNotice.show(
          'success',
          `Deleted role ${name}.`,
          'Users who had it keep the name in their list, but it grants nothing.',
        ),
      )
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(rolesNotice.show('error', title, detail))
    }
  }

  private async createRole(): Promise<void> {
    const { newRoleName, rolesNotice } = this.d
    const name = newRoleName.value.trim().toLowerCase()
    if (!ROLE_NAME.test(name)) {
      newRoleName.setAttribute('aria-invalid', 'true')
      focusOn(
        rolesNotice.show(
          'error',
          'That role name is not valid.',
          'Use 1–64 lower-case letters, digits, dot, underscore or hyphen, starting with a letter or digit.',
        ),
      )
      return
    }
    newRoleName.removeAttribute('aria-invalid')
    if (this.roles.some((r) => r.name === name)) {
      focusOn(document.getElementById(this.roleHeadingId(name)))
      rolesNotice.show('info', `Role ${name} exists already.`, 'Edit it above.')
      return
    }
    rolesNotice.busy(`Creating ${name}…`)
    try {
      const saved = await authed<Role>(`/manage/roles/${encodeURIComponent(name)}`, {
        method: 'PUT',
        json: { permissions: [] },
      })
      this.roles = [...this.roles, saved].sort((a, b) => a.name.localeCompare(b.name))
      this.renderRoles()
      newRoleName.value = ''
      rolesNotice.show('success', `Created role ${name}.`, 'Add its permissions, then save.')
      focusOn(document.getElementById(this.roleHeadingId(name)))
      if (this.user) this.renderUser()
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(rolesNotice.show('error', title, detail))
    }
  }

  // Who has which role

  private async lookUp(username: string): Promise<void> {
    const { usersNotice, userResult } = this.d
    if (!username) {
      focusOn(usersNotice.show('error', 'Enter a username to look up.'))
      return
    }
    usersNotice.busy(`Looking up ${username}…`)
    try {
      const found = await authed<ManagedUser[]>(
        `/manage/users?username=${encodeURIComponent(username)}`,
      )
      this.user = found[0]
      if (!this.user) {
        userResult.replaceChildren()
        focusOn(usersNotice.show('info', `No user named ${username}.`))
        return
      }
      usersNotice.clear()
      this.renderUser()
      focusOn(userResult.querySelector('h4'))
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(usersNotice.show('error', title, detail))
    }
  }

  private renderUser(): void {
    const u = this.user
    if (!u) return
    const selectId = 'assign-role'
    const assignable = [ADMIN, ...this.roles.map((r) => r.name)].filter(
      (r, i, a) => a.indexOf(r) === i && !u.roles.includes(r),
    )
    const select = h(
      'select',
      { id: selectId },
      ...assignable.map((r) => h('option', { value: r }, r)),
    )
    this.d.userResult.replaceChildren(
      h(
        'div',
        { class: 'user-card' },
        h(
          'h4',
          { tabindex: '-1' },
          u.username,
          u.displayName && u.displayName !== u.username
            ? h('span', { class: 'muted' }, ` (${u.displayName})`)
            : null,
        ),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'User id'),
          h('dd', {}, h('code', {}, u.id)),
          u.createdAt ? [h('dt', {}, 'Member since'), h('dd', {}, formatTime(u.createdAt))] : null,
          u.credentials
            ? [h('dt', {}, 'Passkeys'), h('dd', {}, String(u.credentials.length))]
            : null,
        ),
        refusedModels(u.credentials ?? []),
        h('p', { id: 'user-roles-label', class: 'label' }, 'Roles'),
        u.roles.length
          ? h(
              'ul',
              { class: 'chips', 'aria-labelledby': 'user-roles-label' },
              ...u.roles.map((r) =>
                h(
                  'li',
                  { class: 'chip' },
                  h('span', {}, r),
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'subtle',
                      onclick: () => void this.changeRole(u, r, 'DELETE'),
                    },
                    'Remove',
                    srOnly(` role ${r} from ${u.username}`),
                  ),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No roles.'),
        assignable.length
          ? h(
              'form',
              {
                class: 'row',
                onsubmit: (ev: Event) => {
                  ev.preventDefault()
                  void this.changeRole(u, select.value, 'PUT')
                },
              },
              h('label', { for: selectId }, 'Role to add'),
              select,
              h(
                'button',
                { type: 'submit', class: 'primary' },
                'Add role',
                srOnly(` to ${u.username}`),
              ),
            )
          : null,
      ),
    )
  }

  private async changeRole(u: ManagedUser, role: string, method: 'PUT' | 'DELETE'): Promise<void> {
    const { usersNotice } = this.d
    usersNotice.busy(
      method === 'PUT'
        ? `Adding ${role} to ${u.username}…`
        : `Removing ${role} from ${u.username}…`,
    )
    try {
      const updated = await authed<ManagedUser>(
        `/manage/users/${encodeURIComponent(u.id)}/roles/${encodeURIComponent(role)}`,
        { method },
      )
      this.user = { ...u, roles: updated.roles }
      this.renderUser()
      usersNotice.show(
        'success',
        method === 'PUT'
          ? `${u.username} now has role ${role}.`
          : `${u.username} no longer has role ${role}.`,
        'The gateway applies it from the next decision it asks for.',
      )
      focusOn(this.d.userResult.querySelector('h4'))
      if (u.id === this.d.selfId()) this.d.onSelfRolesChanged()
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(usersNotice.show('error', title, detail))
    }
  }

  // Audit log

  /**
   * Shows the audit section only when the service answers GET /api/manage/audit with 200. Events
   * come oldest first, a page at a time (the last event's id is the next page's `since`); the
   * newest 100 are shown, newest first.
   */
  private async loadAudit(announce: boolean): Promise<void> {
    const { audit, auditBody, auditNotice } = this.d
    const PAGE = 1000
    let events: AuditEvent[] = []
    try {
      let since = ''
      for (let page = 0; page < 20; page++) {
        const batch = await authed<AuditEvent[]>(
          `/manage/audit?limit=${PAGE}${since ? `&since=${encodeURIComponent(since)}` : ''}`,
        )
        if (!Array.isArray(batch)) break
        events = [...events, ...batch].slice(-100)
        const last = batch[batch.length - 1]
        if (batch.length < PAGE || !last?.id) break
        since = String(last.id)
      }
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405 || e.status === 501)) {
        audit.hidden = true
        return
      }
      audit.hidden = false
      const { title, detail } = explain(e)
      auditNotice.show('error', title, detail)
      return
    }
    audit.hidden = false
    const recent = events.slice().reverse()
    auditBody.replaceChildren(...recent.map((ev) => auditRow(ev)))
    if (announce)
      auditNotice.show(
        'success',
        `Audit log refreshed: the ${recent.length} newest event${recent.length === 1 ? '' : 's'}.`,
      )
    else if (!recent.length) auditNotice.show('info', 'No events yet.')
    else auditNotice.clear()
  }
}

type AuditEvent = AuditEventBody

/** "alice", "client passkey-web", "system key-rotation-timer", … */
function who(x: Record<string, unknown> | undefined): string {
  if (!x) return ''
  const parts: string[] = []
  if (typeof x.username === 'string') parts.push(x.username)
  else if (typeof x.userId === 'string') parts.push(`user ${x.userId}`)
  if (typeof x.clientId === 'string') parts.push(`client ${x.clientId}`)
  if (typeof x.system === 'string') parts.push(`system ${x.system}`)
  for (const k of ['role', 'kid', 'credentialId'])
    if (typeof x[k] === 'string') parts.push(`${k === 'credentialId' ? 'passkey' : k} ${x[k]}`)
  return parts.join(', ')
}

function compact(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v !== 'object') return String(v)
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}: ${typeof x === 'string' ? x : JSON.stringify(x)}`)
    .join(' · ')
}

function auditRow(ev: AuditEvent): HTMLTableRowElement {
  const failed = ev.outcome === 'failure'
  return h(
    'tr',
    {},
    h(
      'td',
      { class: 'nowrap' },
      ev.time ? h('time', { datetime: ev.time }, formatTime(ev.time)) : '',
    ),
    h(
      'td',
      {},
      h('code', {}, String(ev.type ?? '')),
      failed ? h('span', { class: 'tag tag-flagged' }, 'failed') : null,
    ),
    h('td', {}, who(ev.actor)),
    h('td', {}, who(ev.target)),
    h(
      'td',
      { class: 'audit-rest' },
      compact(ev.detail),
      ev.ip ? h('span', { class: 'muted' }, `${ev.detail ? ' · ' : ''}from ${ev.ip}`) : null,
    ),
  )
}

/**
 * The passkeys of models the FIDO metadata now refuses (REVOKED or a compromise: CONTRACT
 * "Authenticator trust"), flagged on the user card: they are refused at sign-in.
 */
function refusedModels(credentials: readonly CredentialView[]): HTMLElement | null {
  const refused = credentials.filter((c) => c.authenticator?.refused)
  if (!refused.length) return null
  return h(
    'div',
    { class: 'notice notice-error refused-models', role: 'note' },
    h('strong', {}, `${refused.length} passkey${refused.length > 1 ? 's' : ''} of a refused authenticator model`),
    h(
      'ul',
      {},
      ...refused.map((c) => h('li', {}, `${c.label}: ${c.authenticator!.name} (${c.authenticator!.status ?? 'refused'}); refused at sign-in`)),
    ),
  )
}
