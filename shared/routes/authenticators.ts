/**
 * GET /api/authenticators/{id}/icon: an authenticator model's icon from the FIDO metadata in use
 * (metadataStatement.icon, a data: URL), served from this origin so the page never hot-links or
 * inlines it (our addition to CONTRACT "Authenticator trust": views carry `authenticator.icon`, this path). `id`
 * is the model's AAGUID, or for a U2F model its attestation certificate key identifier.
 *
 * Only raster types and SVG are served, with their exact content type and `nosniff`. SVG can
 * carry script: it is served with a CSP that allows none (and `sandbox`), so even opened on its
 * own it runs nothing; the page shows icons only through <img>, where SVG never runs script.
 */
import { Hono } from 'hono'
import type { Core } from '../core.js'
import type { AppEnv } from '../env.js'
import { ServiceError } from '../errors.js'

const ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{40})$/
const TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml'] as const
/** Icons in the FIDO BLOB are a few KB; anything far larger is not served. */
const MAX_ICON_BYTES = 512 * 1024

/** A data: URL's bytes and type, when it is one of TYPES (base64 or percent-encoded). */
export function decodeIconDataUrl(url: string): { type: (typeof TYPES)[number]; bytes: Uint8Array } | undefined {
  const m = /^data:([a-z0-9.+/-]+)((?:;[a-z0-9-]+=[^;,]*)*)(;base64)?,(.*)$/is.exec(url)
  if (!m) return undefined
  const type = TYPES.find((t) => t === m[1]!.toLowerCase())
  if (!type) return undefined
  try {
    const bytes = m[3]
      ? Uint8Array.from(atob(m[4]!.replace(/\s/g, '')), (ch) => ch.charCodeAt(0))
      : new TextEncoder().encode(decodeURIComponent(m[4]!))
    if (bytes.length === 0 || bytes.length > MAX_ICON_BYTES) return undefined
    return { type, bytes }
  } catch {
    return undefined
  }
}

export function authenticatorRoutes(core: Core) {
  const app = new Hono<AppEnv>()
  app.get('/:id/icon', async (c) => {
    const id = c.req.param('id').toLowerCase()
    if (!ID.test(id)) throw new ServiceError('not_found', 'No such authenticator model')
    const model = await core.metadata.lookupCredential({ aaguid: id, attestationKeyId: id })
    const icon = model?.icon ? decodeIconDataUrl(model.icon) : undefined
    if (!icon) throw new ServiceError('not_found', 'The FIDO metadata in use has no icon for this authenticator model')
    return c.body(icon.bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': icon.type,
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      'cache-control': 'public, max-age=86400',
    })
  })
  return app
}
