// The SQLite adapters pass every storage port's shared suite (test/server/ports/*-suite.ts); the record
// log's own suite runs in storage.test.ts.

import { loadCatalog } from '../../src/docs/catalog.ts'
import { demoModel } from '../../src/server/demo.ts'
import { SqliteRecordStorage } from '../../src/server/storage/sqlite.ts'
import { SqliteProjection } from '../../src/server/storage/sqlite-projection.ts'
import { SqliteSecurityStore } from '../../src/server/storage/sqlite-security.ts'
import { SqliteBlobStore } from '../../src/server/storage/sqlite-blobs.ts'
import { SqliteDeviceHoldings } from '../../src/server/storage/sqlite-holdings.ts'
import { describeFeed } from './ports/feed-suite.ts'
import { describeReceipts } from './ports/receipts-suite.ts'
import { describeProjection } from './ports/projection-suite.ts'
import { describeSecurityStore } from './ports/security-suite.ts'
import { describeBlobs } from './ports/blobs-suite.ts'
import { describeHoldings } from './ports/holdings-suite.ts'
import { tempDb } from '../helpers/temp-db.ts'
import { describe, expect, it } from 'vitest'
import type { DocName } from '../../src/ids.ts'

const catalog = loadCatalog()

describeFeed('SQLite', async () => {
  const t = tempDb('fieldsync-ports-')
  const log = new SqliteRecordStorage(t.db())
  return { log, feed: log, dispose: async () => { await log.close(); t.dispose() } }
})

// (Its recent positions are answered from memory: the same suite with a tail that keeps two entries.)
describeFeed('SQLite, a tail of two entries', async () => {
  const t = tempDb('fieldsync-ports-')
  const log = new SqliteRecordStorage(t.db(), undefined, { tail: { entries: 2, bytes: 1 << 20 } })
  return { log, feed: log, dispose: async () => { await log.close(); t.dispose() } }
})

describeReceipts('SQLite', async () => {
  const t = tempDb('fieldsync-ports-')
  let log = new SqliteRecordStorage(t.db())
  const h = {
    log,
    receipts: log,
    reopen: async () => { await log.close(); log = new SqliteRecordStorage(t.reopen()); return { log, receipts: log } },
    dispose: async () => { await log.close(); t.dispose() }
  }
  return h
})

describeProjection('SQLite', async () => {
  const t = tempDb('fieldsync-ports-')
  const projection = new SqliteProjection(t.db(), catalog)
  const log = new SqliteRecordStorage(t.db(), projection)
  return { log, projection, dispose: async () => { await log.close(); t.dispose() } }
})

describeSecurityStore('SQLite', demoModel(catalog), async () => {
  const t = tempDb('fieldsync-ports-')
  return { store: new SqliteSecurityStore(t.db()), reopen: async () => new SqliteSecurityStore(t.reopen()), dispose: async () => t.dispose() }
})

describeBlobs('SQLite', async (maxBytes, maxUserBytes) => {
  const t = tempDb('fieldsync-ports-')
  let now = 1_000_000
  return { blobs: new SqliteBlobStore(t.db(), maxBytes, () => now, maxUserBytes), advance: ms => { now += ms }, dispose: async () => t.dispose() }
})

describeHoldings('SQLite', async () => {
  const t = tempDb('fieldsync-ports-')
  return { holdings: new SqliteDeviceHoldings(t.db()), reopen: async () => new SqliteDeviceHoldings(t.reopen()), dispose: async () => t.dispose() }
})

describe('SQLite device holdings', () => {
  it('commit without waiting for the disk and leave the file\'s other commits durable (synchronous FULL)', () => {
    const t = tempDb('fieldsync-ports-')
    try {
      const db = t.db()
      const holdings = new SqliteDeviceHoldings(db)
      const FULL = 2
      expect(db.pragma('synchronous', { simple: true })).toBe(FULL)
      holdings.claimDevice('d1', 'u-alice')
      holdings.mayHold('d1', ['account/a1' as DocName, 'account/a2' as DocName])
      holdings.finishCycle('d1', ['account/a1' as DocName], [], 7, true)
      holdings.batch(() => holdings.hold('d1', ['account/a3' as DocName]))
      expect(db.pragma('synchronous', { simple: true })).toBe(FULL)
      // inside another transaction it is that transaction's part
      db.transaction(() => holdings.forget('d1'))()
      expect(db.pragma('synchronous', { simple: true })).toBe(FULL)
      expect(holdings.needsScope('d1')).toBe(true)
      expect(holdings.deviceCursor('d1')).toBe(7)
    } finally {
      t.dispose()
    }
  })
})
