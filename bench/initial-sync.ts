// bench/initial-sync and bench/resync: a device with N accounts of ~20 fields, from empty, over /device
// (one socket), against the same records fetched from @y/websocket-server with one socket per record,
// in the same run; then a resync after 1% of the records changed: bytes and time.
// Usage: npm run bench:initial-sync -- [records=10000]

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { FieldsyncDevice, type SocketLike } from '../src/client/device.ts'
import { SqliteLocalStore } from '../src/client/sqlite-store.ts'
import { buildCatalog } from '../src/docs/catalog.ts'
import { readRecord } from '../src/docs/record.ts'
import { rowOf } from '../src/projection/rows.ts'
import { demoModel } from '../src/server/demo.ts'
import { Security } from '../src/server/security.ts'
import { SqliteRecordStorage } from '../src/server/storage/sqlite.ts'
import { openSqlite } from '../src/server/storage/sqlite-db.ts'
import { SqliteProjection } from '../src/server/storage/sqlite-projection.ts'
import { SqliteSecurityStore } from '../src/server/storage/sqlite-security.ts'
import type { DocName } from '../src/ids.ts'
import { spawnUntil } from '../tools/spawn.ts'
import { account, benchRecord } from './lib/dataset.ts'

process.setMaxListeners(0)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const N = Number(process.argv[2] ?? 10_000)
const CHANGED = Math.max(1, Math.round(N / 100))
const catalog = buildCatalog()
const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-sync-'))
const ws = WebSocket as unknown as new (url: string) => SocketLike

// Our server's data: the demo model and N accounts, written before the server starts.
{
  const db = openSqlite(join(dir, 'fieldsync.db'))
  const projection = new SqliteProjection(db, catalog)
  const storage = new SqliteRecordStorage(db, projection)
  new Security(new SqliteSecurityStore(db), demoModel(catalog)) // saves the model: no demo seeding
  const writes: Promise<unknown>[] = []
  for (let i = 0; i < N; i++) {
    const r = benchRecord(i)
    writes.push(storage.append(r.name as DocName, Y.encodeStateAsUpdate(r.doc), { row: { entity: 'account', id: r.id, values: rowOf(account, readRecord(r.doc, account)) } }))
  }
  await Promise.all(writes)
  await storage.close(); db.close()
}

const server = await spawnUntil({
  command: process.execPath, args: ['--import', 'tsx', 'src/server/main.ts'], cwd: ROOT,
  env: { ...process.env, PORT: '0', DATA_DIR: dir, CUSTOM_ENTITIES: '' }, ready: /listening on http:\/\/[^:]+:(\d+)\//
})
const port = Number(server.match[1])
const token = (await (await fetch(`http://127.0.0.1:${port}/auth/dev-login`, { method: 'POST', body: '{"user":"alice"}' })).json() as { token: string }).token
const device = async (): Promise<FieldsyncDevice> => FieldsyncDevice.open({ url: `ws://127.0.0.1:${port}`, token, store: new SqliteLocalStore(join(mkdtempSync(join(dir, 'dev-')), 'd.db')), WebSocket: ws })

const d1 = await device()
let bytes = 0
d1.on('progress', (p: { bytes: number }) => { bytes = Math.max(bytes, p.bytes) })
let t0 = performance.now()
await d1.sync()
const oursSeconds = (performance.now() - t0) / 1000
const held = (await d1.store.records()).length
const initialBytes = bytes

// The peer: the same records in @y/websocket-server, fetched one socket per record, 200 at a time.
const peerProc = await spawnUntil({ command: process.execPath, args: ['--import', 'tsx', 'bench/lib/peer-server.ts', String(N)], cwd: ROOT, env: { ...process.env }, ready: /ready (\d+)/, timeoutMs: 120_000 })
const peerUrl = `ws://127.0.0.1:${peerProc.match[1]}`
t0 = performance.now()
let fetched = 0
for (let start = 0; start < N; start += 200) {
  await Promise.all(Array.from({ length: Math.min(200, N - start) }, (_, k) => new Promise<void>(resolve => {
    const doc = new Y.Doc()
    const p = new WebsocketProvider(peerUrl, `account/bench${start + k}`, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
    p.once('sync', () => { if (doc.getMap('meta').has('entity')) fetched++; p.destroy(); doc.destroy(); resolve() })
  })))
}
const peerSeconds = (performance.now() - t0) / 1000
await peerProc.kill('SIGTERM')

// Resync: while the first device is offline, a second device of alice changes 1% of the records;
// then the first device reconnects and syncs.
d1.disconnect()
const d2 = await device()
await d2.sync()
let changedBytes = 0
for (let i = 0; i < CHANGED; i++) {
  const name = `account/bench${i * 100 % N}`
  const doc = await (d2 as unknown as { open: (n: string) => Promise<Y.Doc> }).open(name)
  const capture = (u: Uint8Array): void => { changedBytes += u.length }
  doc.on('update', capture)
  await d2.update(name, { telephone1: `+47 changed ${i}` })
  doc.off('update', capture)
}
await d2.sync()
bytes = 0
t0 = performance.now()
await d1.sync()
const resyncSeconds = (performance.now() - t0) / 1000
const check = readRecord(await d1.open('account/bench0'), account).fields.telephone1

console.log(`bench/initial-sync: ${N} accounts of ${account.attributes.length} attributes (${held} records in the device's scope)`)
console.log(`fieldsync /device, one socket:            ${oursSeconds.toFixed(2)} s  ${Math.round(held / oursSeconds)} records/s  ${(initialBytes / 1e6).toFixed(1)} MB`)
console.log(`@y/websocket-server, one socket a record:  ${peerSeconds.toFixed(2)} s  ${Math.round(fetched / peerSeconds)} records/s  (${fetched} fetched)`)
console.log(`ratio fieldsync / peer: ${((held / oursSeconds) / (fetched / peerSeconds)).toFixed(2)}x records per second`)
console.log(`bench/resync: ${CHANGED} of ${N} records changed (their own updates: ${changedBytes} bytes)`)
console.log(`resync: ${resyncSeconds.toFixed(2)} s, ${bytes} bytes of record data sent (${(bytes / changedBytes).toFixed(2)}x the changed updates); bench0 now ${JSON.stringify(check)}`)
await d1.close(); await d2.close()
await server.kill('SIGTERM')
rmSync(dir, { recursive: true, force: true })
process.exit(0)
