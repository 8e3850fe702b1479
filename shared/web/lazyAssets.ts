/**
 * The front end's built assets (≈ 120 KiB of text), loaded on the first page or script request
 * rather than at module load: most cold starts are the authorizer's or a token request's, which
 * never serve a page. In the Functions bundle this import is a file of its own beside it
 * (dist/functions/assets.cjs, scripts/build.mjs `beside`).
 */
export type Assets = typeof import('./assets.js')

let loading: Promise<Assets> | undefined

export function loadAssets(): Promise<Assets> {
  loading ??= import('./assets.js').catch((err: unknown) => {
    loading = undefined // a failed load is tried again by the next request
    throw err
  })
  return loading
}
