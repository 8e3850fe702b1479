/** A minimal passkey page: sign up, sign in (with or without a username), see the token. */
export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Passkey Edge</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
fieldset{border:1px solid #ccc;border-radius:8px;margin:1rem 0;padding:1rem}
input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box;margin:.2rem 0 .6rem}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #245;background:#246;color:#fff;cursor:pointer;margin-right:.5rem}
pre{background:#f4f4f4;padding:.8rem;overflow:auto;font-size:.8rem;white-space:pre-wrap;word-break:break-all}
#status{min-height:1.5em;font-weight:600}
</style></head><body>
<h1>Passkey Edge</h1>
<p>Sign in with a passkey: your device's screen lock, a security key or your phone. No password.</p>
<p id="status" role="status" aria-live="polite"></p>
<fieldset><legend>Create an account</legend>
<label for="su-name">Username</label><input id="su-name" autocomplete="username" required>
<button id="signup">Sign up with a passkey</button></fieldset>
<fieldset><legend>Sign in</legend>
<label for="si-name">Username (optional)</label><input id="si-name" autocomplete="username webauthn">
<button id="signin">Sign in with a passkey</button></fieldset>
<section id="out" hidden><h2>Signed in</h2><p>Access token claims:</p><pre id="claims"></pre></section>
<script>
const api = location.pathname.startsWith('/api/') ? '/api' : '/api';
const b2u = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'');
const u2b = (s) => Uint8Array.from(atob(s.replace(/-/g,'+').replace(/_/g,'/') + '='.repeat((4 - s.length % 4) % 4)), c => c.charCodeAt(0));
const status = (t) => document.getElementById('status').textContent = t;
async function post(path, body) {
  const r = await fetch(api + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.title ? j.title + (j.detail ? ': ' + j.detail : '') : 'HTTP ' + r.status);
  return j;
}
function credJSON(c) {
  const r = c.response, out = { id: c.id, rawId: b2u(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(), authenticatorAttachment: c.authenticatorAttachment, response: { clientDataJSON: b2u(r.clientDataJSON) } };
  if (r.attestationObject) { out.response.attestationObject = b2u(r.attestationObject); out.response.transports = r.getTransports ? r.getTransports() : []; }
  else { out.response.authenticatorData = b2u(r.authenticatorData); out.response.signature = b2u(r.signature); if (r.userHandle) out.response.userHandle = b2u(r.userHandle); }
  return out;
}
function show(tokens) {
  const p = JSON.parse(new TextDecoder().decode(u2b(tokens.access_token.split('.')[1])));
  document.getElementById('claims').textContent = JSON.stringify(p, null, 2);
  document.getElementById('out').hidden = false;
}
function explain(e) {
  if (e.name === 'NotAllowedError') return 'The passkey prompt was cancelled or timed out.';
  if (e.name === 'InvalidStateError') return 'This device already has a passkey for this account.';
  return e.message || String(e);
}
document.getElementById('signup').onclick = async () => {
  try {
    if (!window.PublicKeyCredential) throw new Error('This browser does not support passkeys.');
    const o = await post('/webauthn/registration/options', { username: document.getElementById('su-name').value });
    o.challenge = u2b(o.challenge); o.user.id = u2b(o.user.id);
    o.excludeCredentials = (o.excludeCredentials || []).map(c => ({ ...c, id: u2b(c.id) }));
    status('Follow your browser\\'s prompt…');
    const c = await navigator.credentials.create({ publicKey: o });
    const r = await post('/webauthn/registration/verify', { credential: credJSON(c) });
    status('Account created for ' + r.user.username + '.'); show(r.tokens);
  } catch (e) { status(explain(e)); }
};
document.getElementById('signin').onclick = async () => {
  try {
    if (!window.PublicKeyCredential) throw new Error('This browser does not support passkeys.');
    const name = document.getElementById('si-name').value.trim();
    const o = await post('/webauthn/authentication/options', name ? { username: name } : {});
    o.challenge = u2b(o.challenge);
    o.allowCredentials = (o.allowCredentials || []).map(c => ({ ...c, id: u2b(c.id) }));
    status('Follow your browser\\'s prompt…');
    const c = await navigator.credentials.get({ publicKey: o });
    const t = await post('/webauthn/authentication/verify', { credential: credJSON(c) });
    status('Signed in.'); show(t);
  } catch (e) { status(explain(e)); }
};
</script></body></html>`
