/** Types of apim/build.mjs (writes the APIM policies from apim/render.ts) for TypeScript callers. */
export declare function writePolicies(opts?: {
  quiet?: boolean
}): Promise<{ path: string; changed: boolean }[]>
