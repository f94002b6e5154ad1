// The organization (business units, teams, users) in SQLite, next to the record log.

import type { BusinessUnit, Org, Team, User } from '../../authz/org.ts'
import type { SqliteDb } from './sqlite.ts'

export class SqliteDirectory {
  private readonly db: SqliteDb

  constructor (db: SqliteDb) {
    this.db = db
    db.exec(`
      CREATE TABLE IF NOT EXISTS business_units (id TEXT PRIMARY KEY, name TEXT NOT NULL, parent_id TEXT REFERENCES business_units(id));
      CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, full_name TEXT NOT NULL,
        business_unit_id TEXT NOT NULL REFERENCES business_units(id), manager_id TEXT REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED
      );
      CREATE TABLE IF NOT EXISTS teams (id TEXT PRIMARY KEY, name TEXT NOT NULL, business_unit_id TEXT NOT NULL REFERENCES business_units(id));
      CREATE TABLE IF NOT EXISTS team_members (
        team_id TEXT NOT NULL REFERENCES teams(id), user_id TEXT NOT NULL REFERENCES users(id), PRIMARY KEY (team_id, user_id)
      );
      CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `)
  }

  /** Writes a whole organization in one transaction (used by the demo seed). */
  save (org: Org): void {
    this.db.transaction(() => {
      const bu = this.db.prepare('INSERT INTO business_units (id, name, parent_id) VALUES (?, ?, ?)')
      for (const b of org.businessUnits) bu.run(b.id, b.name, b.parentId)
      const u = this.db.prepare('INSERT INTO users (id, login, full_name, business_unit_id, manager_id) VALUES (?, ?, ?, ?, ?)')
      for (const x of org.users) u.run(x.id, x.login, x.fullName, x.businessUnitId, x.managerId)
      const t = this.db.prepare('INSERT INTO teams (id, name, business_unit_id) VALUES (?, ?, ?)')
      const m = this.db.prepare('INSERT INTO team_members (team_id, user_id) VALUES (?, ?)')
      for (const x of org.teams) {
        t.run(x.id, x.name, x.businessUnitId)
        for (const member of x.members) m.run(x.id, member)
      }
    })()
  }

  load (): Org {
    const businessUnits = this.db.prepare<[], { id: string, name: string, parent_id: string | null }>('SELECT * FROM business_units ORDER BY id').all()
      .map((r): BusinessUnit => ({ id: r.id, name: r.name, parentId: r.parent_id }))
    const users = this.db.prepare<[], { id: string, login: string, full_name: string, business_unit_id: string, manager_id: string | null }>('SELECT * FROM users ORDER BY id').all()
      .map((r): User => ({ id: r.id, login: r.login, fullName: r.full_name, businessUnitId: r.business_unit_id, managerId: r.manager_id }))
    const members = this.db.prepare<[], { team_id: string, user_id: string }>('SELECT * FROM team_members ORDER BY user_id').all()
    const teams = this.db.prepare<[], { id: string, name: string, business_unit_id: string }>('SELECT * FROM teams ORDER BY id').all()
      .map((r): Team => ({ id: r.id, name: r.name, businessUnitId: r.business_unit_id, members: members.filter(m => m.team_id === r.id).map(m => m.user_id) }))
    return { businessUnits, teams, users }
  }

  userByLogin (login: string): User | undefined {
    return this.load().users.find(u => u.login === login)
  }

  userById (id: string): User | undefined {
    return this.load().users.find(u => u.id === id)
  }

  getSetting (key: string): string | undefined {
    return this.db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(key)?.value
  }

  setSetting (key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value)
  }
}
