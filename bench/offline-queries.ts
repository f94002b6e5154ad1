// bench/offline-queries: system views and search on 10,000 records in a device's local store (the
// SQLite store; reading the index is part of each query), p50 and p95 in milliseconds.
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
import { account, benchRecord } from './lib/dataset.ts'

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

const measure = async (label: string, f: () => Promise<number>): Promise<void> => {
  const times: number[] = []
  let n = 0
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    n = await f()
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  const p = (q: number): string => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1)
  console.log(`${label.padEnd(52)} p50 ${p(0.5).padStart(6)} ms   p95 ${p(0.95).padStart(6)} ms   (${n} rows)`)
}

console.log(`bench/offline-queries: ${N} accounts in the device store, ${RUNS} runs each`)
for (const name of ['Active Accounts', 'Large Accounts in Oslo or Bergen', 'Account Quick View']) {
  const v = views.find(x => x.name === name)!
  await measure(`view "${name}" (page 1 of 50)`, async () => runView(v, await store.index('account'), 1, 50).total)
}
const offline = new Set(['account'])
for (const text of ['account 9999', 'tuesdays', 'no such text']) {
  await measure(`search account "${text}"`, async () => search(account, offline, await store.index('account'), text).length)
}
await store.close()
rmSync(dir, { recursive: true, force: true })
