// Token buckets per key (a login, a client address): a burst, then a steady refill. Used for failed
// sign-ins, where a key is charged before the password is checked and refunded on success, so a flood of
// parallel attempts cannot all slip through while the first ones are still being hashed.
// Memory is bounded: a bucket that has refilled is the same as no bucket and is dropped, and past
// `maxKeys` the least recently charged bucket goes (which only gives that key its burst back).

export interface BucketOptions {
  /** attempts a key may make at once */
  readonly burst: number
  /** ms for one attempt to come back */
  readonly refillMs: number
  /** the most keys remembered */
  readonly maxKeys: number
  /** the clock, ms (injected by tests) */
  readonly now: () => number
}

interface Bucket { tokens: number, at: number }

/** Token buckets by key, wherever they are kept: in this process, or shared by every instance (storage). */
export interface Buckets {
  /** ms until `key` may make one attempt (0: now) */
  waitMs (key: string): number
  /** charges one attempt to `key`, or answers false (and charges nothing) when it has none left */
  take (key: string): boolean
  /** gives one attempt back (it turned out to be no failure) */
  refund (key: string): void
  /** forgets `key`: it has its whole burst again */
  reset (key: string): void
}

export class TokenBuckets implements Buckets {
  private readonly opts: BucketOptions
  /** in the order keys were last charged (a charged key moves to the end) */
  private readonly buckets = new Map<string, Bucket>()

  constructor (opts: BucketOptions) {
    this.opts = opts
  }

  get size (): number { return this.buckets.size }

  /** The tokens `key` holds now (fractions count towards the next one). */
  private level (b: Bucket | undefined, now: number): number {
    if (b === undefined) return this.opts.burst
    return Math.min(this.opts.burst, b.tokens + (now - b.at) / this.opts.refillMs)
  }

  /** ms until `key` may make one attempt (0: now). */
  waitMs (key: string): number {
    const tokens = this.level(this.buckets.get(key), this.opts.now())
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) * this.opts.refillMs)
  }

  /** Charges one attempt to `key`, or answers false (and charges nothing) when it has none left. */
  take (key: string): boolean {
    const now = this.opts.now()
    const tokens = this.level(this.buckets.get(key), now)
    if (tokens < 1) return false
    this.buckets.delete(key)
    this.buckets.set(key, { tokens: tokens - 1, at: now })
    this.bound(now)
    return true
  }

  /** Gives one attempt back (it turned out to be no failure). */
  refund (key: string): void {
    const b = this.buckets.get(key)
    if (b === undefined) return
    const now = this.opts.now()
    const tokens = Math.min(this.opts.burst, this.level(b, now) + 1)
    if (tokens >= this.opts.burst) this.buckets.delete(key)
    else { b.tokens = tokens; b.at = now }
  }

  /** Forgets `key`: it has its whole burst again. */
  reset (key: string): void { this.buckets.delete(key) }

  private bound (now: number): void {
    if (this.buckets.size <= this.opts.maxKeys) return
    // Refilled buckets go first, then the least recently charged, down to 90% so that the sweep is rare.
    for (const [key, b] of this.buckets) if (this.level(b, now) >= this.opts.burst) this.buckets.delete(key)
    const keep = Math.floor(this.opts.maxKeys * 0.9)
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= keep) break
      this.buckets.delete(key)
    }
  }
}
