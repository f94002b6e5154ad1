// Opening the SQLite file every SQLite adapter shares, with durable settings.

import Database from 'better-sqlite3'

export type SqliteDb = Database.Database

/** Opens (creating if needed) the database file with durable settings. */
export const openSqlite = (file: string): SqliteDb => {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  // FULL: a commit has been fsynced when it returns, so what was acknowledged survives power loss.
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  return db
}

