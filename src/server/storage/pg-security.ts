// The security model port in PostgreSQL: each version as one JSON row (the newest KEPT_MODEL_VERSIONS and each
// principal's delivered one), what each principal's device last
// received, settings, and sign-in (pg-credentials.ts). Synchronous (pg-sync.ts): every instance reads what
// any instance saved.

import type { SecurityModel } from '../../authz/model.ts'
import { KEPT_MODEL_VERSIONS, type SecurityStore } from './security-port.ts'
import type { SyncPg } from './pg-sync.ts'
import { PgCredentialStore } from './pg-credentials.ts'

export const securityMigrations: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS security_models (version BIGINT PRIMARY KEY, data TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS delivered_versions (principal TEXT PRIMARY KEY, version BIGINT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS credentials (user_id TEXT PRIMARY KEY, password_hash TEXT, token_generation BIGINT NOT NULL DEFAULT 0)',
  'CREATE TABLE IF NOT EXISTS sign_in_sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, counter BIGINT NOT NULL, rotated_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, created BIGSERIAL)',
  // Failed sign-ins by login and by address, for every instance (pg-buckets.ts).
  'CREATE TABLE IF NOT EXISTS sign_in_ends (position BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, at BIGINT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS sign_in_buckets (name TEXT NOT NULL, key TEXT NOT NULL, tokens DOUBLE PRECISION NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (name, key))',
  'CREATE INDEX IF NOT EXISTS sign_in_sessions_user ON sign_in_sessions (user_id, expires_at)',
  'CREATE INDEX IF NOT EXISTS sign_in_sessions_expiry ON sign_in_sessions (expires_at)'
]

export class PgSecurityStore implements SecurityStore {
  private readonly sync: SyncPg
  readonly credentials: PgCredentialStore

  /** The tables must exist (securityMigrations, run by openPgStores). */
  constructor (sync: SyncPg) {
    this.sync = sync
    this.credentials = new PgCredentialStore(sync)
  }

  latest (): SecurityModel | undefined {
    const r = this.sync.one<{ data: string }>('SELECT data FROM security_models ORDER BY version DESC LIMIT 1')
    return r === undefined ? undefined : JSON.parse(r.data) as SecurityModel
  }

  /** The newest saved version number (0 before the first save): cheap, asked inside record transactions. */
  latestVersion (): number {
    return this.sync.one<{ v: number | null }>('SELECT MAX(version) AS v FROM security_models')?.v ?? 0
  }

  at (version: number): SecurityModel | undefined {
    const r = this.sync.one<{ data: string }>('SELECT data FROM security_models WHERE version = $1', [version])
    return r === undefined ? undefined : JSON.parse(r.data) as SecurityModel
  }

  save (model: SecurityModel): void {
    this.sync.query('INSERT INTO security_models (version, data) VALUES ($1, $2)', [model.version, JSON.stringify(model)])
    this.sync.query('DELETE FROM security_models WHERE version <= $1 AND version NOT IN (SELECT version FROM delivered_versions)', [model.version - KEPT_MODEL_VERSIONS])
  }

  delivered (principal: string): number | undefined {
    return this.sync.one<{ version: number }>('SELECT version FROM delivered_versions WHERE principal = $1', [principal])?.version
  }

  setDelivered (principal: string, version: number): void {
    this.sync.query('INSERT INTO delivered_versions (principal, version) VALUES ($1, $2) ON CONFLICT (principal) DO UPDATE SET version = excluded.version', [principal, version])
  }

  getSetting (key: string): string | undefined {
    return this.sync.one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key])?.value
  }

  setSetting (key: string, value: string): void {
    this.sync.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value])
  }
}
