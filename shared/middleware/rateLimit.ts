/**
 * Rate limits on the unauthenticated routes (CONTRACT v2 "Rate limits"): at most RATE_LIMIT
 * requests per minute from one client address, then 429 `rate_limited` with `Retry-After` (a
 * problem, or RFC 6749 §5.2 JSON at the token endpoint). `0` turns it off. The authorizer is not
 * limited: the gateway calls it on every API request.
 *
 * Counting is per instance, in fixed one-minute windows per address, in a bounded table: under a
 * flood of distinct addresses it never holds more than MAX_TRACKED of them (windows that ended are
 * dropped first, then the oldest). Limits across instances belong in front (APIM's
 * `rate-limit-by-key`, apim/policy-rate-limit.xml).
 *
 * The client address: the local server knows the socket's address. Behind the Functions front end
 * (and APIM) there is no socket address, only X-Forwarded-For, whose left part the caller can
 * write; each proxy appends the address it saw. So the address is the entry TRUSTED_PROXY_HOPS
 * from the right: 1 (the default in Azure) is what App Service's front end saw, 2 with APIM in
 * front of the function app. With 0, or without the header, the socket address is used.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.js'
import type { Config } from '../config.js'
import { ServiceError } from '../errors.js'
import type { Clock } from '../util/clock.js'

/** Addresses tracked at once (≈ 100 bytes each). */
export const MAX_TRACKED = 50_000
const WINDOW_MS = 60_000

interface Window {
  start: number
  count: number
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>()

  constructor(
    private readonly limit: number,
    private readonly clock: Clock,
    private readonly maxTracked = MAX_TRACKED,
  ) {}

  get size(): number {
    return this.windows.size
  }

  /** Counts one request from `key`; seconds to wait when over the limit, else 0. */
  hit(key: string): number {
    const now = this.clock.now()
    let w = this.windows.get(key)
    // A window that ended, or one from a clock that has since gone back, starts again.
    if (!w || now - w.start >= WINDOW_MS || now < w.start) {
      if (w) this.windows.delete(key) // re-inserted below: insertion order stays oldest-first
      else if (this.windows.size >= this.maxTracked) this.evict(now)
      w = { start: now, count: 0 }
      this.windows.set(key, w)
    }
    w.count++
    if (w.count <= this.limit) return 0
    return Math.max(1, Math.ceil((w.start + WINDOW_MS - now) / 1000))
  }

  /**
   * Makes room. Windows sit in the map in the order they started (a renewed one is re-inserted),
   * so the ended ones are at the front: drop those, stopping at the first live one (no full scan
   * per request under a steady flood). If none had ended, drop the oldest tenth of those still
   * under the limit, so that a flood of new addresses cannot free a caller that is being limited;
   * only when every tracked address is over the limit do the oldest go.
   */
  private evict(now: number): void {
    for (const [k, w] of this.windows) {
      if (now - w.start < WINDOW_MS && now >= w.start) break
      this.windows.delete(k)
    }
    if (this.windows.size < this.maxTracked) return
    let drop = Math.max(1, Math.floor(this.maxTracked / 10))
    for (const [k, w] of this.windows) {
      if (w.count > this.limit) continue
      this.windows.delete(k)
      if (--drop === 0) return
    }
    for (const k of this.windows.keys()) {
      this.windows.delete(k)
      if (--drop === 0) return
    }
  }
}

/**
 * The caller's address as this deployment can know it (see the module note), port removed;
 * undefined if none. The audit log's `ip` too (shared/audit/context.ts).
 */
export function callerAddress(c: Context, hops: number): string | undefined {
  if (hops > 0) {
    const xff = c.req.header('x-forwarded-for')
    if (xff) {
      const parts = xff.split(',').map((s) => s.trim()).filter(Boolean)
      const entry = parts[Math.max(0, parts.length - hops)]
      if (entry) return stripPort(entry)
    }
  }
  // The Functions host has no socket address to give (its `remoteAddr` is read from the header a
  // caller can write): only the local server's is the socket's.
  const env = c.env as AppEnv['Bindings'] | undefined
  if (env?.invocation) return undefined
  return env?.remoteAddr
}

/** callerAddress, as rate limits count it: an IPv6 address by its /64 (one subscriber holds the whole prefix). */
export function clientAddress(c: Context<AppEnv>, hops: number): string | undefined {
  const a = callerAddress(c, hops)
  return a === undefined ? undefined : bucket(a)
}

/** IPv6 → its /64 prefix (IPv4, and IPv4-mapped IPv6, unchanged). */
function bucket(ip: string): string {
  const a = ip.replace(/^::ffff:(?=\d+\.)/i, '')
  if (!a.includes(':')) return a
  const [head, tail] = a.split('::') as [string, string | undefined]
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`
}

function stripPort(ip: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(ip)
  if (v6) return v6[1]!
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(ip)
  return v4 ? v4[1]! : ip.slice(0, 64)
}

/** The unauthenticated routes (CONTRACT v2): the ceremonies, token, bc-authorize, authorize*. */
export const LIMITED = /^\/api\/(?:webauthn\/|oauth2\/(?:token|bc-authorize|authorize)(?:\/|$))/

/** Paths answered in RFC 6749 §5.2 JSON rather than problem+json. */
const OAUTH_JSON = new Set(['/api/oauth2/token', '/api/oauth2/bc-authorize'])

/**
 * The middleware for the rate-limited routes.
 *
 * @example
 * app.use('/api/webauthn/*', rateLimit(config, clock))
 */
export function rateLimit(config: Pick<Config, 'rateLimit' | 'trustedProxyHops'>, clock: Clock): MiddlewareHandler<AppEnv> {
  const limiter = new RateLimiter(config.rateLimit, clock)
  return async (c, next) => {
    if (config.rateLimit === 0 || !LIMITED.test(c.req.path)) return next()
    // No address to count by (an in-process call, or a front end that sent none): not limited.
    const address = clientAddress(c, config.trustedProxyHops)
    if (address === undefined) return next()
    const wait = limiter.hit(address)
    if (wait === 0) return next()
    const message = `More than ${config.rateLimit} requests a minute from this address; retry in ${wait} s`
    if (OAUTH_JSON.has(c.req.path)) {
      return new Response(JSON.stringify({ error: 'rate_limited', error_description: message }), {
        status: 429,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': String(wait) },
      })
    }
    throw new ServiceError('rate_limited', message, { headers: { 'retry-after': String(wait) } })
  }
}

