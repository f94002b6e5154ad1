// Token buckets in PostgreSQL, shared by every instance on the store: failed sign-ins are limited once for
// the deployment, not once per instance behind the load balancer. Each charge is one statement that refills
// and charges the key's row atomically (over the synchronous connection, as the rest of sign-in).

import type { BucketOptions, Buckets } from '../rate-limit.ts'
import type { SyncPg } from './pg-sync.ts'

/** How often (in charges) rows that have refilled are removed: such a row is the same as none. */
const SWEEP_EVERY = 500

export class PgBuckets implements Buckets {
  private readonly sync: SyncPg
  private readonly name: string
  private readonly opts: Omit<BucketOptions, 'maxKeys'>
  private charges = 0

  constructor (sync: SyncPg, name: string, opts: Omit<BucketOptions, 'maxKeys'>) {
    this.sync = sync
    this.name = name
    this.opts = opts
  }

  waitMs (key: string): number {
    const { burst, refillMs } = this.opts
    const r = this.sync.one<{ tokens: number }>('SELECT LEAST($3::float8, tokens + ($4::bigint - at)::float8 / $5::float8) AS tokens FROM sign_in_buckets WHERE name = $1 AND key = $2',
      [this.name, key, burst, this.opts.now(), refillMs])
    const tokens = r === undefined ? burst : Number(r.tokens)
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) * refillMs)
  }

  take (key: string): boolean {
    const { burst, refillMs } = this.opts
    const now = this.opts.now()
    if (++this.charges % SWEEP_EVERY === 0) {
      this.sync.query('DELETE FROM sign_in_buckets WHERE name = $1 AND tokens + ($2::bigint - at)::float8 / $3::float8 >= $4::float8', [this.name, now, refillMs, burst])
    }
    // A new key starts with its burst; a known one refills since it was last charged, and is charged only if
    // a whole attempt is there (the row is left alone otherwise, so nothing comes back).
    const r = this.sync.one<{ tokens: number }>(`INSERT INTO sign_in_buckets (name, key, tokens, at) VALUES ($1, $2, $3::float8 - 1, $4)
      ON CONFLICT (name, key) DO UPDATE SET tokens = LEAST($3::float8, sign_in_buckets.tokens + ($4::bigint - sign_in_buckets.at)::float8 / $5::float8) - 1, at = $4
      WHERE LEAST($3::float8, sign_in_buckets.tokens + ($4::bigint - sign_in_buckets.at)::float8 / $5::float8) >= 1
      RETURNING tokens`, [this.name, key, burst, now, refillMs])
    return r !== undefined
  }

  refund (key: string): void {
    const { burst, refillMs } = this.opts
    this.sync.query(`UPDATE sign_in_buckets SET tokens = LEAST($3::float8, tokens + ($4::bigint - at)::float8 / $5::float8 + 1), at = $4
      WHERE name = $1 AND key = $2`, [this.name, key, burst, this.opts.now(), refillMs])
  }

  reset (key: string): void {
    this.sync.query('DELETE FROM sign_in_buckets WHERE name = $1 AND key = $2', [this.name, key])
  }
}
