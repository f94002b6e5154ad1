// The sign-in port in SQLite: one row per user with a password or revoked tokens, one per sign-in session.

import type { Statement } from 'better-sqlite3'
import type { SqliteDb } from './sqlite-db.ts'
import type { CredentialStore, SignInSession } from './credential-port.ts'

interface SessionRow { id: string, user_id: string, counter: number, rotated_at: number, expires_at: number }

export class SqliteCredentialStore implements CredentialStore {
  private readonly db: SqliteDb
  /** token generations, read once per user (every verified request asks), written through */
  private readonly generations = new Map<string, number>()
  /** prepared once: every request with a token of a sign-in asks whether it still lasts */
  private readonly selectSession: Statement<[string], SessionRow>

  constructor (db: SqliteDb) {
    this.db = db
    db.exec(`
      CREATE TABLE IF NOT EXISTS credentials (user_id TEXT PRIMARY KEY, password_hash TEXT, token_generation INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS sign_in_sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, counter INTEGER NOT NULL, rotated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS sign_in_sessions_user ON sign_in_sessions (user_id, expires_at);
      CREATE INDEX IF NOT EXISTS sign_in_sessions_expiry ON sign_in_sessions (expires_at);
    `)
    this.selectSession = db.prepare<[string], SessionRow>('SELECT * FROM sign_in_sessions WHERE id = ?')
  }

  passwordHash (userId: string): string | undefined {
    return this.db.prepare<[string], { password_hash: string | null }>('SELECT password_hash FROM credentials WHERE user_id = ?').get(userId)?.password_hash ?? undefined
  }

  setPasswordHash (userId: string, hash: string): void {
    this.db.prepare('INSERT INTO credentials (user_id, password_hash) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash').run(userId, hash)
  }

  tokenGeneration (userId: string): number {
    let g = this.generations.get(userId)
    if (g === undefined) {
      g = this.db.prepare<[string], { token_generation: number }>('SELECT token_generation FROM credentials WHERE user_id = ?').get(userId)?.token_generation ?? 0
      this.generations.set(userId, g)
    }
    return g
  }

  revokeTokens (userId: string): number {
    const next = this.db.transaction(() => {
      this.db.prepare('DELETE FROM sign_in_sessions WHERE user_id = ?').run(userId)
      return this.db.prepare<[string], { token_generation: number }>(`INSERT INTO credentials (user_id, token_generation) VALUES (?, 1)
        ON CONFLICT (user_id) DO UPDATE SET token_generation = token_generation + 1 RETURNING token_generation`).get(userId)!.token_generation
    })()
    this.generations.set(userId, next)
    return next
  }

  session (id: string): SignInSession | undefined {
    const r = this.selectSession.get(id)
    return r === undefined ? undefined : { id: r.id, userId: r.user_id, counter: r.counter, rotatedAt: r.rotated_at, expiresAt: r.expires_at }
  }

  createSession (s: SignInSession, now: number, maxPerUser: number): number {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM sign_in_sessions WHERE expires_at <= ?').run(now)
      this.db.prepare('INSERT INTO sign_in_sessions (id, user_id, counter, rotated_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(s.id, s.userId, s.counter, s.rotatedAt, s.expiresAt)
      return this.db.prepare(`DELETE FROM sign_in_sessions WHERE user_id = ? AND id NOT IN
        (SELECT id FROM sign_in_sessions WHERE user_id = ? ORDER BY expires_at DESC, rowid DESC LIMIT ?)`).run(s.userId, s.userId, maxPerUser).changes
    })()
  }

  rotateSession (id: string, from: number, rotatedAt: number): boolean {
    return this.db.prepare('UPDATE sign_in_sessions SET counter = counter + 1, rotated_at = ? WHERE id = ? AND counter = ?').run(rotatedAt, id, from).changes === 1
  }

  endSession (id: string): void {
    this.db.prepare('DELETE FROM sign_in_sessions WHERE id = ?').run(id)
  }
}
