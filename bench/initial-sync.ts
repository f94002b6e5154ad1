// bench/initial-sync and bench/resync: a device with N accounts of ~20 fields, from empty, over /device
// (one socket), against the same records fetched from @y/websocket-server with one socket per record,
// in the same run; then a resync after 1% of the records changed: bytes and time. (bench/team runs the
// first half with the servers and the device pinned to cores of their own.)
// Usage: npm run bench:initial-sync -- [records=10000]

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type * as Y from 'yjs'
import WebSocket from 'ws'
import { FieldsyncDevice, type SocketLike } from '../src/client/device.ts'
import { SqliteLocalStore } from '../src/client/sqlite-store.ts'
import { buildCatalog } from '../src/docs/catalog.ts'
import { readRecord } from '../src/docs/record.ts'
import { demoModel } from '../src/server/demo.ts'
import { account, benchRecord } from './lib/dataset.ts'
import { fetchOneSocketPerRecord } from './lib/peer-fetch.ts'
import { startFieldsync, startYwsPeer } from './lib/processes.ts'
import { seedStorage } from './lib/seed.ts'

process.setMaxListeners(0)
const N = Number(process.argv[2] ?? 10_000)
const CHANGED = Math.max(1, Math.round(N / 100))
const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-sync-'))
const ws = WebSocket as unknown as new (url: string) => SocketLike

// Our server's data: the demo model and N accounts, written before the server starts.
await seedStorage(dir, demoModel(buildCatalog()), Array.from({ length: N }, (_, i) => benchRecord(i)))
const server = await startFieldsync({ dir, cpu: null })
const token = await server.token('alice')
const device = async (): Promise<FieldsyncDevice> => FieldsyncDevice.open({ url: server.wsUrl, token, store: new SqliteLocalStore(join(mkdtempSync(join(dir, 'dev-')), 'd.db')), WebSocket: ws })

const d1 = await device()
let bytes = 0
d1.on('progress', (p: { bytes: number }) => { bytes = Math.max(bytes, p.bytes) })
let t0 = performance.now()
await d1.sync()
const oursSeconds = (performance.now() - t0) / 1000
const held = (await d1.store.records()).length
const initialBytes = bytes

// The peer: the same records in @y/websocket-server, fetched one socket per record, 200 at a time.
const peer = await startYwsPeer(N, null)
const { seconds: peerSeconds, fetched } = await fetchOneSocketPerRecord(peer.url, Array.from({ length: N }, (_, i) => `account/bench${i}`), 200)
await peer.proc.kill('SIGTERM')

// Resync: while the first device is offline, a second device of alice changes 1% of the records;
// then the first device reconnects and syncs.
d1.disconnect()
const d2 = await device()
await d2.sync()
let changedBytes = 0
for (let i = 0; i < CHANGED; i++) {
  const name = `account/bench${i * 100 % N}`
  const doc: Y.Doc = await d2.open(name)
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
await server.proc.kill('SIGTERM')
rmSync(dir, { recursive: true, force: true })
process.exit(0)
