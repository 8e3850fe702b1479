/**
 * The passkey page's HTML: sign up, sign in (with a username, without one, or from autofill),
 * the landing view of an invitation or recovery link, manage passkeys and sessions, approve
 * agents' requests and revoke their delegations, see the access token, try the sample API,
 * delete the account, and administration for admins.
 *
 * The markup is static; web/main.ts (bundled into assets.generated.json by scripts/build.mjs)
 * brings it to life. No inline script or style: the page's CSP allows only its own files. Values
 * go in through `html` (hono/html), which escapes them.
 */
import { html, markup } from './html.js'

export interface PageOptions {
  /** Where the assets are served: `/assets` locally, `/api/ui/assets` behind the Functions host. */
  assetBase: string
  /** The gateway in front of the sample API (the dev gateway locally), if any. */
  gatewayUrl?: string
  /** The service's WebAuthn RP ID (for the browser's passkey signals). */
  rpId: string
  /** AUTHZ_CACHE_TTL: how long the gateway may reuse a decision for the same token, seconds. */
  decisionTtl: number
  /** SHA-256 (base64) of the script and the stylesheet (shared/web/assets.ts): SRI and cache busting. */
  assets: { jsSha256: string; cssSha256: string }
}

/** `?v=` busts caches when the asset changes; `integrity` pins the exact bytes (SRI). */
const version = (sha256: string) => encodeURIComponent(sha256.slice(0, 12))

/**
 * Renders the page for one place it is served from.
 *
 * @example
 * renderPage({ assetBase: '/assets', gatewayUrl: 'http://localhost:7072', rpId: 'localhost', decisionTtl: 30, assets })
 */
export function renderPage({ assetBase, gatewayUrl, rpId, decisionTtl, assets }: PageOptions): string {
  const { jsSha256: APP_JS_SHA256, cssSha256: APP_CSS_SHA256 } = assets
  const gateway = gatewayUrl ? html`<meta name="passkey-edge:gateway" content="${gatewayUrl}">\n` : ''
  return markup(html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Passkey Edge</title>
<meta name="passkey-edge:rp-id" content="${rpId}">
<meta name="passkey-edge:decision-ttl" content="${decisionTtl}">
${gateway}<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assetBase}/app.css?v=${version(APP_CSS_SHA256)}" integrity="sha256-${APP_CSS_SHA256}">
<script defer src="${assetBase}/app.js?v=${version(APP_JS_SHA256)}" integrity="sha256-${APP_JS_SHA256}"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
  <div class="wrap site-inner">
    <p class="brand"><span class="brand-mark" aria-hidden="true"></span>Passkey Edge</p>
    <div id="who" class="who" hidden>
      <span>Signed in as <strong id="who-name"></strong></span>
      <button id="sign-out" type="button">Sign out</button>
    </div>
  </div>
</header>
<main id="main" class="wrap" tabindex="-1">
<noscript><p class="notice notice-error"><strong>Problem:</strong> this page needs JavaScript to use passkeys.</p></noscript>
<div id="page-notice" class="notice-area" role="status" aria-live="polite"></div>

<div id="view-loading" class="loading"><p>Loading…</p></div>

<div id="view-signed-out" hidden>
  <h1 id="signed-out-title" tabindex="-1">Sign in without a password</h1>
  <p class="lead">Use a <strong>passkey</strong>: your phone’s or computer’s screen lock (fingerprint, face or PIN), or a security key. Nothing to remember, nothing to type, and it only works on this site, so it cannot be phished.</p>
  <div id="unsupported" class="notice notice-error" hidden></div>
  <div class="columns">
    <section class="card" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <form id="sign-in-form" novalidate>
        <label for="sign-in-username">Username <span class="optional">(optional)</span></label>
        <input id="sign-in-username" name="username" type="text" autocomplete="username webauthn" autocapitalize="none" spellcheck="false" maxlength="64" aria-describedby="sign-in-hint">
        <p id="sign-in-hint" class="hint">Leave it empty to choose from the passkeys saved for this site. Your browser may also offer them as suggestions when you select this field.</p>
        <button type="submit" class="primary">Sign in with a passkey</button>
      </form>
      <div id="sign-in-notice" class="notice-area" role="status" aria-live="polite"></div>
    </section>
    <section class="card" aria-labelledby="sign-up-title">
      <h2 id="sign-up-title">Create an account</h2>
      <form id="sign-up-form" novalidate>
        <label for="sign-up-username">Username</label>
        <input id="sign-up-username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required minlength="3" maxlength="64" aria-describedby="sign-up-username-hint">
        <p id="sign-up-username-hint" class="hint">3–64 characters: letters, digits and . _ @ + -</p>
        <label for="sign-up-display-name">Display name <span class="optional">(optional)</span></label>
        <input id="sign-up-display-name" name="displayName" type="text" autocomplete="name" maxlength="64" aria-describedby="sign-up-display-hint">
        <p id="sign-up-display-hint" class="hint">Shown by your device when it offers this passkey.</p>
        <button type="submit" class="primary">Create account with a passkey</button>
      </form>
      <div id="sign-up-notice" class="notice-area" role="status" aria-live="polite"></div>
    </section>
  </div>
  <details class="explain">
    <summary>What is a passkey?</summary>
    <p>A passkey is a key pair made for this site alone. The private half stays on your device or in your password manager and is unlocked by your screen lock; the site keeps only the public half. Signing in proves you hold the private half without ever sending it, so there is no password that could leak, be guessed or be typed into a fake site.</p>
    <p>Some passkeys are <strong>synced</strong> across your devices by your password manager (for example iCloud Keychain or Google Password Manager); others are <strong>device-bound</strong> and stay on one device or security key.</p>
  </details>
</div>

<div id="view-landing" hidden>
  <section class="card landing" aria-labelledby="landing-title">
    <h1 id="landing-title" tabindex="-1">Checking your link…</h1>
    <p id="landing-lead" class="lead"></p>
    <div id="landing-notice" class="notice-area" role="status" aria-live="polite"></div>
    <div class="row">
      <button id="landing-create" type="button" class="primary" hidden>Create your passkey</button>
      <button id="landing-retry" type="button" hidden>Try again</button>
      <button id="landing-leave" type="button">Go to the sign-in page</button>
    </div>
  </section>
</div>

<div id="view-signed-in" hidden>
  <h1 id="signed-in-title" tabindex="-1">Your account</h1>

  <section class="card" aria-labelledby="passkeys-title">
    <h2 id="passkeys-title" tabindex="-1">Your passkeys</h2>
    <p>Each passkey below can sign you in to this account. Keep at least two, on different devices, so that losing one device does not lock you out.</p>
    <div id="passkeys-notice" class="notice-area" role="status" aria-live="polite"></div>
    <ul id="passkey-list" class="passkeys" aria-labelledby="passkeys-title" aria-busy="true"></ul>
    <form id="add-passkey-form" class="add-passkey">
      <div class="field">
        <label for="add-passkey-label">Name for the new passkey <span class="optional">(optional)</span></label>
        <input id="add-passkey-label" name="label" type="text" maxlength="64" autocomplete="off" aria-describedby="add-passkey-hint">
        <span id="add-passkey-hint" class="hint">For example “Work laptop” or “Blue security key”. Without one, the device’s name is used.</span>
      </div>
      <button type="submit" class="primary">Add a passkey</button>
    </form>
    <details class="explain">
      <summary>Synced or device-bound: which should I use?</summary>
      <p><strong>Synced</strong> passkeys live in a password manager (iCloud Keychain, Google Password Manager, 1Password, …) and follow you to your other devices. If you lose a phone, you keep your passkey. This suits most people.</p>
      <p><strong>Device-bound</strong> passkeys never leave the device or security key that made them. They cannot be copied, which some organisations require, but if that device is lost, so is the passkey: keep a second one.</p>
    </details>
    <details class="explain">
      <summary>Why can’t I delete my last passkey?</summary>
      <p>Your passkeys are the only way into this account: there is no password to fall back on. Deleting the last one would lock you out for good, so the service refuses. Add another passkey first, then delete the old one.</p>
    </details>
  </section>

  <section class="card" aria-labelledby="sessions-title">
    <h2 id="sessions-title" tabindex="-1">Your sessions</h2>
    <p>Everywhere this account is signed in: this browser, your other devices, and apps you signed in to with it. Sign out any you do not recognise.</p>
    <div id="sessions-notice" class="notice-area" role="status" aria-live="polite"></div>
    <ul id="session-list" class="items" aria-labelledby="sessions-title" aria-busy="true"></ul>
    <div class="row"><button id="sign-out-others" type="button" class="danger" hidden>Sign out everywhere else</button></div>
  </section>

  <section class="card" aria-labelledby="consents-title">
    <h2 id="consents-title" tabindex="-1">Apps you approved</h2>
    <p>Apps you let in with your passkey on the sign-in page, and what they may use. Withdrawing one signs it out of this account.</p>
    <div id="consents-notice" class="notice-area" role="status" aria-live="polite"></div>
    <ul id="consent-list" class="items" aria-labelledby="consents-title" aria-busy="true"></ul>
  </section>

  <section class="card" aria-labelledby="approvals-title">
    <h2 id="approvals-title" tabindex="-1">Requests from agents</h2>
    <p>An agent (an assistant or another program) that an administrator registered can ask to act for you. Check who asks and what for: approve only what you expect, with one of your passkeys.</p>
    <div id="approvals-notice" class="notice-area" role="status" aria-live="polite"></div>
    <ul id="approval-list" class="passkeys" aria-labelledby="approvals-title" aria-busy="true"></ul>
    <div class="row"><button id="approvals-check" type="button">Check for requests</button></div>
  </section>

  <section class="card" aria-labelledby="delegations-title">
    <h2 id="delegations-title" tabindex="-1">Agents acting for you</h2>
    <p>Agents you approved without limiting them to single calls keep acting for you, within your roles and theirs, until you revoke them.</p>
    <div id="delegations-notice" class="notice-area" role="status" aria-live="polite"></div>
    <ul id="delegation-list" class="passkeys" aria-labelledby="delegations-title" aria-busy="true"></ul>
  </section>

  <section class="card" aria-labelledby="token-title">
    <h2 id="token-title">Your access token</h2>
    <p>Apps send this short-lived token to APIs to show who you are. Here is what it says:</p>
    <div class="table-scroll">
      <table id="claims" class="claims">
        <caption class="sr-only">Claims of your current access token</caption>
        <thead><tr><th scope="col">Claim</th><th scope="col">Value</th><th scope="col">Meaning</th></tr></thead>
      </table>
    </div>
    <details class="explain">
      <summary>The token as JSON</summary>
      <pre id="claims-raw" class="code"></pre>
    </details>
    <div class="row">
      <button id="refresh-token" type="button">Get a new access token</button>
    </div>
    <div id="token-notice" class="notice-area" role="status" aria-live="polite"></div>
  </section>

  <section class="card" aria-labelledby="api-title">
    <h2 id="api-title">Try the sample API</h2>
    <p>These calls go through the gateway (<span id="gateway-url" class="mono"></span>), which checks your token and asks the authorizer whether your roles permit the method and path. <span id="decision-ttl-note"></span></p>
    <div id="api-operations" class="operations" role="group" aria-label="Sample API calls"></div>
    <div id="api-result" class="api-result" tabindex="-1" role="status" aria-live="polite"></div>
    <div id="api-notice" class="notice-area" role="status" aria-live="polite"></div>
  </section>

  <section class="card danger-zone" aria-labelledby="delete-account-title">
    <h2 id="delete-account-title">Delete your account</h2>
    <p>Erases this account: its passkeys, sessions and roles. Every app signed in with it is signed out, and the username becomes free for someone else. There is no undo.</p>
    <div id="delete-account-notice" class="notice-area" role="status" aria-live="polite"></div>
    <div class="row"><button id="delete-account" type="button" class="danger">Delete my account…</button></div>
    <div id="delete-account-confirm" hidden></div>
  </section>

  <section id="admin" class="card admin" aria-labelledby="admin-title" hidden>
    <h2 id="admin-title">Administration</h2>
    <p>You have the <code>admin</code> role. Changes apply to everyone at once.</p>

    <section aria-labelledby="roles-title">
      <h3 id="roles-title">Roles and permissions</h3>
      <p class="hint">A permission lets a role call some methods on a path of an API behind the gateway. Paths are globs: <code>*</code> matches one segment, <code>**</code> any depth (<code>/orders/**</code> covers <code>/orders</code> and everything under it). Leave the API id empty to match any API.</p>
      <div id="roles-notice" class="notice-area" role="status" aria-live="polite"></div>
      <div id="roles-list" class="roles"></div>
      <form id="new-role-form" class="row new-role">
        <label for="new-role-name">New role name</label>
        <input id="new-role-name" name="role" type="text" autocomplete="off" spellcheck="false" maxlength="64" aria-describedby="new-role-hint">
        <button type="submit">Create role</button>
        <span id="new-role-hint" class="hint">Lower-case letters, digits, dot, underscore or hyphen.</span>
      </form>
    </section>

    <section aria-labelledby="users-title">
      <h3 id="users-title">Who has which role</h3>
      <form id="user-form" class="row">
        <label for="user-name">Username to look up</label>
        <input id="user-name" name="username" type="search" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="64">
        <button type="submit">Look up</button>
      </form>
      <div id="users-notice" class="notice-area" role="status" aria-live="polite"></div>
      <div id="user-result"></div>
    </section>

    <section aria-labelledby="trust-title">
      <h3 id="trust-title">Authenticator models</h3>
      <p class="hint">Which authenticator models may hold an account: <code>AUTHENTICATOR_POLICY</code> (<code>any</code>, <code>certified</code> or a list of AAGUIDs) with the FIDO Metadata Service BLOB (<code>METADATA_BLOB</code>). Set in the service’s settings, not here.</p>
      <div id="trust-notice" class="notice-area" role="status" aria-live="polite"></div>
      <div id="trust"></div>
    </section>

    <section aria-labelledby="people-title">
      <h3 id="people-title" tabindex="-1">People</h3>
      <p class="hint">Everyone with an account, 100 a page. Disabling ends a person’s sessions and refuses their sign-ins until you enable them again. A recovery link lets someone who lost every passkey add a new one.</p>
      <div id="people-notice" class="notice-area" role="status" aria-live="polite"></div>
      <ul id="people-list" class="items" aria-labelledby="people-title" aria-busy="true"></ul>
      <div class="row">
        <button id="people-previous" type="button" hidden>Previous page</button>
        <button id="people-next" type="button" hidden>Next page</button>
        <span id="people-page" class="hint"></span>
      </div>
    </section>

    <section id="invite" aria-labelledby="invite-title" hidden>
      <h3 id="invite-title">Invite someone</h3>
      <p class="hint">An invitation link lets one person create a passkey for the username you choose, with the roles you give, even while self-service sign-up is closed. The link is shown once.</p>
      <form id="invite-form" class="stack" novalidate>
        <label for="invite-username">Username</label>
        <input id="invite-username" name="username" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="64">
        <label for="invite-display-name">Display name <span class="optional">(optional)</span></label>
        <input id="invite-display-name" name="displayName" type="text" autocomplete="off" maxlength="64">
        <label for="invite-roles">Roles <span class="optional">(optional, comma separated)</span></label>
        <input id="invite-roles" name="roles" type="text" autocomplete="off" spellcheck="false">
        <label for="invite-ttl">Link valid for</label>
        <select id="invite-ttl" name="ttl">
          <option value="86400">1 day</option>
          <option value="604800" selected>7 days</option>
          <option value="2592000">30 days</option>
        </select>
        <div class="row"><button type="submit" class="primary">Create invitation link</button></div>
      </form>
      <div id="invite-notice" class="notice-area" role="status" aria-live="polite"></div>
      <div id="invite-result"></div>
      <h4 id="invitations-title" tabindex="-1">Pending invitations</h4>
      <ul id="invitation-list" class="items" aria-labelledby="invitations-title"></ul>
    </section>

    <section aria-labelledby="clients-title">
      <h3 id="clients-title">Register an application</h3>
      <p class="hint">An app people sign in to gets redirect URIs (authorization code with PKCE). A machine client gets its public keys as a JWKS (private_key_jwt: no secrets). Every app may ask for <code>openid</code> and <code>profile</code>; API scopes only as ticked here.</p>
      <form id="client-form" class="stack">
        <label for="client-name">Application name</label>
        <input id="client-name" name="name" type="text" autocomplete="off" maxlength="100">
        <label for="client-redirects">Redirect URIs (one per line)</label>
        <textarea id="client-redirects" name="redirect_uris" rows="2" spellcheck="false" autocomplete="off"></textarea>
        <label for="client-jwks">Or, for a machine client: JWKS (public keys)</label>
        <textarea id="client-jwks" name="jwks" rows="2" spellcheck="false" autocomplete="off"></textarea>
        <label for="client-roles">Roles (machine clients, comma separated)</label>
        <input id="client-roles" name="roles" type="text" autocomplete="off" spellcheck="false">
        <div id="client-scopes"></div>
        <div class="row"><button type="submit">Register application</button></div>
      </form>
      <div id="clients-notice" class="notice-area" role="status" aria-live="polite"></div>
      <div id="client-result"></div>
    </section>

    <section aria-labelledby="apps-title">
      <h3 id="apps-title" tabindex="-1">Applications</h3>
      <div id="apps-notice" class="notice-area" role="status" aria-live="polite"></div>
      <ul id="app-list" class="items" aria-labelledby="apps-title" aria-busy="true"></ul>
      <div class="row"><button id="apps-more" type="button" hidden>Show more applications</button></div>
    </section>

    <section id="audit" aria-labelledby="audit-title" hidden>
      <h3 id="audit-title">Audit log</h3>
      <div class="row"><button id="audit-refresh" type="button">Refresh the audit log</button></div>
      <div id="audit-notice" class="notice-area" role="status" aria-live="polite"></div>
      <div class="table-scroll">
        <table class="audit">
          <caption class="sr-only">Audit events, newest first</caption>
          <thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">By</th><th scope="col">On</th><th scope="col">Details</th></tr></thead>
          <tbody id="audit-body"></tbody>
        </table>
      </div>
    </section>
  </section>
</div>
</main>
<footer class="wrap site-footer"><p>Passkey Edge · <a href="/api/.well-known/openid-configuration">OpenID configuration</a> · <a href="/api/openapi.json">OpenAPI</a></p></footer>
</body>
</html>
`)
}
