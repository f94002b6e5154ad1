// bench/local-stores: the three device stores side by side at 1,000 and 10,000 records — the SQLite store
// in Node, the one-database IndexedDB store and the y-indexeddb store in headless Chromium with its profile
// on disk: time to store N records as an initial sync does, a cold start (the store opened anew — SQLite
// by a new connection, the browser stores in a new Chromium over the same profile: index listed, then every
// record loaded into a document), and the bytes on disk.
// Usage: npm run bench:local-stores -- [counts=1000,10000]

import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { launchPersistentChromium } from '../test/helpers/browser.ts'
import { SqliteLocalStore } from '../src/client/sqlite-store.ts'
import { coldStart, initialSync } from './lib/local-stores-measure.ts'
import { fmt, printTable } from './lib/table.ts'

const COUNTS = (process.argv[2] ?? '1000,10000').split(',').map(Number)
type Page = typeof import('./lib/local-stores-page.ts')
type Win = typeof globalThis & { bench: Page }

interface Figures { store: string, n: number, write: number, list: number, loadAll: number, bytes: number }

/** Bytes of the files under `dir`. */
const du = (dir: string): number => readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter(e => e.isFile()).reduce((sum, e) => sum + statSync(join(e.parentPath, e.name)).size, 0)

const sqlite = async (n: number): Promise<Figures> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-local-'))
  try {
    const file = join(dir, 'device.db')
    const write = await initialSync(async () => new SqliteLocalStore(file), n)
    const cold = await coldStart(async () => new SqliteLocalStore(file))
    return { store: 'SQLite (Node)', n, write, list: cold.list, loadAll: cold.loadAll, bytes: du(dir) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const bundle = (await build({
  entryPoints: [fileURLToPath(new URL('./lib/local-stores-page.ts', import.meta.url))],
  bundle: true, format: 'iife', globalName: 'bench', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent',
  // The dataset builds the catalog, whose custom-entity file reading the page never calls.
  plugins: [{ name: 'no-fs', setup: b => {
    b.onResolve({ filter: /^node:fs$/ }, () => ({ path: 'node:fs', namespace: 'no-fs' }))
    b.onLoad({ filter: /.*/, namespace: 'no-fs' }, () => ({ contents: 'export const readFileSync = () => { throw new Error("no files in the page") }' }))
  } }]
})).outputFiles[0].text

/** A browser store: written in one browser, read in a new one over the same profile (a cold start). */
const browser = async (kind: 'indexeddb' | 'y-indexeddb', n: number): Promise<Figures> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-profile-'))
  // IndexedDB needs an origin: a page served from a route of the browser's own (no server process).
  const session = async <T>(f: (p: import('playwright-core').Page) => Promise<T>): Promise<T> => {
    const context = await launchPersistentChromium(dir)
    try {
      await context.route('http://bench.local/**', route => route.fulfill({ contentType: 'text/html', body: `<!doctype html><meta charset="utf-8"><script>${bundle}</script>` }))
      const page = await context.newPage()
      await page.goto('http://bench.local/')
      return await f(page)
    } finally {
      await context.close()
    }
  }
  try {
    const write = await session(p => p.evaluate(({ kind, n }) => (globalThis as Win).bench.write(kind, n), { kind, n }))
    const idb = join(dir, 'Default', 'IndexedDB')
    const cold = await session(p => p.evaluate(kind => (globalThis as Win).bench.cold(kind), kind))
    return { store: kind === 'indexeddb' ? 'IndexedDB, one database (Chromium)' : 'y-indexeddb, database per record (Chromium)', n, write, list: cold.list, loadAll: cold.loadAll, bytes: du(idb) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

console.log(`bench/local-stores: the device stores at ${COUNTS.join(' and ')} accounts (~20 fields each); SQLite synchronous=FULL`)
const rows: Figures[] = []
for (const n of COUNTS) {
  for (const run of [() => sqlite(n), () => browser('indexeddb', n), () => browser('y-indexeddb', n)]) {
    const f = await run()
    rows.push(f)
    console.error(`  ${f.store}, ${n}: done`)
  }
}
const base = (f: Figures): Figures => rows.find(r => r.n === f.n && r.store.startsWith('IndexedDB'))!
const x = (v: number, b: number): string => `${(v / b).toFixed(1)}x`
printTable(
  ['store', 'records', 'write N', 'cold: list', 'cold: load all', 'on disk', 'vs IndexedDB: write / list / load all / bytes'],
  rows.map(f => [f.store, fmt.int(f.n), fmt.ms(f.write), fmt.ms(f.list), fmt.ms(f.loadAll), `${(f.bytes / 2 ** 20).toFixed(1)} MiB`,
    `${x(f.write, base(f).write)} / ${x(f.list, base(f).list)} / ${x(f.loadAll, base(f).loadAll)} / ${x(f.bytes, base(f).bytes)}`])
)
