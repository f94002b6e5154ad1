// The shared LocalStore suite against the browser stores, in real headless Chromium with real IndexedDB
// on disk (a profile in a temporary folder): the one-database IndexedDB store (the app's default) and the
// y-indexeddb store.

import { afterAll, beforeAll, expect, it } from 'vitest'
import * as Y from 'yjs'
import { PREFERRED_TRIM_SIZE } from 'y-indexeddb'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import type * as Sdk from '../../src/client/index.ts'
import { bundleSdk, launchPersistentChromium, servePage } from '../helpers/browser.ts'
import { openRemoteStore } from '../helpers/remote-store.ts'
import { describeLocalStore } from '../client/local-store-suite.ts'

const profile = mkdtempSync(join(tmpdir(), 'fieldsync-profile-'))
let browser: BrowserContext
let site: { url: string, close: () => Promise<void> }
let page: Page

beforeAll(async () => {
  browser = await launchPersistentChromium(profile)
  site = await servePage(await bundleSdk())
  page = await browser.newPage()
  await page.goto(site.url)
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await site?.close()
  rmSync(profile, { recursive: true, force: true })
})

describeLocalStore('IndexedDB (one database)', () => ({ keepsUpdates: true, many: 2_000, open: name => openRemoteStore(page, 'IndexedDbLocalStore', name) }))
describeLocalStore('y-indexeddb (a database per record)', () => ({ keepsUpdates: false, many: 1_000, open: name => openRemoteStore(page, 'YIndexedDbLocalStore', name) }))

it('y-indexeddb: a record written and read often keeps its rows below y-indexeddb\'s trim size (merged as it goes)', async () => {
  const doc = new Y.Doc()
  const updates: number[][] = []
  doc.on('update', (u: Uint8Array) => updates.push(Array.from(u)))
  for (let i = 0; i < 300; i++) doc.getMap('fields').set('n', i)
  // Each write and each read opens the record's persistence, which adds a row: 600 and more unmerged.
  const got = await page.evaluate(async (updates) => {
    const w = globalThis as typeof globalThis & { fieldsync: typeof Sdk }
    const store = await w.fieldsync.YIndexedDbLocalStore.open('y-rows')
    for (const u of updates) await store.put('account/a', Uint8Array.from(u))
    for (let i = 0; i < 300; i++) await store.load('account/a')
    const state = await store.load('account/a')
    await store.close()
    const db = await new Promise<IDBDatabase>((resolve, reject) => { const r = indexedDB.open('y-rows/account/a'); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
    const rows = await new Promise<number>(resolve => { const r = db.transaction('updates').objectStore('updates').count(); r.onsuccess = () => resolve(r.result) })
    db.close()
    await store.destroy()
    return { rows, state: state.map(u => Array.from(u)) }
  }, updates)
  expect(got.rows).toBeLessThan(PREFERRED_TRIM_SIZE)
  const loaded = new Y.Doc()
  for (const u of got.state) Y.applyUpdate(loaded, Uint8Array.from(u))
  expect(loaded.getMap('fields').get('n')).toBe(299)
}, 120_000)
