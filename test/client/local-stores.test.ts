// The shared LocalStore suite against the Node SQLite store (the browser stores run it in
// test/browser/local-stores.test.ts).

import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { describeLocalStore } from './local-store-suite.ts'

const dir = mkdtempSync(join(tmpdir(), 'fieldsync-local-'))
const opened: SqliteLocalStore[] = []
afterAll(async () => {
  for (const s of opened) await s.close()
  rmSync(dir, { recursive: true, force: true })
})

describeLocalStore('SQLite', () => ({
  keepsUpdates: true,
  many: 5_000,
  open: async name => { const s = new SqliteLocalStore(join(dir, `${name}.db`)); opened.push(s); return s }
}))

it('the SQLite store\'s destroy() deletes its file and its WAL', async () => {
  const before = readdirSync(dir).length
  const s = new SqliteLocalStore(join(dir, 'gone.db'))
  await s.setMeta({ deviceId: 'd', cursor: 1, privilegeVersion: 0, metadata: null, receiptSeq: 0 })
  expect(readdirSync(dir).length).toBeGreaterThan(before)
  await s.destroy()
  expect(readdirSync(dir).length).toBe(before)
})

it('a store made before 8 KiB pages keeps its own pages and its data', async () => {
  const file = join(dir, 'old-pages.db')
  const Database = (await import('better-sqlite3')).default
  const raw = new Database(file)
  raw.pragma('page_size = 4096')
  raw.pragma('journal_mode = WAL')
  raw.close()
  const s = new SqliteLocalStore(file)
  await s.receive('account/a1', new Uint8Array([0, 0]), { record: 'account/a1', entity: 'account', values: { name: 'x' } })
  await s.close()
  const again = new SqliteLocalStore(file)
  opened.push(again)
  expect(await again.load('account/a1')).toEqual([new Uint8Array([0, 0])])
  expect((await again.index('account')).map(r => r.values)).toEqual([{ name: 'x' }])
  const check = new Database(file, { readonly: true })
  expect(check.pragma('page_size', { simple: true })).toBe(4096)
  check.close()
  const fresh = join(dir, 'new-pages.db')
  const n = new SqliteLocalStore(fresh)
  await n.close()
  const checkNew = new Database(fresh, { readonly: true })
  expect(checkNew.pragma('page_size', { simple: true })).toBe(8192)
  checkNew.close()
})

it('a store made before the metadata had a row of its own keeps its meta, and moves the metadata at its next setting', async () => {
  const file = join(dir, 'old-meta.db')
  const Database = (await import('better-sqlite3')).default
  const raw = new Database(file)
  const meta = { deviceId: 'd', cursor: 7, privilegeVersion: 2, metadata: JSON.stringify({ entities: ['account'] }), receiptSeq: 1 }
  raw.exec('CREATE TABLE meta (k INTEGER PRIMARY KEY CHECK (k = 1), data TEXT NOT NULL)')
  raw.prepare('INSERT INTO meta (k, data) VALUES (1, ?)').run(JSON.stringify(meta))
  raw.close()
  const s = new SqliteLocalStore(file)
  expect(await s.meta()).toEqual(meta)
  await s.setMeta({ ...meta, cursor: 8 })
  await s.close()
  const again = new SqliteLocalStore(file)
  opened.push(again)
  expect(await again.meta()).toEqual({ ...meta, cursor: 8 })
})
