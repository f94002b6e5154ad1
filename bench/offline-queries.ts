// bench/offline-queries: system views and search on 10,000 records in a device's local store, p50 and
// p95 in milliseconds, three ways side by side: through the device SDK (its index cached in memory),
// reading the index from the store on every query (what the SDK does once per entity after a write), and,
// as the peer, the same query as one SQL statement run by SQLite itself on the same index rows.
// Usage: npm run bench:offline-queries -- [records=10000] [runs=40]

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { buildCatalog } from '../src/docs/catalog.ts'
import { readRecord } from '../src/docs/record.ts'
import { SqliteLocalStore } from '../src/client/sqlite-store.ts'
import { parseMetadata } from '../src/metadata/metadata.ts'
import { runView } from '../src/metadata/views.ts'
import { search } from '../src/metadata/search.ts'
import Database from 'better-sqlite3'
import { account, benchRecord } from './lib/dataset.ts'
import { FieldsyncDevice, type SocketLike } from '../src/client/device.ts'
import { searchableFields } from '../src/metadata/search.ts'
import type { DeviceMetadata } from '../src/client/offline-rules.ts'

const [N, RUNS] = [10_000, 40].map((d, i) => Number(process.argv[2 + i] ?? d))
const catalog = buildCatalog()
const views = parseMetadata('config/metadata.json', readFileSync('config/metadata.json', 'utf8'), catalog).views
const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-queries-'))
const store = new SqliteLocalStore(join(dir, 'device.db'))
const writes: Promise<void>[] = []
for (let i = 0; i < N; i++) {
  const r = benchRecord(i)
  const s = readRecord(r.doc, account)
  writes.push(store.receive(r.name, Y.encodeStateAsUpdate(r.doc), { record: r.name, entity: 'account', values: { ...s.fields, ...s.texts, statecode: s.meta.statecode, ownerid: s.meta.ownerid } }))
}
await Promise.all(writes)

const measure = async (f: () => Promise<number> | number): Promise<{ p50: number, p95: number, n: number }> => {
  const times: number[] = []
  let n = 0
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    n = await f()
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  const p = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))]
  return { p50: p(0.5), p95: p(0.95), n }
}

// The device, with the metadata a sync would have given it (it never connects here).
const metadata: DeviceMetadata = {
  version: 1, userId: 'u-alice', businessUnitId: 'bu-north', entities: [account], fieldPermissions: {},
  privileges: { account: { create: true, read: true, write: true, delete: true } }, views: views.filter(v => v.entity === 'account')
}
await store.setMeta({ deviceId: 'bench-device-0001', cursor: 0, privilegeVersion: 1, metadata: JSON.stringify(metadata), receiptSeq: 0 })
const device = await FieldsyncDevice.open({ url: 'ws://127.0.0.1:9', token: '-', store, WebSocket: class {} as unknown as new (url: string) => SocketLike })
// The peer: SQLite's own query engine over the same index rows (JSON per record), one statement per query.
const sql = new Database(join(dir, 'device.db'), { readonly: true })
const col = (f: string): string => `json_extract(data, '$.${f}')`
const viewSql: Record<string, string> = {
  'Active Accounts': `WHERE entity = 'account' AND ${col('statecode')} = 0 ORDER BY ${col('name')}`,
  'Large Accounts in Oslo or Bergen': `WHERE entity = 'account' AND ${col('numberofemployees')} >= 50 AND (${col('address1_city')} = 'Oslo' OR ${col('address1_city')} = 'Bergen') ORDER BY ${col('numberofemployees')} DESC`,
  'Account Quick View': `WHERE entity = 'account' ORDER BY record`
}
const fields = searchableFields(account)
const searchSql = (): Database.Statement<[{ t: string }], unknown> => sql.prepare(
  `SELECT record, data FROM idx WHERE entity = 'account' AND (${fields.map(f => `instr(lower(${col(f)}), @t) > 0`).join(' OR ')}) ` +
  `ORDER BY CASE ${fields.map((f, i) => `WHEN instr(lower(${col(f)}), @t) > 0 THEN ${i}`).join(' ')} END, record LIMIT 50`)

const row = (label: string, ours: { p50: number, p95: number, n: number }, uncached: { p50: number, p95: number }, peer: { p50: number, p95: number, n: number }): void => {
  const f = (x: number): string => x.toFixed(1).padStart(6)
  console.log(`${label.padEnd(54)} ${f(ours.p50)} ${f(ours.p95)}   ${f(uncached.p50)} ${f(uncached.p95)}   ${f(peer.p50)} ${f(peer.p95)}   ${(peer.p50 / ours.p50).toFixed(1).padStart(5)}x   (${ours.n} rows; SQL ${peer.n})`)
}

console.log(`bench/offline-queries: ${N} accounts in the device store, ${RUNS} runs each; milliseconds`)
console.log(`${''.padEnd(54)} device (cached)   store read each   SQLite SQL (peer)  peer/device p50`)
console.log(`${''.padEnd(54)}    p50    p95      p50    p95      p50    p95`)
for (const name of ['Active Accounts', 'Large Accounts in Oslo or Bergen', 'Account Quick View']) {
  const v = views.find(x => x.name === name)!
  const stmt = sql.prepare(`SELECT record, data, count(*) OVER () AS total FROM idx ${viewSql[name]} LIMIT 50`)
  row(`view "${name}" (page 1 of 50)`,
    await measure(async () => (await device.view('account', name, 1, 50)).total),
    await measure(async () => runView(v, await store.index('account'), 1, 50).total),
    await measure(() => { const rows = stmt.all() as { total: number, data: string }[]; for (const r of rows) JSON.parse(r.data); return rows[0]?.total ?? 0 }))
}
const offline = new Set(['account'])
for (const text of ['account 9999', 'tuesdays', 'no such text']) {
  const stmt = searchSql()
  row(`search account "${text}"`,
    await measure(async () => (await device.search('account', text)).length),
    await measure(async () => search(account, offline, await store.index('account'), text).length),
    await measure(() => { const rows = stmt.all({ t: text.toLowerCase() }) as { data: string }[]; for (const r of rows) JSON.parse(r.data); return rows.length }))
}
sql.close()
await device.close()
rmSync(dir, { recursive: true, force: true })
