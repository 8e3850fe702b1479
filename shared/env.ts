/**
 * The Hono environment every router of the app shares: what a runtime adapter passes as `c.env`
 * (AppBindings) and what middleware publishes for handlers (`c.var`, typed below). Kept apart from
 * app.ts so routers and middleware never import the app they are mounted in.
 */
import type { AuditActor } from './audit/events.js'
import type { Principal } from './middleware/bearer.js'

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

/**
 * What middleware publishes for the handlers after it (`c.var`). Optional here: a route sees a
 * value as set only behind the middleware that sets it (requireBearer's type says so).
 */
export interface AppVariables {
  /** The verified bearer token's caller (requireBearer, requireRole). */
  principal?: Principal
  /** The authenticated caller, for audit events (requireRole, via `setAuditActor`). */
  auditActor?: AuditActor
  /** The caller's address for audit events (audit/context.ts `auditOrigin`). */
  clientIp?: string
}

declare module 'hono' {
  // Also for code typed with a plain `Context` (auditContext).
  interface ContextVariableMap extends AppVariables {}
}

export type AppEnv = { Bindings: AppBindings; Variables: AppVariables }

