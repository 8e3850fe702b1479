/** Types of web/build.mjs (the page's asset generator) for TypeScript callers (tests). */
export declare const GENERATED: string
export declare function sha256(text: string): string
export declare function buildWebAssets(): Promise<{
  js: string
  css: string
  /** web/authorize.ts, bundled: the hosted OAuth sign-in page's script. */
  authorizeJs: string
  jsSha256: string
  cssSha256: string
  /** The text of shared/web/assets.generated.json. */
  source: string
}>
export declare function writeWebAssets(opts?: {
  quiet?: boolean
}): Promise<{ path: string; changed: boolean; bytes: number }>
