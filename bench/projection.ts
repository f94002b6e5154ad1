// bench/projection: device updates through the whole projection path (check, diff, decide, compensate,
// persist the update + row + receipts in one commit) against raw batched better-sqlite3 upserts of the
// same rows, in the same process and run, on files with the same durability settings.
// Usage: npm run bench:projection -- [records=200] [updatesPerRecord=50]

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { buildCatalog } from '../src/docs/catalog.ts'
import { createRecord, readRecord, setField } from '../src/docs/record.ts'
import { rowOf, columnsOf, tableName, type Row } from '../src/projection/rows.ts'
import { Rooms } from '../src/server/rooms.ts'
import type { Peer } from '../src/server/room.ts'
import { Security } from '../src/server/security.ts'
import { encodeSyncUpdate } from '../src/protocol/sync-messages.ts'
import { SyncStep } from '../src/protocol/codes.ts'
import { SqliteRecordStorage } from '../src/server/storage/sqlite.ts'
import { openSqlite } from '../src/server/storage/sqlite-db.ts'
import { SqliteProjection } from '../src/server/storage/sqlite-projection.ts'
import { SqliteSecurityStore } from '../src/server/storage/sqlite-security.ts'
import { demoModel } from '../src/server/demo.ts'
import { asRecordId, type DocName } from '../src/ids.ts'

const [R, U] = [200, 50].map((d, i) => Number(process.argv[2 + i] ?? d))
const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-projection-'))

// The workload: R accounts owned by alice; U edits each (a field and the modification stamps), as update
// bytes a device would send, and the row each leaves behind.
const docs = Array.from({ length: R }, () => new Y.Doc())
const initial: Uint8Array[] = []
const updates: Uint8Array[][] = Array.from({ length: U }, () => [])
const rows: Row[][] = Array.from({ length: U }, () => [])
docs.forEach((d, r) => {
  createRecord(d, account, { id: asRecordId(`b${r}`), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: `Account ${r}` } }, { by: 'u-alice', at: '2026-11-27T10:00:00.000Z' })
  initial.push(Y.encodeStateAsUpdate(d))
})
for (let u = 0; u < U; u++) {
  docs.forEach((d, r) => {
    const sv = Y.encodeStateVector(d)
    setField(d, account, u % 2 === 0 ? 'telephone1' : 'numberofemployees', u % 2 === 0 ? `+47 ${u}-${r}` : u, { by: 'u-alice', at: `2026-11-27T10:${String(u % 60).padStart(2, '0')}:00.000Z` })
    updates[u].push(Y.encodeStateAsUpdate(d, sv))
    rows[u].push(rowOf(account, readRecord(d, account))!)
  })
}

const ours = async (): Promise<number> => {
  const db = openSqlite(join(dir, 'ours.db'))
  const projection = new SqliteProjection(db, catalog)
  const storage = new SqliteRecordStorage(db, projection)
  const security = new Security(new SqliteSecurityStore(db), demoModel(catalog))
  const rooms = new Rooms({ storage, catalog, security, idleUnloadMs: 600_000, compactAfter: 200 })
  const peers: Peer[] = docs.map((_, r) => ({ id: r, principal: 'u-alice', delivered: undefined, wantsReceipts: false, send: () => {}, close: () => {} }))
  const roomList = await Promise.all(docs.map(async (_, r) => { const room = rooms.get(`account/b${r}` as DocName); await room.ready; room.join(peers[r]); return room }))
  roomList.forEach((room, r) => room.receive(peers[r], encodeSyncUpdate(SyncStep.update, initial[r])))
  await Promise.all(roomList.map(room => room.settled()))
  const t0 = performance.now()
  for (let u = 0; u < U; u++) {
    roomList.forEach((room, r) => room.receive(peers[r], encodeSyncUpdate(SyncStep.update, updates[u][r])))
    await Promise.all(roomList.map(room => room.settled()))
  }
  const seconds = (performance.now() - t0) / 1000
  const check = projection.row('account', `b${R - 1}`)
  if (JSON.stringify(check) !== JSON.stringify(rows[U - 1][R - 1])) throw new Error('projection did not reach the expected rows')
  await rooms.close(); await storage.close(); db.close()
  return (R * U) / seconds
}

const raw = (): number => {
  const db = openSqlite(join(dir, 'raw.db'))
  const cols = columnsOf(account)
  db.exec(`CREATE TABLE ${tableName('account')} (${cols.map(c => `"${c.name}" ${c.kind.toUpperCase()}${c.name === 'id' ? ' PRIMARY KEY' : ''}`).join(', ')})`)
  const upsert = db.prepare(`INSERT OR REPLACE INTO ${tableName('account')} (${cols.map(c => `"${c.name}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`)
  const batch = db.transaction((rs: Row[]) => { for (const row of rs) upsert.run(...cols.map(c => row[c.name] ?? null)) })
  const t0 = performance.now()
  for (let u = 0; u < U; u++) batch(rows[u])
  const seconds = (performance.now() - t0) / 1000
  db.close()
  return (R * U) / seconds
}

console.log(`bench/projection: ${R} records x ${U} updates = ${R * U} device updates, committed ${R} per transaction (WAL, synchronous=FULL)`)
const a = await ours()
const b = raw()
console.log(`fieldsync projection (check, diff, decide, persist update + row): ${Math.round(a)} updates/s`)
console.log(`raw better-sqlite3 batched upserts of the same rows:             ${Math.round(b)} rows/s`)
console.log(`ratio fieldsync / raw: ${(a / b).toFixed(3)}x`)
rmSync(dir, { recursive: true, force: true })
