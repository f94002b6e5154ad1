// The sign-in port in PostgreSQL: one row per user with a password or revoked tokens, one per sign-in
// session. Synchronous (pg-sync.ts) and uncached: a revocation on one instance holds on every instance at once.

import type { CredentialStore, SignInSession } from './credential-port.ts'
import type { SyncPg } from './pg-sync.ts'
import type { BucketOptions, Buckets } from '../rate-limit.ts'
import { PgBuckets } from './pg-buckets.ts'

interface SessionRow { id: string, user_id: string, counter: number, rotated_at: number, expires_at: number }

export class PgCredentialStore implements CredentialStore {
  private readonly sync: SyncPg

  constructor (sync: SyncPg) {
    this.sync = sync
  }

  passwordHash (userId: string): string | undefined {
    return this.sync.one<{ password_hash: string | null }>('SELECT password_hash FROM credentials WHERE user_id = $1', [userId])?.password_hash ?? undefined
  }

  setPasswordHash (userId: string, hash: string): void {
    this.sync.query('INSERT INTO credentials (user_id, password_hash) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash', [userId, hash])
  }

  tokenGeneration (userId: string): number {
    return this.sync.one<{ token_generation: number }>('SELECT token_generation FROM credentials WHERE user_id = $1', [userId])?.token_generation ?? 0
  }

  revokeTokens (userId: string): number {
    return this.sync.transaction(() => {
      this.sync.query('DELETE FROM sign_in_sessions WHERE user_id = $1', [userId])
      return this.sync.one<{ token_generation: number }>(`INSERT INTO credentials (user_id, token_generation) VALUES ($1, 1)
        ON CONFLICT (user_id) DO UPDATE SET token_generation = credentials.token_generation + 1 RETURNING token_generation`, [userId])!.token_generation
    })
  }

  session (id: string): SignInSession | undefined {
    const r = this.sync.one<SessionRow>('SELECT id, user_id, counter, rotated_at, expires_at FROM sign_in_sessions WHERE id = $1', [id])
    return r === undefined ? undefined : { id: r.id, userId: r.user_id, counter: r.counter, rotatedAt: r.rotated_at, expiresAt: r.expires_at }
  }

  createSession (s: SignInSession, now: number, maxPerUser: number): number {
    return this.sync.transaction(() => {
      this.sync.query('DELETE FROM sign_in_sessions WHERE expires_at <= $1', [now])
      this.sync.query('INSERT INTO sign_in_sessions (id, user_id, counter, rotated_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [s.id, s.userId, s.counter, s.rotatedAt, s.expiresAt])
      return this.sync.query(`DELETE FROM sign_in_sessions WHERE user_id = $1 AND id NOT IN
        (SELECT id FROM sign_in_sessions WHERE user_id = $1 ORDER BY expires_at DESC, created DESC LIMIT $2)`, [s.userId, maxPerUser]).rowCount ?? 0
    })
  }

  rotateSession (id: string, from: number, rotatedAt: number): boolean {
    return this.sync.query('UPDATE sign_in_sessions SET counter = counter + 1, rotated_at = $1 WHERE id = $2 AND counter = $3', [rotatedAt, id, from]).rowCount === 1
  }

  endSession (id: string): void {
    this.sync.query('DELETE FROM sign_in_sessions WHERE id = $1', [id])
  }

  sharedBuckets (name: string, opts: Omit<BucketOptions, 'maxKeys'>): Buckets {
    return new PgBuckets(this.sync, name, opts)
  }

  noteSignInsEnded (userId: string): number {
    return Number(this.sync.one<{ position: string }>('INSERT INTO sign_in_ends (user_id, at) VALUES ($1, $2) RETURNING position', [userId, Date.now()])!.position)
  }

  signInsEndedSince (after: number | null): { position: number, users: string[] } {
    if (after === null) return { position: Number(this.sync.one<{ p: string | null }>('SELECT MAX(position) AS p FROM sign_in_ends')?.p ?? 0), users: [] }
    // (A token lives minutes; a note older than a day tells no socket anything.)
    if (Math.random() < 0.001) this.sync.query('DELETE FROM sign_in_ends WHERE at < $1', [Date.now() - 86_400_000])
    const rows = this.sync.query<{ position: string, user_id: string }>('SELECT position, user_id FROM sign_in_ends WHERE position > $1 ORDER BY position', [after]).rows
    return { position: rows.length > 0 ? Number(rows[rows.length - 1].position) : after, users: [...new Set(rows.map(r => r.user_id))] }
  }
}
