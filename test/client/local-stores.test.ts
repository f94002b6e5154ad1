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
