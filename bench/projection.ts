// bench/projection: device updates through the whole projection path (check, diff, decide, compensate,
// persist the update + row + receipts in one commit) against raw batched better-sqlite3 upserts of the
// same rows, in the same process and run, on files with the same durability settings.
// Then the cost per update on records with a long timeline (0 and 1,000 notes): a note added and a field
// set, through the same path, beside a plain Y.applyUpdate of the same updates.
// Usage: npm run bench:projection -- [records=200] [updatesPerRecord=50] [timelineNotes=1000]

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { buildCatalog } from '../src/docs/catalog.ts'
import { addNote, createRecord, readRecord, setField } from '../src/docs/record.ts'
import { rowOf, columnsOf, tableName, type Row } from '../src/projection/rows.ts'
import { Rooms } from '../src/server/rooms.ts'
import { recordingMember } from '../tools/room-member.ts'
import { Security } from '../src/server/security.ts'
import { SqliteRecordStorage } from '../src/server/storage/sqlite.ts'
import { openSqlite } from '../src/server/storage/sqlite-db.ts'
import { SqliteProjection } from '../src/server/storage/sqlite-projection.ts'
import { SqliteSecurityStore } from '../src/server/storage/sqlite-security.ts'
import { demoModel } from '../src/server/demo.ts'
import { asRecordId, type DocName } from '../src/ids.ts'

const [R, U, NOTES] = [200, 50, 1000].map((d, i) => Number(process.argv[2 + i] ?? d))
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
  const peers = docs.map(() => recordingMember('u-alice', { keep: false }))
  const roomList = await Promise.all(docs.map(async (_, r) => { const room = rooms.get(`account/b${r}` as DocName); await room.ready; room.join(peers[r]); return room }))
  roomList.forEach((room, r) => void room.submit(peers[r], initial[r]))
  await Promise.all(roomList.map(room => room.settled()))
  const t0 = performance.now()
  for (let u = 0; u < U; u++) {
    roomList.forEach((room, r) => void room.submit(peers[r], updates[u][r]))
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

/** Per-update cost on TR records of `notes` notes each: TU updates of `kind` per record, committed TR per transaction. */
const timeline = async (notes: number, kind: 'note' | 'field'): Promise<{ us: number, cpuUs: number, applyUs: number }> => {
  const TR = 20
  const TU = Number(process.env.TIMELINE_UPDATES ?? 200)
  const tdocs = Array.from({ length: TR }, (_, r) => {
    const d = new Y.Doc()
    createRecord(d, account, { id: asRecordId(`t${r}`), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: `Timeline ${r}` } }, { by: 'u-alice', at: '2026-11-27T10:00:00.000Z' })
    for (let n = 0; n < notes; n++) addNote(d, account, `n${n}`, { subject: `note ${n}`, text: 'x'.repeat(40) }, { by: 'u-alice', at: '2026-11-27T10:00:00.000Z' })
    return d
  })
  const start = tdocs.map(d => Y.encodeStateAsUpdate(d))
  const ups: Uint8Array[][] = Array.from({ length: TU }, () => [])
  // Each update is what a live client sends: the transaction's own update (its deletions only).
  for (let u = 0; u < TU; u++) {
    tdocs.forEach((d, r) => {
      let made: Uint8Array | null = null
      const take = (x: Uint8Array): void => { made = x }
      d.on('update', take)
      const actor = { by: 'u-alice', at: `2026-11-27T11:${String(u % 60).padStart(2, '0')}:00.000Z` }
      if (kind === 'note') addNote(d, account, `new${u}`, { subject: `new ${u}`, text: 'y'.repeat(40) }, actor)
      else setField(d, account, 'telephone1', `+47 ${u}-${r}`, actor)
      d.off('update', take)
      ups[u].push(made!)
    })
  }
  // A plain Y.applyUpdate of the same updates on copies of the records.
  const copies = start.map(s0 => { const c = new Y.Doc(); Y.applyUpdate(c, s0); return c })
  let t = performance.now()
  for (let u = 0; u < TU; u++) copies.forEach((c, r) => Y.applyUpdate(c, ups[u][r]))
  const applyUs = (performance.now() - t) * 1000 / (TR * TU)
  const db = openSqlite(join(dir, `timeline-${notes}-${kind}.db`))
  const projection = new SqliteProjection(db, catalog)
  const storage = new SqliteRecordStorage(db, projection)
  const security = new Security(new SqliteSecurityStore(db), demoModel(catalog))
  const rooms = new Rooms({ storage, catalog, security, idleUnloadMs: 600_000, compactAfter: 1_000_000 })
  const peers = tdocs.map(() => recordingMember('u-alice', { keep: false }))
  const roomList = await Promise.all(tdocs.map(async (_, r) => { const room = rooms.get(`account/t${r}` as DocName); await room.ready; room.join(peers[r]); return room }))
  roomList.forEach((room, r) => void room.submit(peers[r], start[r]))
  await Promise.all(roomList.map(room => room.settled()))
  const cpu0 = process.cpuUsage()
  t = performance.now()
  for (let u = 0; u < TU; u++) {
    roomList.forEach((room, r) => void room.submit(peers[r], ups[u][r]))
    await Promise.all(roomList.map(room => room.settled()))
  }
  const us = (performance.now() - t) * 1000 / (TR * TU)
  const cpu = process.cpuUsage(cpu0)
  const held = readRecord(roomList[0].doc, account)
  if (kind === 'note' && Object.keys(held.notes).length !== notes + TU) throw new Error('the notes did not all land')
  await rooms.close(); await storage.close(); db.close()
  return { us, cpuUs: (cpu.user + cpu.system) / (TR * TU), applyUs }
}

if (process.env.ONLY_TIMELINE === undefined) {
  console.log(`bench/projection: ${R} records x ${U} updates = ${R * U} device updates, committed ${R} per transaction (WAL, synchronous=FULL)`)
  const a = await ours()
  const b = raw()
  console.log(`fieldsync projection (check, diff, decide, persist update + row): ${Math.round(a)} updates/s`)
  console.log(`raw better-sqlite3 batched upserts of the same rows:             ${Math.round(b)} rows/s`)
  console.log(`ratio fieldsync / raw: ${(a / b).toFixed(3)}x`)
}
console.log(`per update, on 20 records x ${process.env.TIMELINE_UPDATES ?? 200} updates each, committed 20 per transaction (plain Y.applyUpdate of the same updates beside):`)
// (Warm up the code paths first; then each case runs twice, alternating, and keeps its lower CPU.)
await timeline(0, 'note'); await timeline(0, 'field')
const best = (a: Awaited<ReturnType<typeof timeline>>, b: Awaited<ReturnType<typeof timeline>>): Awaited<ReturnType<typeof timeline>> => a.cpuUs <= b.cpuUs ? a : b
for (const kind of ['note', 'field'] as const) {
  const none1 = await timeline(0, kind)
  const many1 = await timeline(NOTES, kind)
  const none = best(none1, await timeline(0, kind))
  const many = best(many1, await timeline(NOTES, kind))
  const line = (n: number, m: { us: number, cpuUs: number, applyUs: number }): string =>
    `  ${kind === 'note' ? 'note added' : 'field set '} on ${String(n).padStart(4)} notes: ${m.us.toFixed(0).padStart(5)} µs wall, ${m.cpuUs.toFixed(0).padStart(5)} µs CPU; Y.applyUpdate ${m.applyUs.toFixed(1)} µs`
  console.log(line(0, none))
  console.log(line(NOTES, many))
  console.log(`  ${kind === 'note' ? 'note added' : 'field set '}: ${NOTES} notes / none = ${(many.cpuUs / none.cpuUs).toFixed(2)}x CPU, ${(many.us / none.us).toFixed(2)}x wall`)
}
rmSync(dir, { recursive: true, force: true })
