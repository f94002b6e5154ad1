// The device keeps loaded only the documents the app opened and the few the SDK used last (CACHED_DOCUMENTS):
// work on many records at once loses no edit to the unloading, a record loaded again continues where its
// stored updates end, and a document the app holds stays the one it edits.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { until } from '../helpers/server.ts'
import { serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()
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
    await until(async () => await d.unsyncedCount() === 1 + 12 + 24 + 1, 'every edit is kept to be sent')

    await d.sync()
    expect(await d.inbox()).toEqual([])
    expect(await d.unsyncedCount()).toBe(0)
    records.forEach((r, i) => expect(s.projection.row('account', r.split('/')[1])?.telephone1).toBe(`+47 2-${i}`))
    expect(s.projection.row('account', held.split('/')[1])?.telephone1).toBe('+47 app')
  })
})
