// The device keeps loaded only the documents the app opened and the few the SDK used last (CACHED_DOCUMENTS):
// work on many records at once loses no edit to the unloading, a record loaded again continues where its
// stored updates end, and a document the app holds stays the one it edits.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import * as Y from 'yjs'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { provider, synced, until } from '../helpers/server.ts'
import { serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

/** The real store, whose next load returns what it read only once `gate` resolves (an IndexedDB read takes its time), and which tells what it stores. */
class SlowStore extends SqliteLocalStore {
  gate: Promise<void> | null = null
  readonly stored: string[] = []
  readonly loads: string[] = []
  override async load (record: string): Promise<Uint8Array[]> {
    this.loads.push(record)
    const read = await super.load(record)
    const gate = this.gate
    this.gate = null
    if (gate !== null) await gate
    return read
  }

  override put (record: string, update: Uint8Array, entry?: Parameters<SqliteLocalStore['put']>[2]): Promise<void> {
    this.stored.push(record)
    return super.put(record, update, entry)
  }
}

const account = buildCatalog().entities.get('account')!
const CACHED = 3

describe('documents the device keeps loaded', () => {
  it('are the app\'s and the few used last; concurrent work on many records loses nothing', async () => {
    const s = await serverFor(cleanups)
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-device-'))
    const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token('alice'), store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: WebSocket as unknown as new (url: string) => SocketLike, cachedDocuments: CACHED })
    cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
    await d.sync()

    const held = await d.create('account', { name: 'Held by the app' })
    const heldDoc = await d.open(held)
    // Twelve records created and then edited twice, all at once: far more than stay loaded.
    const records = await Promise.all(Array.from({ length: 12 }, (_, i) => d.create('account', { name: `Many ${i}` })))
    for (const round of [1, 2]) {
      await Promise.all(records.map((r, i) => d.update(r, { telephone1: `+47 ${round}-${i}` })))
      await until(() => d.loadedDocuments <= CACHED + 1, `at most ${CACHED} documents of the SDK's and the app's one loaded (${d.loadedDocuments})`)
    }
    // The app's document is still the one loaded, and an edit in it still goes out.
    expect(await d.open(held)).toBe(heldDoc)
    setField(heldDoc, account, 'telephone1', '+47 app', { by: 'u-alice', at: new Date().toISOString() })
    await until(() => s.projection.row('account', held.split('/')[1])?.telephone1 === '+47 app', 'the app\'s edit reached the server')

    await d.sync()
    expect(await d.inbox()).toEqual([])
    expect(await d.unsyncedCount()).toBe(0)
    records.forEach((r, i) => expect(s.projection.row('account', r.split('/')[1])?.telephone1).toBe(`+47 2-${i}`))
  })

  it('a change received while its record loads reaches the loaded document', async () => {
    const s = await serverFor(cleanups)
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-device-'))
    const store = new SlowStore(join(dir, 'device.db'))
    const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token('alice'), store, WebSocket: WebSocket as unknown as new (url: string) => SocketLike })
    cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
    await d.sync()
    const [{ record }] = await d.list('account')
    let release = (): void => {}
    store.gate = new Promise(resolve => { release = resolve })
    const opening = d.open(record) // reads the store now, returns once released
    // Meanwhile another writer changes the record, and the device stores the change live.
    const other = new Y.Doc()
    const p = provider(s.wsUrl, record, other, await s.token('alice'))
    cleanups.push(() => p.destroy())
    await synced(p)
    setField(other, account, 'telephone1', '+47 while loading', { by: 'u-alice', at: new Date().toISOString() })
    await until(() => store.stored.includes(record), 'the device stored the change')
    release()
    const doc = await opening
    await until(() => readRecord(doc).fields.telephone1 === '+47 while loading', 'the loaded document has the change', [doc])
  })

  it('opens of a record while it loads share its load: an edit meanwhile lands in the one document', async () => {
    const s = await serverFor(cleanups)
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-device-'))
    const store = new SlowStore(join(dir, 'device.db'))
    const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token('alice'), store, WebSocket: WebSocket as unknown as new (url: string) => SocketLike, cachedDocuments: 0 })
    cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
    await d.sync()
    const [{ record }] = await d.list('account')
    let release = (): void => {}
    store.gate = new Promise(resolve => { release = resolve })
    const opening = d.open(record)
    const updating = d.update(record, { telephone1: '+47 during the load' })
    // (A second load would have made, edited and unloaded a document of its own; the first, reading the
    // store from before that edit, would then have been kept, and the next edit written at clocks in use.)
    expect(store.loads.filter(r => r === record)).toHaveLength(1)
    release()
    const doc = await opening
    await updating
    expect(readRecord(doc).fields.telephone1).toBe('+47 during the load')
    await d.update(record, { websiteurl: 'after.example' })
    const id = record.split('/')[1]
    await until(() => s.projection.row('account', id)?.websiteurl === 'after.example', 'the second edit reached the server')
    expect(s.projection.row('account', id)?.telephone1).toBe('+47 during the load')
    expect(await d.inbox()).toEqual([])
  })
})

