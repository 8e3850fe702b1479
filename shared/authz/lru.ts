/**
 * A bounded map with per-entry expiry: least recently used entries go first when full, expired
 * ones are dropped on read. Memory stays bounded whatever the traffic (issue: "a flood of
 * distinct tokens").
 */
export class LruTtl<V> {
  private readonly map = new Map<string, { v: V; exp: number }>()

  /**
   * @param max entries kept at most
   * @param touch move an entry to the young end when read (LRU); false evicts in insertion order
   *   (FIFO), which spares the hottest path a delete and re-insert per hit where every entry
   *   expires soon anyway (whole decisions, verified tokens)
   */
  constructor(
    readonly max: number,
    private readonly touch = true,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new TypeError('LruTtl: max must be a positive integer')
  }

  get size(): number {
    return this.map.size
  }

  get(key: string, now: number): V | undefined {
    return this.entry(key, now)?.v
  }

  /** The value with its expiry (ms), or undefined when absent or expired. */
  entry(key: string, now: number): { v: V; exp: number } | undefined {
    const e = this.map.get(key)
    if (!e) return undefined
    if (e.exp <= now) {
      this.map.delete(key)
      return undefined
    }
    if (this.touch) {
      // Recency: move to the end (Map keeps insertion order).
      this.map.delete(key)
      this.map.set(key, e)
    }
    return e
  }

  set(key: string, v: V, exp: number): void {
    this.map.delete(key)
    this.map.set(key, { v, exp })
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string)
  }

  delete(key: string): void {
    this.map.delete(key)
  }

  /** Deletes every key that starts with `prefix` (administrative invalidation; O(n)). */
  deletePrefix(prefix: string): void {
    for (const k of this.map.keys()) if (k.startsWith(prefix)) this.map.delete(k)
  }

  clear(): void {
    this.map.clear()
  }
}
