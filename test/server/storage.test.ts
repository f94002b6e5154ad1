import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteRecordStorage } from '../../src/server/storage/sqlite.ts'
import { openSqlite, type SqliteDb } from '../../src/server/storage/sqlite-db.ts'
import { describeStorage, type StorageHarness } from './storage-suite.ts'

describeStorage('SQLite', async (): Promise<StorageHarness> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-storage-'))
  const file = join(dir, 'fieldsync.db')
  let db: SqliteDb = openSqlite(file)
  let storage = new SqliteRecordStorage(db)
  const h: StorageHarness = {
    storage,
    reopen: async () => {
      await storage.close(); db.close()
      db = openSqlite(file)
      storage = new SqliteRecordStorage(db)
      h.storage = storage
      return storage
    },
    dispose: async () => { await storage.close(); db.close(); rmSync(dir, { recursive: true, force: true }) }
  }
  return h
})
