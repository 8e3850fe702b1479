/**
 * Node only: fetching client ID metadata documents (draft-ietf-oauth-client-id-metadata-document,
 * CONTRACT v2 "AI clients and MCP servers"), injected into the core (shared/core.ts
 * `fetchClientMetadata`); what is fetched is judged in shared/oauth/clientMetadata.ts.
 *
 * The transport limits, all enforced here:
 * - the host is resolved here and every address it has is checked: outside local development a
 *   private (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), loopback (127/8, ::1),
 *   link-local (169.254/16, fe80::/10), unspecified, multicast, reserved, documentation or
 *   benchmarking address, Azure's platform address (168.63.129.16), or an IPv6 one with an IPv4
 *   address inside (mapped, translated, compatible, NAT64, 6to4, Teredo) refuses the document
 *   (SSRF). A host that does not resolve gets the same answer as one that resolves to a refused
 *   address (PRIVATE_OR_UNRESOLVED), so the page cannot be used to probe internal DNS;
 * - the connection goes to the checked address (the socket's `lookup` is pinned to it), so a
 *   second DNS answer cannot swap in another one; TLS still verifies the host name;
 * - at most `timeoutMs` (5 s) for the whole exchange, at most `maxBytes` (5 KiB) of body (reading
 *   stops past it), no redirects (a 3xx is returned as is and refused by the caller), `Accept:
 *   application/json`, no cookies, no credentials.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { ClientMetadataError, type FetchClientMetadata, type FetchedClientMetadata } from '../../shared/oauth/clientMetadata.js'

/** 5 seconds and 5 KiB (CONTRACT v2). */
export const FETCH_TIMEOUT_MS = 5_000
export const MAX_DOCUMENT_BYTES = 5 * 1024

/**
 * One answer for a host that does not resolve and one that resolves to an address refused here:
 * the public page must not tell which (no probing of internal names through it).
 */
export const PRIVATE_OR_UNRESOLVED = 'the client_id host does not resolve to a public address'

export type ResolveHost = (host: string) => Promise<{ address: string; family: number }[]>

// Two lists: a BlockList matches IPv4 addresses against its IPv6 rules as IPv4-mapped ones.
const BLOCKED_V4 = new BlockList()
const BLOCKED_V6 = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['168.63.129.16', 32], // Azure platform (wire server: DHCP, DNS, health probes)
  ['169.254.0.0', 16], // link-local, and the instance metadata service
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address 255.255.255.255
] as const)
  BLOCKED_V4.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['::', 96], // IPv4-compatible (deprecated)
  ['::ffff:0:0', 96], // IPv4-mapped
  ['::ffff:0:0:0', 96], // IPv4-translated (RFC 2765, e.g. ::ffff:0:7f00:1)
  ['64:ff9b::', 96], // NAT64: an IPv4 address inside
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215)
  ['100::', 64], // discard-only
  ['2001::', 32], // Teredo: an IPv4 address inside
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: an IPv4 address inside
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const)
  BLOCKED_V6.addSubnet(net, prefix, 'ipv6')

/**
 * Whether `address` may be connected to outside local development: a public unicast address.
 *
 * @example
 * isPublicAddress('10.1.2.3') // false
 * isPublicAddress('::ffff:127.0.0.1') // false
 */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 0) return false
  return family === 4 ? !BLOCKED_V4.check(address, 'ipv4') : !BLOCKED_V6.check(address, 'ipv6')
}

/**
 * The fetcher the core gets. `allowPrivateAddresses`: local development (RP_ID localhost on a
 * developer machine), where the documents live on loopback.
 *
 * @example
 * const fetchClientMetadata = createClientMetadataFetcher({ allowPrivateAddresses: config.local && config.rpId === 'localhost' })
 */
export function createClientMetadataFetcher({
  allowPrivateAddresses,
  resolve = (host) => dnsLookup(host, { all: true, verbatim: true }),
  timeoutMs = FETCH_TIMEOUT_MS,
  maxBytes = MAX_DOCUMENT_BYTES,
}: {
  allowPrivateAddresses: boolean
  /** DNS resolution (tests inject answers). */
  resolve?: ResolveHost
  timeoutMs?: number
  maxBytes?: number
}): FetchClientMetadata {
  return async function fetchClientMetadata(url: URL): Promise<FetchedClientMetadata> {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ClientMetadataError('the client_id URL must be https')
    const deadline = AbortSignal.timeout(timeoutMs)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    let addresses: { address: string; family: number }[]
    try {
      addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await withDeadline(resolve(host), deadline)
    } catch (e) {
      if (e instanceof ClientMetadataError) throw e
      throw new ClientMetadataError(PRIVATE_OR_UNRESOLVED)
    }
    if (!addresses.length) throw new ClientMetadataError(PRIVATE_OR_UNRESOLVED)
    if (!allowPrivateAddresses && !addresses.every((a) => isPublicAddress(a.address))) throw new ClientMetadataError(PRIVATE_OR_UNRESOLVED)
    // IPv4 first: a loopback development server often listens on 127.0.0.1 only.
    const target = addresses.find((a) => a.family === 4) ?? addresses[0]!
    // Pinned: the socket connects to the address checked above, whatever DNS says now.
    const lookup: LookupFunction = (_host, options, callback) => {
      if (options.all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [target])
      else callback(null, target.address, target.family)
    }
    const transport = url.protocol === 'https:' ? https : http
    return new Promise<FetchedClientMetadata>((resolvePromise, reject) => {
      const fail = (message: string) => {
        req.destroy()
        reject(new ClientMetadataError(message))
      }
      const req = transport.request(
        url,
        { method: 'GET', headers: { accept: 'application/json' }, lookup, signal: deadline, agent: false },
        (res) => {
          const status = res.statusCode ?? 0
          const header = (name: string) => {
            const v = res.headers[name]
            return Array.isArray(v) ? v.join(', ') : v
          }
          const answer = { status, contentType: header('content-type'), cacheControl: header('cache-control') }
          // No redirects: the caller refuses any 3xx; the body is not read.
          if (status >= 300 && status < 400) {
            res.destroy()
            return resolvePromise({ ...answer, body: '' })
          }
          if (Number(res.headers['content-length']) > maxBytes) return fail(`the document is over ${maxBytes} bytes`)
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (chunk: Buffer) => {
            size += chunk.length
            if (size > maxBytes) return fail(`the document is over ${maxBytes} bytes`)
            chunks.push(chunk)
          })
          res.on('end', () => resolvePromise({ ...answer, body: Buffer.concat(chunks).toString('utf8') }))
          res.on('error', () => reject(new ClientMetadataError(deadline.aborted ? `the document did not arrive within ${timeoutMs} ms` : 'the document could not be read')))
        },
      )
      req.on('error', () => reject(new ClientMetadataError(deadline.aborted ? `the document did not arrive within ${timeoutMs} ms` : 'the document could not be fetched')))
      req.end()
    })
  }
}

function withDeadline<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ClientMetadataError(PRIVATE_OR_UNRESOLVED))
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
