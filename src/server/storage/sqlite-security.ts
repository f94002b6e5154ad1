// The security model port in SQLite: each version kept as one JSON row, so a decision can be replayed under
// the privileges a device last received (the newest KEPT_MODEL_VERSIONS and each principal's delivered one).

import type { SecurityModel } from '../../authz/model.ts'
import type { SqliteDb } from './sqlite-db.ts'
import { KEPT_MODEL_VERSIONS, type SecurityStore } from './security-port.ts'
import { SqliteCredentialStore } from './sqlite-credentials.ts'

export class SqliteSecurityStore implements SecurityStore {
  private readonly db: SqliteDb
  /** what a principal's device last received, read once, written only when it changes */
  private readonly deliveredCache = new Map<string, number | undefined>()
  readonly credentials: SqliteCredentialStore

  constructor (db: SqliteDb) {
    this.db = db
    this.credentials = new SqliteCredentialStore(db)
    db.exec(`
      CREATE TABLE IF NOT EXISTS security_models (version INTEGER PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS delivered_versions (principal TEXT PRIMARY KEY, version INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `)
  }

  latest (): SecurityModel | undefined {
    const r = this.db.prepare<[], { data: string }>('SELECT data FROM security_models ORDER BY version DESC LIMIT 1').get()
    return r === undefined ? undefined : JSON.parse(r.data) as SecurityModel
  }

  at (version: number): SecurityModel | undefined {
    const r = this.db.prepare<[number], { data: string }>('SELECT data FROM security_models WHERE version = ?').get(version)
    return r === undefined ? undefined : JSON.parse(r.data) as SecurityModel
  }

  save (model: SecurityModel): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO security_models (version, data) VALUES (?, ?)').run(model.version, JSON.stringify(model))
      this.db.prepare('DELETE FROM security_models WHERE version <= ? AND version NOT IN (SELECT version FROM delivered_versions)').run(model.version - KEPT_MODEL_VERSIONS)
    })()
  }

  /** The privilege version a principal's device last received, if any. */
  delivered (principal: string): number | undefined {
    if (this.deliveredCache.has(principal)) return this.deliveredCache.get(principal)
    const v = this.db.prepare<[string], { version: number }>('SELECT version FROM delivered_versions WHERE principal = ?').get(principal)?.version
    this.deliveredCache.set(principal, v)
    return v
  }

  setDelivered (principal: string, version: number): void {
    if (this.delivered(principal) === version) return
    this.db.prepare('INSERT INTO delivered_versions (principal, version) VALUES (?, ?) ON CONFLICT (principal) DO UPDATE SET version = excluded.version').run(principal, version)
    this.deliveredCache.set(principal, version)
  }

  getSetting (key: string): string | undefined {
    return this.db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(key)?.value
  }

  setSetting (key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value)
  }
}
