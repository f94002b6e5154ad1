// Seeds a benchmark server's storage before it starts, the way the demo seeds its records
// (RecordStorage.append with each record's projected row, src/server/demo.ts): a security model saved
// through its store and records written with their rows in group commits.

import { join } from 'node:path'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord } from '../../src/docs/record.ts'
import { rowOf } from '../../src/projection/rows.ts'
import type { SecurityModel } from '../../src/authz/model.ts'
import { Security } from '../../src/server/security.ts'
import { markSecuredValuesPlaced } from '../../src/server/secured-fields.ts'
import { SqliteRecordStorage } from '../../src/server/storage/sqlite.ts'
import { openSqlite } from '../../src/server/storage/sqlite-db.ts'
import { SqliteProjection } from '../../src/server/storage/sqlite-projection.ts'
import { SqliteSecurityStore } from '../../src/server/storage/sqlite-security.ts'
import type { DocName } from '../../src/ids.ts'
import { account } from './dataset.ts'

export interface SeedRecord { readonly name: string, readonly id: string, readonly doc: Y.Doc }

/**
 * Writes `model` and the accounts `records` yields into `dir/fieldsync.db`. The records hold no secured
 * value (bench/lib/dataset.ts), so the secured fields are marked placed: the server starts without
 * loading every record to find nothing to move.
 */
export const seedStorage = async (dir: string, model: SecurityModel, records: Iterable<SeedRecord>): Promise<number> => {
  const catalog = buildCatalog()
  const db = openSqlite(join(dir, 'fieldsync.db'))
  const projection = new SqliteProjection(db, catalog)
  const storage = new SqliteRecordStorage(db, projection)
  const security = new Security(new SqliteSecurityStore(db), model)
  let n = 0
  let writes: Promise<unknown>[] = []
  for (const r of records) {
    writes.push(storage.append(r.name as DocName, Y.encodeStateAsUpdate(r.doc), { row: { entity: 'account', id: r.id, values: rowOf(account, readRecord(r.doc, account)) } }))
    r.doc.destroy()
    // (bounded: a commit every few thousand records keeps memory flat at 100,000s of records)
    if (++n % 5000 === 0) { await Promise.all(writes); writes = [] }
  }
  await Promise.all(writes)
  markSecuredValuesPlaced(security)
  await storage.close()
  db.close()
  return n
}
