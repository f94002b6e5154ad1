// The device keeps few record documents loaded (src/client/replica.ts, CACHED_DOCUMENTS) and reloads them
// from its store. While it works through its records, a read-only user's device pushes refused writes to
// them and a writer edits them over /sync: the device stays within its bound, gets none of the refused
// values, nothing of it lands in its inbox, and every record it reloads is what the server stores.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import type { DocName } from '../../src/ids.ts'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, open, rawDevice, startServer, TIME } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()
const KEPT = 2

const fieldsOf = (updates: readonly Uint8Array[]): Record<string, unknown> => {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return readRecord(doc, account).fields
}

describe('a device reloading its records while others write them', () => {
  it('stays within its bound and reloads what the server stores, none of a read-only user\'s refused values', async () => {
    const s = await startServer(cleanups)
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-device-'))
    const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token('alice'), store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: WebSocket as unknown as new (url: string) => SocketLike, cachedDocuments: KEPT })
    cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
    await d.sync()
    const records = await Promise.all(Array.from({ length: 6 }, (_, i) => d.create('account', { name: `Shared ${i}` })))
    await d.sync()

    // erin may read alice's accounts, not write them; avery may write them.
    const erin = await rawDevice(cleanups, s, 'erin', 'documents-erin')
    const avery = await Promise.all(records.map(r => open(cleanups, s, r, 'avery')))
    let id = 0
    for (const round of [1, 2, 3]) {
      records.forEach((r, i) => {
        const erinDoc = copyOf(s, r as DocName, 0x6e00100 + i)
        const sv = Y.encodeStateVector(erinDoc)
        setField(erinDoc, account, 'name', `erin-secret-${round}-${i}`, { by: 'u-erin', at: TIME })
        erin.send({ type: DeviceMessage.push, record: r, id: ++id, update: Y.encodeStateAsUpdate(erinDoc, sv) })
        setField(avery[i].doc, account, 'telephone1', `+47 avery ${round}-${i}`, { by: 'u-avery', at: new Date().toISOString() })
      })
      await Promise.all(records.map((r, i) => d.update(r, { websiteurl: `alice-${round}-${i}.example` })))
    }
    for (const [i, r] of records.entries()) {
      await until(() => s.projection.row('account', r.split('/')[1])?.telephone1 === `+47 avery 3-${i}` && s.projection.row('account', r.split('/')[1])?.websiteurl === `alice-3-${i}.example`, `both writers' last edits of ${r} committed`)
      await s.server.rooms.get(r as DocName).settled()
    }
    await d.sync()
    await until(() => d.loadedDocuments <= KEPT, `at most ${KEPT} documents loaded (${d.loadedDocuments})`)
    expect(await d.inbox()).toEqual([])
    for (const r of records) {
      const stored = fieldsOf(s.stored(r as DocName))
      expect(String(stored.name)).not.toContain('erin-secret')
      const doc = await d.open(r) // loaded again from the device's store
      expect(readRecord(doc, account).fields).toEqual(stored)
      expect(Buffer.from(Y.encodeStateAsUpdate(doc)).toString('latin1')).not.toContain('erin-secret')
    }
  })
})
