/**
 * The passkey page (served at `/` locally and `/api/ui` behind the Functions host): wires the
 * markup of shared/web/page.ts to the service's API.
 *
 * Signed out: sign in (modal prompt, with or without a username, or from the browser's autofill
 * through conditional mediation, started on load) or create an account.
 * Signed in: passkeys, sessions, agents' requests and delegations, the access token's claims,
 * the sample API through the gateway, sign out, delete the account; administration for the
 * `admin` role (people, invitations, applications).
 * Opened from an invitation or recovery link (`#invitation=…`, `#recovery=…`): the landing view.
 */
import {
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  sendSignal,
} from '@simplewebauthn/browser'
import { AdminView, type AdminDeps } from './admin.js'
import { AgentsView } from './agents.js'
import { ClientsView, type ClientsDeps } from './clients.js'
import { DeleteAccountView } from './deleteAccount.js'
import { InvitationsView, type InvitationsDeps } from './invitations.js'
import { LandingView, takeLink } from './landing.js'
import { PeopleView, type PeopleDeps } from './people.js'
import { SessionsView } from './sessions.js'
import { ConsentsView } from './consents.js'
import { autofillSignIn, prompt, signIn, signUp, type SignedIn } from './ceremonies.js'
import { renderClaims } from './claims.js'
import { Notice, byId, byIds, focusOn, h, type ElementsOf } from './dom.js'
import { UNSUPPORTED, domErrorName, explain, isAborted } from './explain.js'
import { ApiError, request } from './http.js'
import { PasskeysView } from './passkeys.js'
import { SampleApiView } from './sampleApi.js'
import {
  authed,
  currentClaims,
  endEarlierSession,
  forget,
  isSignedIn,
  decodeClaims,
  onSessionEnded,
  onStepUpNeeded,
  onTokensChanged,
  refresh,
  replaceSession,
  restore,
  setTokens,
  signOut,
  type TokenResponse,
} from './session.js'
import type { MeBody } from '../shared/schemas/account.js'

type Me = MeBody

const metaContent = (name: string) =>
  document.querySelector<HTMLMetaElement>(`meta[name="passkey-edge:${name}"]`)?.content || undefined

const config = {
  rpId: metaContent('rp-id') ?? location.hostname,
  gatewayUrl: metaContent('gateway'),
  decisionTtl: Number(metaContent('decision-ttl') ?? 0),
}

const el = {
  loading: byId('view-loading'),
  signedOut: byId('view-signed-out'),
  signedIn: byId('view-signed-in'),
  landing: byId('view-landing'),
  signedOutTitle: byId('signed-out-title'),
  signedInTitle: byId('signed-in-title'),
  who: byId('who'),
  whoName: byId('who-name'),
  signOut: byId<HTMLButtonElement>('sign-out'),
  unsupported: byId('unsupported'),
  signInForm: byId<HTMLFormElement>('sign-in-form'),
  signInUsername: byId<HTMLInputElement>('sign-in-username'),
  signUpForm: byId<HTMLFormElement>('sign-up-form'),
  signUpUsername: byId<HTMLInputElement>('sign-up-username'),
  signUpDisplayName: byId<HTMLInputElement>('sign-up-display-name'),
  claims: byId<HTMLTableElement>('claims'),
  claimsRaw: byId('claims-raw'),
  refreshToken: byId<HTMLButtonElement>('refresh-token'),
  admin: byId('admin'),
}

const pageNotice = new Notice(byId('page-notice'))
Notice.page = pageNotice

const notices = {
  page: pageNotice,
  signIn: new Notice(byId('sign-in-notice')),
  signUp: new Notice(byId('sign-up-notice')),
  passkeys: new Notice(byId('passkeys-notice')),
  token: new Notice(byId('token-notice')),
  sessions: new Notice(byId('sessions-notice')),
  consents: new Notice(byId('consents-notice')),
  deleteAccount: new Notice(byId('delete-account-notice')),
  landing: new Notice(byId('landing-notice')),
  people: new Notice(byId('people-notice')),
  invite: new Notice(byId('invite-notice')),
  apps: new Notice(byId('apps-notice')),
}

let me: Me | undefined
const supported = browserSupportsWebAuthn()

// Views

function showView(view: 'loading' | 'signed-out' | 'signed-in' | 'landing'): void {
  el.loading.hidden = view !== 'loading'
  el.signedOut.hidden = view !== 'signed-out'
  el.signedIn.hidden = view !== 'signed-in'
  el.landing.hidden = view !== 'landing'
  el.who.hidden = view !== 'signed-in'
}

function showSignedOut(): void {
  clearAccount()
  showView('signed-out')
  void startAutofill()
}

/** Nothing of the account stays in the page (a shared computer, the next person, another account). */
function clearAccount(): void {
  me = undefined
  for (const id of [
    'passkey-list',
    'claims-raw',
    'api-result',
    'roles-list',
    'user-result',
    'client-result',
    'audit-body',
    'who-name',
  ])
    byId(id).replaceChildren()
  for (const view of [sessions, consents, people, invitations, clients]) view.clear()
  deleteAccount.reset()
  agents.stop()
  el.claims.querySelector('tbody')?.remove()
  for (const n of Object.values(notices)) if (n !== notices.page) n.clear()
  el.admin.hidden = true
}

const passkeys = new PasskeysView({
  list: byId<HTMLUListElement>('passkey-list'),
  notice: notices.passkeys,
  heading: byId('passkeys-title'),
  addForm: byId<HTMLFormElement>('add-passkey-form'),
  addLabel: byId<HTMLInputElement>('add-passkey-label'),
  rpId: config.rpId,
  userId: () => me?.id,
  onOwnPasskeyDeleted: () => {
    forget()
    showSignedOut()
    focusOn(
      notices.page.show(
        'success',
        'Passkey deleted, and you are signed out.',
        'You signed in with that passkey, so its session ended. Sign in with another passkey.',
      ),
    )
  },
})

const sessions = new SessionsView({
  list: byId<HTMLUListElement>('session-list'),
  notice: notices.sessions,
  heading: byId('sessions-title'),
  signOutOthers: byId<HTMLButtonElement>('sign-out-others'),
  passkeyLabel: (id) => passkeys.labelOf(id),
})

const consents = new ConsentsView({
  list: byId<HTMLUListElement>('consent-list'),
  notice: notices.consents,
  heading: byId('consents-title'),
  changed: () => void sessions.load(),
})

/** Where the passkey step-up (below) says what it is doing: the notice of the change asked for. */
let stepUpNotice: Notice = notices.passkeys

const deleteAccount = new DeleteAccountView({
  start: byId<HTMLButtonElement>('delete-account'),
  confirm: byId('delete-account-confirm'),
  notice: notices.deleteAccount,
  username: () => me?.username,
  stepUpIn: async (notice, call) => {
    stepUpNotice = notice
    try {
      return await call()
    } finally {
      stepUpNotice = notices.passkeys
    }
  },
  onDeleted: () => {
    const userID = me?.id
    forget()
    showSignedOut()
    // The browser may drop this account's passkeys from its lists (WebAuthn signal API).
    if (userID)
      sendSignal({ signalName: 'allAcceptedCredentials', rpID: config.rpId, userID, allAcceptedCredentialIDs: [] }).catch(() => {})
    focusOn(
      notices.page.show(
        'success',
        'Your account is deleted, and you are signed out.',
        'Its passkeys no longer sign in here; your device or password manager may list them until you remove them there.',
      ),
    )
  },
})

const agents = new AgentsView({
  approvalsList: byId<HTMLUListElement>('approval-list'),
  approvalsHeading: byId('approvals-title'),
  approvalsNotice: new Notice(byId('approvals-notice')),
  checkButton: byId<HTMLButtonElement>('approvals-check'),
  delegationsList: byId<HTMLUListElement>('delegation-list'),
  delegationsHeading: byId('delegations-title'),
  delegationsNotice: new Notice(byId('delegations-notice')),
})

new SampleApiView({
  gatewayUrl: config.gatewayUrl,
  buttons: byId('api-operations'),
  result: byId('api-result'),
  notice: new Notice(byId('api-notice')),
  // A step-up the gateway asks for (RFC 9470): the same passkey confirmation as account changes.
  stepUp: (notice) => confirmWithPasskey(notice, 'Confirm it is you with one of your passkeys…'),
})
byId('gateway-url').textContent = config.gatewayUrl ?? 'none configured'
byId('decision-ttl-note').textContent =
  config.decisionTtl > 0
    ? `The gateway may reuse a decision for the same token for up to ${config.decisionTtl} seconds; “Get a new access token” skips that.`
    : ''

const admin = new AdminView({
  section: el.admin,
  ...byIds<Omit<ElementsOf<AdminDeps>, 'section'>>({
    rolesList: 'roles-list',
    newRoleForm: 'new-role-form',
    newRoleName: 'new-role-name',
    userForm: 'user-form',
    userName: 'user-name',
    userResult: 'user-result',
    audit: 'audit',
    auditBody: 'audit-body',
    auditRefresh: 'audit-refresh',
    trust: 'trust',
  }),
  rolesNotice: new Notice(byId('roles-notice')),
  trustNotice: new Notice(byId('trust-notice')),
  usersNotice: new Notice(byId('users-notice')),
  auditNotice: new Notice(byId('audit-notice')),
  selfId: () => me?.id,
  onSelfRolesChanged: () => void loadMe(),
})

const clients = new ClientsView({
  ...byIds<ElementsOf<ClientsDeps>>({
    form: 'client-form',
    name: 'client-name',
    redirectUris: 'client-redirects',
    jwks: 'client-jwks',
    roles: 'client-roles',
    scopes: 'client-scopes',
    result: 'client-result',
    list: 'app-list',
    listHeading: 'apps-title',
    more: 'apps-more',
  }),
  notice: new Notice(byId('clients-notice')),
  listNotice: notices.apps,
})

const people = new PeopleView({
  ...byIds<ElementsOf<PeopleDeps>>({
    list: 'people-list',
    heading: 'people-title',
    next: 'people-next',
    previous: 'people-previous',
    pageLabel: 'people-page',
  }),
  notice: notices.people,
  selfId: () => me?.id,
})

const invitations = new InvitationsView({
  ...byIds<ElementsOf<InvitationsDeps>>({
    section: 'invite',
    form: 'invite-form',
    username: 'invite-username',
    displayName: 'invite-display-name',
    roles: 'invite-roles',
    ttl: 'invite-ttl',
    result: 'invite-result',
    list: 'invitation-list',
    listHeading: 'invitations-title',
  }),
  notice: notices.invite,
})

const landing = new LandingView({
  title: byId('landing-title'),
  lead: byId('landing-lead'),
  notice: notices.landing,
  create: byId<HTMLButtonElement>('landing-create'),
  retry: byId<HTMLButtonElement>('landing-retry'),
  leave: byId<HTMLButtonElement>('landing-leave'),
  supported,
  show: () => {
    stopAutofill()
    notices.page.clear()
    showView('landing')
  },
  onEnrolled: async (r, kind) => {
    // One session per tab: one this tab held before the link is ended.
    await endEarlierSession()
    // The earlier account's views (an invitation link shown once, results) go with its session.
    clearAccount()
    await enterAccount(
      { tokens: r.tokens!, credentialId: r.credential.id },
      kind === 'invitation'
        ? `Welcome, ${r.user.username}: your account and its first passkey are ready.`
        : `Your new passkey is ready, and you are signed in as ${r.user.username}.`,
    )
    if (kind === 'recovery')
      notices.passkeys.show(
        'info',
        'Lost your other passkeys?',
        'Delete them below, so that whoever finds them cannot sign in. Your earlier sessions have ended.',
      )
  },
  onLeave: () => void resume(),
})

onTokensChanged(() => {
  const claims = currentClaims()
  if (claims) renderClaims(el.claims, el.claimsRaw, claims)
})

// Adding, renaming or deleting a passkey, and deleting the account, need a recent sign-in
// (REAUTH_MAX_AGE): when the service asks for one, sign in again with one of this account's
// passkeys, then the change is retried (session.ts `authed`). The change's own notice speaks.
onStepUpNeeded(() => confirmWithPasskey(stepUpNotice, 'This change needs a recent sign-in: confirm it is you with one of your passkeys…'))

/** A passkey sign-in of this account that replaces the page's session (a step-up). */
async function confirmWithPasskey(notice: Notice, busy: string): Promise<void> {
  if (!me) throw new ApiError(401, 'Not signed in', 'Sign in again.')
  notice.busy(busy)
  const result = await signIn(me.username)
  if (decodeClaims(result.tokens.access_token).sub !== me.id) {
    await request('/oauth2/revoke', { form: { token: result.tokens.refresh_token ?? '', token_type_hint: 'refresh_token' } }).catch(() => {})
    throw new ApiError(403, 'That passkey belongs to another account', `Confirm with a passkey of ${me.username}.`)
  }
  await replaceSession(result.tokens, result.credentialId)
}

onSessionEnded((reason) => {
  showSignedOut()
  focusOn(notices.page.show('info', reason))
})

async function loadMe(): Promise<void> {
  me = await authed<Me>('/me')
  el.whoName.textContent =
    me.displayName && me.displayName !== me.username
      ? `${me.displayName} (${me.username})`
      : me.username
  const isAdmin = me.roles.includes('admin')
  el.admin.hidden = !isAdmin
  if (isAdmin) await Promise.all([admin.load(), clients.load(), people.load(), invitations.load()])
}

/** The signed-in view's data: the account, its passkeys, then its sessions (which name them). */
async function loadAccount(): Promise<void> {
  await Promise.all([loadMe(), passkeys.load().then(() => sessions.load()), consents.load(), agents.start()])
}

/** After any sign-in: the signed-in view, filled, with focus on its heading. */
async function enterAccount(
  result: SignedIn | { tokens: TokenResponse; credentialId: string },
  message: string,
): Promise<void> {
  stopAutofill()
  setTokens(result.tokens, result.credentialId)
  notices.signIn.clear()
  notices.signUp.clear()
  notices.passkeys.clear()
  el.signInUsername.value = ''
  showView('signed-in')
  notices.page.show('success', message)
  focusOn(el.signedInTitle)
  try {
    await loadAccount()
    if (me) {
      sendSignal({
        signalName: 'currentUserDetails',
        rpID: config.rpId,
        userID: me.id,
        userName: me.username,
        userDisplayName: me.displayName,
      }).catch(() => {})
    }
  } catch (e) {
    if (!isSignedIn()) return
    const { title, detail } = explain(e)
    notices.page.show('error', title, detail)
  }
}

// Conditional mediation (autofill)

let autofillRun = 0
/** Conditional requests restarted by themselves since the last sign-in or button press. */
let autofillRetries = 0

/**
 * Starts a conditional request when the browser supports it (`isConditionalMediationAvailable()`),
 * so the browser offers passkeys in the username field's autofill. Errors stay quiet: a person
 * who ignores the suggestions has nothing to be told; the buttons remain.
 */
async function startAutofill(): Promise<void> {
  if (!supported || isSignedIn()) return
  const run = ++autofillRun
  if (!(await browserSupportsWebAuthnAutofill().catch(() => false))) return
  try {
    const result = await autofillSignIn(
      () => run === autofillRun && !isSignedIn(),
      (timeoutMs) => scheduleRenewal(run, timeoutMs),
    )
    if (!result || run !== autofillRun) return
    await enterAccount(result, 'Signed in with your passkey.')
  } catch (e) {
    if (run !== autofillRun || isAborted(e)) return
    // No passkey chosen (or none for this site): the request ended without one. Stay quiet.
    if (domErrorName(e) === 'NotAllowedError') return
    if (e instanceof ApiError) {
      const { title, detail } = explain(e)
      notices.signIn.show('error', title, detail)
      signalUnknown(e)
      // The challenge went stale while the suggestions waited (CHALLENGE_TTL): offer them again,
      // with a fresh one. Only a few times in a row, so a browser that answers conditional
      // requests by itself cannot loop.
      if (
        (e.code === 'challenge_expired' || e.code === 'challenge_unknown') &&
        autofillRetries++ < 3
      )
        void startAutofill()
    }
  }
}

/**
 * The challenge behind the suggestions lives CHALLENGE_TTL (the options' `timeout`); a passkey
 * picked later would be refused. Shortly before that, start a fresh conditional request, waiting
 * until the username field is not in use so an open suggestion list is not pulled away.
 */
function scheduleRenewal(run: number, timeoutMs: number | undefined): void {
  if (!timeoutMs) return
  setTimeout(
    function renew() {
      if (run !== autofillRun || isSignedIn()) return
      if (document.activeElement === el.signInUsername) {
        el.signInUsername.addEventListener('blur', renew, { once: true })
        return
      }
      void startAutofill()
    },
    Math.max(10_000, timeoutMs - 20_000),
  )
}

/** Stops offering passkeys in autofill (a button press or sign-in replaces the conditional request). */
function stopAutofill(): void {
  autofillRun++
  autofillRetries = 0
}

// Sign in, sign up, sign out

/**
 * A ceremony form's `submit` (sign in, sign up): where the browser has no WebAuthn, only the
 * reason; else `ceremony`, and a failure other than the person cancelling is explained in the
 * form's notice (after `onError`, for what the form adds) and the autofill suggestions come back.
 */
function onCeremonySubmit(
  form: HTMLFormElement,
  notice: Notice,
  what: 'sign-in' | 'sign-up',
  ceremony: () => Promise<void>,
  onError: (e: unknown) => void,
): void {
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    void (async () => {
      if (!supported) return focusOn(notice.show('error', UNSUPPORTED.title, UNSUPPORTED.detail))
      try {
        await ceremony()
      } catch (e) {
        if (isAborted(e)) return
        const { title, detail } = explain(e, { ...prompt, what })
        onError(e)
        focusOn(notice.show('error', title, detail))
        void startAutofill()
      }
    })()
  })
}

onCeremonySubmit(
  el.signInForm,
  notices.signIn,
  'sign-in',
  async () => {
    const username = el.signInUsername.value.trim()
    stopAutofill()
    notices.signIn.busy('Follow your browser’s prompt to choose a passkey…')
    const result = await signIn(username || undefined)
    await enterAccount(result, 'Signed in with your passkey.')
  },
  signalUnknown,
)

/** The service does not know the passkey that was used: tell the browser, so it stops offering it. */
function signalUnknown(e: unknown): void {
  if (e instanceof ApiError && e.code === 'credential_unknown' && e.credentialId)
    sendSignal({
      signalName: 'unknownCredential',
      rpID: config.rpId,
      credentialID: e.credentialId,
    }).catch(() => {})
}

onCeremonySubmit(
  el.signUpForm,
  notices.signUp,
  'sign-up',
  async () => {
    const notice = notices.signUp
    const username = el.signUpUsername.value.trim()
    if (username.length < 3) {
      el.signUpUsername.setAttribute('aria-invalid', 'true')
      focusOn(
        notice.show(
          'error',
          'Choose a username first.',
          'It needs at least 3 characters: letters, digits and . _ @ + -',
        ),
      )
      el.signUpUsername.focus()
      return
    }
    el.signUpUsername.removeAttribute('aria-invalid')
    stopAutofill()
    notice.busy('Follow your browser’s prompt to create your passkey…')
    const r = await signUp(username, el.signUpDisplayName.value.trim() || undefined)
    if (!r.tokens) throw new Error('The account was created but no tokens came back: sign in.')
    el.signUpUsername.value = ''
    el.signUpDisplayName.value = ''
    await enterAccount(
      { tokens: r.tokens, credentialId: r.credential.id },
      `Welcome, ${r.user.username}: your account and its first passkey are ready.`,
    )
  },
  (e) => {
    if (e instanceof ApiError && e.code === 'username_taken')
      el.signUpUsername.setAttribute('aria-invalid', 'true')
  },
)

el.signOut.addEventListener('click', () => {
  void (async () => {
    el.signOut.setAttribute('aria-disabled', 'true')
    let warning: string | undefined
    try {
      await signOut()
    } catch {
      warning =
        'The service could not be told (your tokens are forgotten here and expire soon anyway).'
    } finally {
      el.signOut.removeAttribute('aria-disabled')
    }
    showSignedOut()
    notices.page.show('success', 'You are signed out.', warning)
    focusOn(el.signedOutTitle)
  })()
})

el.refreshToken.addEventListener('click', () => {
  void (async () => {
    notices.token.busy('Getting a new access token…')
    try {
      await refresh()
      notices.token.show(
        'success',
        'New access token received.',
        'The claims above are the new token’s.',
      )
    } catch (e) {
      const { title, detail } = explain(e)
      focusOn(notices.token.show('error', title, detail))
    }
  })()
})

// Start

async function start(): Promise<void> {
  if (!supported) {
    el.unsupported.hidden = false
    el.unsupported.replaceChildren(h('strong', {}, UNSUPPORTED.title), ` ${UNSUPPORTED.detail}`)
  }
  const link = takeLink()
  if (link) return await landing.open(link)
  await resume()
}

// A link opened in a tab that shows the page already (only the fragment changed).
window.addEventListener('hashchange', () => {
  const link = takeLink()
  if (link) void landing.open(link)
})

/** The signed-in view from this tab's saved session, else the signed-out view. */
async function resume(): Promise<void> {
  if (isSignedIn() || (await restore())) {
    showView('signed-in')
    try {
      await loadAccount()
      return
    } catch (e) {
      if (isSignedIn()) {
        const { title, detail } = explain(e)
        notices.page.show('error', title, detail)
        return
      }
    }
  }
  showSignedOut()
}

void start()
