// The PostgreSQL adapters pass every storage port's shared suite (the record log's, and each port's in
// test/server/ports/), each test in a fresh schema of the `test` database, dropped after.

import { describe, expect, it } from 'vitest'
import pg from 'pg'
import * as Y from 'yjs'
import { loadCatalog } from '../../src/docs/catalog.ts'
import { demoModel } from '../../src/server/demo.ts'
import { openPgStores, type PgStores } from '../../src/server/storage/pg-stores.ts'
import { describeStorage, type StorageHarness } from './storage-suite.ts'
import { describeFeed } from './ports/feed-suite.ts'
import { describeReceipts } from './ports/receipts-suite.ts'
import { describeProjection } from './ports/projection-suite.ts'
import { describeSecurityStore } from './ports/security-suite.ts'
import { describeBlobs } from './ports/blobs-suite.ts'
import { describeHoldings } from './ports/holdings-suite.ts'
import { tempSchema } from '../helpers/pg.ts'

const catalog = loadCatalog()

/** Stores over a fresh schema, reopenable over the same data; `dispose` closes them and drops the schema. */
const fresh = async (now?: () => number, maxAttachmentBytes = 1024, maxAttachmentBytesPerUser?: number) => {
  const schema = await tempSchema()
  let stores: PgStores = await openPgStores(schema.url, catalog, { maxAttachmentBytes, maxAttachmentBytesPerUser, now, poolSize: 4 })
  return {
    stores: () => stores,
    reopen: async () => { await stores.close(); stores = await openPgStores(schema.url, catalog, { maxAttachmentBytes, now, poolSize: 4 }); return stores },
    url: schema.url,
    dispose: async () => { await stores.close(); await schema.dispose() }
  }
}

describeStorage('PostgreSQL', async (): Promise<StorageHarness> => {
  const t = await fresh()
  const h: StorageHarness = {
    storage: t.stores().log,
    reopen: async () => { h.storage = (await t.reopen()).log; return h.storage },
    dispose: t.dispose
  }
  return h
})

describeFeed('PostgreSQL', async () => {
  const t = await fresh()
  return { log: t.stores().log, feed: t.stores().log, dispose: t.dispose }
})

describeReceipts('PostgreSQL', async () => {
  const t = await fresh()
  return {
    log: t.stores().log,
    receipts: t.stores().log,
    reopen: async () => { const s = await t.reopen(); return { log: s.log, receipts: s.log } },
    dispose: t.dispose
  }
})

describeProjection('PostgreSQL', async () => {
  const t = await fresh()
  return { log: t.stores().log, projection: t.stores().projection, dispose: t.dispose }
})

describeSecurityStore('PostgreSQL', demoModel(catalog), async () => {
  const t = await fresh()
  return { store: t.stores().security, reopen: async () => (await t.reopen()).security, dispose: t.dispose }
})

describeBlobs('PostgreSQL', async (maxBytes, maxUserBytes) => {
  let now = 1_000_000
  const t = await fresh(() => now, maxBytes, maxUserBytes)
  return { blobs: t.stores().blobs, advance: ms => { now += ms }, dispose: t.dispose }
})

describeHoldings('PostgreSQL', async () => {
  const t = await fresh()
  return { holdings: t.stores().holdings, reopen: async () => (await t.reopen()).holdings, dispose: t.dispose }
})

describe('PostgreSQL migrations', () => {
  it('bring a new schema up to date once when three instances open it together, and then wait for no running commit', async () => {
    const schema = await tempSchema()
    const opened: PgStores[] = []
    const c = new pg.Client({ connectionString: schema.url })
    try {
      opened.push(...await Promise.all([0, 1, 2].map(() => openPgStores(schema.url, catalog, { maxAttachmentBytes: 10, poolSize: 2 }))))
      expect((await opened[0].pool.query<{ n: number }>('SELECT count(*)::int AS n FROM fs_counters')).rows[0].n).toBe(1)
      // An instance's commit in flight holds rows of the log and of a projection table: a fourth
      // instance starting now must not wait for it (nor take a lock that commit would wait for).
      await c.connect()
      await c.query('BEGIN')
      await c.query(`INSERT INTO rec_account (id) VALUES ('held')`)
      await c.query(`INSERT INTO record_updates (seq, doc, data) VALUES (1, 'account/held', '\\x00')`)
      await c.query('UPDATE fs_counters SET feed = feed + 1')
      opened.push(await openPgStores(schema.url, catalog, { maxAttachmentBytes: 10, poolSize: 2 }))
      await c.query('COMMIT')
      expect(await opened[3].log.head()).toBe(1)
    } finally {
      await c.end().catch(() => {})
      for (const s of opened) await s.close()
      await schema.dispose()
    }
  })
})

describe('PostgreSQL record locks', () => {
  it('a compaction under the record\'s lock is stored once it resolves (another instance reads it), and frees the lock', async () => {
    const t = await fresh()
    const reader = await openPgStores(t.url, catalog, { maxAttachmentBytes: 1024, poolSize: 1 })
    try {
      const log = t.stores().log
      const doc = 'account/compacted' as never
      const a = new Y.Doc()
      let seq = 0
      for (let i = 0; i < 3; i++) {
        const sv = Y.encodeStateVector(a)
        a.getMap('fields').set('n', i)
        seq = (await log.append(doc, Y.encodeStateAsUpdate(a, sv))).seq
      }
      await log.locks!.lock(doc, seq)
      await log.compact(doc, Y.encodeStateAsUpdate(a), seq)
      expect((await reader.log.load(doc)).updates).toHaveLength(1)
      // the lock went with the compaction's commit: another instance takes it without a release
      await reader.log.locks!.lock(doc, seq)
      await reader.log.locks!.release(doc)
      await log.locks!.release(doc)
    } finally {
      await reader.close()
      await t.dispose()
    }
  })
})
