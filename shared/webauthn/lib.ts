/**
 * @simplewebauthn/server, loaded on first use rather than at module load: it (with the X.509 and
 * ASN.1 libraries under it) is a good share of the Functions bundle's start-up time, and most
 * cold starts are the authorizer's, which never runs a ceremony. Every ceremony function awaits
 * this once; the promise is shared, so the library is evaluated once per process.
 */
type Lib = typeof import('@simplewebauthn/server')
type Helpers = typeof import('@simplewebauthn/server/helpers')

let loading: Promise<{ lib: Lib; helpers: Helpers }> | undefined

export function webauthnLib(): Promise<{ lib: Lib; helpers: Helpers }> {
  loading ??= import('./libs.js').then(
    ({ lib, helpers }) => ({ lib, helpers }),
    (err: unknown) => {
      loading = undefined // a failed load is tried again by the next ceremony
      throw err
    },
  )
  return loading
}
