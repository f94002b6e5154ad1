// A SQLite database file in a fresh directory, for tests of storage adapters.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqlite, type SqliteDb } from '../../src/server/storage/sqlite-db.ts'

/** Reopenable; `dispose` closes it and deletes the directory. */
export const tempDb = (prefix = 'fieldsync-db-'): { db: () => SqliteDb, reopen: () => SqliteDb, dispose: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const file = join(dir, 'fieldsync.db')
  let db = openSqlite(file)
  return {
    db: () => db,
    reopen: () => { db.close(); db = openSqlite(file); return db },
    dispose: () => { if (db.open) db.close(); rmSync(dir, { recursive: true, force: true }) }
  }
}
