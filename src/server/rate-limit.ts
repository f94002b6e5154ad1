// Token buckets per key (a login, a client address): a burst, then a steady refill. Used for failed
// sign-ins, where a key is charged before the password is checked and refunded on success, so a flood of
// parallel attempts cannot all slip through while the first ones are still being hashed.
// Memory is bounded: a bucket that has refilled is the same as no bucket and is dropped; past `maxKeys`
// buckets that still allow an attempt go first, the fullest first, and a drained one only past
// HARD_KEYS_FACTOR times `maxKeys`: forgetting a bucket gives an attacker that key's burst back, so a
// flood of other keys must not be what makes a spent one go.

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

/** How far past `maxKeys` drained buckets are kept (about 100 bytes each). */
export const HARD_KEYS_FACTOR = 10

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
    const b = this.buckets.get(key)
    const tokens = this.level(b, now)
    // (A refused attempt counts as use too: a key under attack is the last one to be forgotten.)
    this.buckets.delete(key)
    if (tokens < 1) { this.buckets.set(key, b!); return false }
    this.buckets.set(key, { tokens: tokens - 1, at: now })
    this.bound(now, key)
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

  /** the size past which the next sweep runs (it rises while drained buckets fill the table, so that a
   * table full of them is not swept on every charge) */
  private sweepPast = 0

  private bound (now: number, charged: string): void {
    const hard = this.opts.maxKeys * HARD_KEYS_FACTOR
    if (this.buckets.size <= Math.max(this.opts.maxKeys, Math.min(this.sweepPast, hard))) return
    // Refilled buckets go first, then those that still allow an attempt, least recently used first (never
    // the one just charged), down to 90% so that the sweep is rare; drained ones only past the hard bound.
    const keep = Math.floor(this.opts.maxKeys * 0.9)
    const usable: { key: string, level: number }[] = []
    for (const [key, b] of this.buckets) {
      const level = this.level(b, now)
      if (level >= this.opts.burst) this.buckets.delete(key)
      else if (level >= 1 && key !== charged) usable.push({ key, level })
    }
    // Fullest first (forgetting one gives back least), least recently used first among equals (a stable
    // sort): a key an attacker has nearly spent outlasts any number of keys tried once.
    if (this.buckets.size > keep) {
      usable.sort((a, b) => b.level - a.level)
      for (const u of usable) {
        if (this.buckets.size <= keep) break
        this.buckets.delete(u.key)
      }
    }
    if (this.buckets.size > hard) {
      for (const key of this.buckets.keys()) {
        if (this.buckets.size <= Math.floor(hard * 0.9)) break
        this.buckets.delete(key)
      }
    }
    this.sweepPast = Math.ceil(this.buckets.size * 1.1)
  }
}

/**
 * Per key, a budget of some cost (bytes, say) that refills at a steady rate up to `burst`. An operation
 * whose cost is known only once done may start while its key's budget is above zero and is then charged
 * what it cost, going into debt if need be. A key whose budget is full is the same as no key and is
 * dropped; past `maxKeys` the key charged longest ago goes.
 */
export class CostBudgets {
  /** in the order keys were last charged */
  private readonly spent = new Map<string, { level: number, at: number }>()

  constructor (private readonly o: { readonly burst: number, readonly perSecond: number, readonly maxKeys: number, readonly now: () => number }) {}

  private level (key: string, now: number): number {
    const b = this.spent.get(key)
    return b === undefined ? this.o.burst : Math.min(this.o.burst, b.level + (now - b.at) / 1000 * this.o.perSecond)
  }

  /** Whether `key` may start an operation now. */
  allows (key: string): boolean {
    return this.level(key, this.o.now()) > 0
  }

  /** Charges `key` what its operation cost. */
  charge (key: string, cost: number): void {
    const now = this.o.now()
    const level = this.level(key, now) - cost
    this.spent.delete(key)
    if (level >= this.o.burst) return
    this.spent.set(key, { level, at: now })
    if (this.spent.size > this.o.maxKeys) this.spent.delete(this.spent.keys().next().value!)
  }
}
