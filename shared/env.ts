/**
 * The Hono environment every router of the app shares: what a runtime adapter passes as `c.env`
 * (AppBindings) and what middleware publishes for handlers (`c.var`, typed below). Kept apart from
 * app.ts so routers and middleware never import the app they are mounted in.
 */

/** Values a runtime adapter passes as Hono's `env` (c.env). */
export interface AppBindings {
  /** Remote address of the caller when the runtime knows it (local server). */
  remoteAddr?: string
  /** The Azure Functions InvocationContext, when running in the Functions host. */
  invocation?: unknown
  /**
   * Reads the request body straight from the runtime (bytes, or null past `limit`), when the
   * runtime offers a cheaper way than the WHATWG stream (the local Node server does).
   */
  readBody?: (limit: number) => Promise<Uint8Array | null>
  /** A request header by lower-case name, when the runtime has them parsed already. */
  header?: (name: string) => string | undefined
}

export type AppEnv = { Bindings: AppBindings }
