/**
 * The front end's built assets, from shared/web/assets.generated.json (written by web/build.mjs,
 * committed). An import rather than a file read: esbuild inlines the JSON into both bundles, and
 * tsx and tsc read it like any module, so the runtimes need no file system access.
 */
import generated from './assets.generated.json' with { type: 'json' }

/** The JSON keeps each asset as lines, so a rebuilt asset reads as a line diff. */
const text = (asset: { lines: string[] }) => asset.lines.join('\n')

/** The passkey page's script (web/main.ts and what it imports, @simplewebauthn/browser included). */
export const APP_JS = text(generated['app.js'])
/** SHA-256 (base64) of APP_JS: `integrity="sha256-…"` and cache busting. */
export const APP_JS_SHA256 = generated['app.js'].sha256

/** The passkey page's stylesheet (web/styles.css). */
export const APP_CSS = text(generated['app.css'])
/** SHA-256 (base64) of APP_CSS. */
export const APP_CSS_SHA256 = generated['app.css'].sha256

/** The hosted OAuth sign-in page's script (web/authorize.ts), GET /api/oauth2/authorize/app.js. */
export const AUTHORIZE_JS = text(generated['authorize.js'])
