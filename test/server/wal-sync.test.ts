// The record log's group commits are acknowledged once the WAL is synced off the event loop (wal-sync.ts):
// syncs are shared by the commits made while one runs, a failed sync fails what waited for it (and the
// next sync tries again), and the file's other commits stay durable (synchronous FULL).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { SqliteRecordStorage } from '../../src/server/storage/sqlite.ts'
import { WalSync } from '../../src/server/storage/wal-sync.ts'
import type { DocName } from '../../src/ids.ts'
import { tempDb } from '../helpers/temp-db.ts'

const FULL = 2

describe('WalSync', () => {
  it('resolves every caller, in the order they asked, and fails a sync of a missing file until it exists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-wal-'))
    try {
      const sync = new WalSync(join(dir, 'x.db'))
      await expect(sync.durable()).rejects.toThrow(/ENOENT/)
      writeFileSync(join(dir, 'x.db-wal'), 'frames')
      const order: number[] = []
      await Promise.all(Array.from({ length: 5 }, (_, i) => sync.durable().then(() => { order.push(i) })))
      expect(order).toEqual([0, 1, 2, 3, 4])
      await sync.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the SQLite record log', () => {
  it('acknowledges group commits after the WAL sync, stores them, and leaves the file synchronous FULL', async () => {
    const t = tempDb('fieldsync-wal-')
    const db = t.db()
    const log = new SqliteRecordStorage(db)
    try {
      const doc = new Y.Doc()
      const appends: Promise<unknown>[] = []
      for (let i = 0; i < 20; i++) {
        const sv = Y.encodeStateVector(doc)
        doc.getMap('fields').set(`k${i}`, i)
        appends.push(log.append('account/w1' as DocName, Y.encodeStateAsUpdate(doc, sv)))
      }
      const results = await Promise.all(appends) as { seq: number }[]
      expect(results.map(r => r.seq)).toEqual([...results.map(r => r.seq)].sort((a, b) => a - b))
      expect(db.pragma('synchronous', { simple: true })).toBe(FULL)
      const copy = new Y.Doc()
      for (const u of (await log.load('account/w1' as DocName)).updates) Y.applyUpdate(copy, u.data)
      expect(copy.getMap('fields').toJSON()).toEqual(doc.getMap('fields').toJSON())
    } finally {
      await log.close()
      t.dispose()
    }
  })
})
