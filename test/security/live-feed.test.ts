// Live changes and a returning device's catch-up are read from the changes feed, on SQLite from the log's
// newest entries kept in memory (storage/feed-tail.ts). A read-only user pushing refused writes to a
// record while a writer edits it must not get a byte of its values to the record's holders, live or on a
// stale device's return, and both end up holding what the server stores.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import type { DocName } from '../../src/ids.ts'
import { DeviceMessage, holdingsDigest, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import { SyncStep } from '../../src/protocol/codes.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, open, ownedBy, rawDevice, startServer, TIME, type RawDevice } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const cycle = async (d: RawDevice, request: number, held: string[] = []): Promise<number> => {
  d.send({ type: DeviceMessage.syncNow, request, count: held.length, digest: holdingsDigest(held), receiptSeq: 0 })
  await until(() => d.frames.some(f => f.type === DeviceMessage.done && f.request === request), `cycle ${request}`)
  const done = d.frames.find((f): f is Extract<DeviceFrame, { type: typeof DeviceMessage.done }> => f.type === DeviceMessage.done && f.request === request)!
  return done.cursor
}

/** The record's update payloads a device was sent (whole, then what changed). */
const payloads = (d: RawDevice, record: string): Uint8Array[] =>
  d.frames.flatMap(f => f.type === DeviceMessage.sync && f.record === record && f.step === SyncStep.update ? [f.payload] : [])

const fieldsOf = (updates: readonly Uint8Array[]): Record<string, unknown> => {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return readRecord(doc, account).fields
}

describe('the changes feed under a read-only user\'s refused writes', () => {
  it('brings a live holder and a returning stale device what storage holds, and none of the refused values', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const live = await rawDevice(cleanups, s, 'alice', 'feed-alice-live')
    await cycle(live, 1)
    const stale = await rawDevice(cleanups, s, 'alice', 'feed-alice-stale')
    const staleCursor = await cycle(stale, 1)
    const staleHeld = [...new Set(stale.frames.flatMap(f => f.type === DeviceMessage.sync ? [f.record] : []))]
    expect(staleHeld).toContain(name)
    stale.ws.close()
    await new Promise(resolve => stale.ws.once('close', resolve))

    // erin may read alice's accounts, not write them: her device pushes refused writes while avery edits.
    const erin = await rawDevice(cleanups, s, 'erin', 'feed-erin')
    const erinDoc = copyOf(s, name, 0x6e00011)
    const avery = await open(cleanups, s, name, 'avery')
    for (let i = 0; i < 20; i++) {
      const sv = Y.encodeStateVector(erinDoc)
      setField(erinDoc, account, 'name', `erin-secret-${i}`, { by: 'u-erin', at: TIME })
      erin.send({ type: DeviceMessage.push, record: name, id: i + 1, update: Y.encodeStateAsUpdate(erinDoc, sv) })
      setField(avery.doc, account, 'telephone1', `+47 avery ${i}`, { by: 'u-avery', at: new Date().toISOString() })
    }
    await until(() => s.projection.row('account', name.split('/')[1])?.telephone1 === '+47 avery 19', 'avery\'s last edit committed')
    await s.server.rooms.get(name as DocName).settled()
    const stored = fieldsOf(s.stored(name as DocName))
    expect(stored.telephone1).toBe('+47 avery 19')
    expect(String(stored.name)).not.toContain('erin-secret')

    // The live holder: its copy reaches what storage holds, and no frame it got carries erin's values.
    await until(() => fieldsOf(payloads(live, name)).telephone1 === '+47 avery 19', 'the live holder caught up')
    expect(fieldsOf(payloads(live, name))).toEqual(stored)
    // The stale device returns with its cursor: it is sent what changed since, from the feed.
    const back = await rawDevice(cleanups, s, 'alice', 'feed-alice-stale', staleCursor)
    await cycle(back, 2, staleHeld)
    expect(fieldsOf([...payloads(stale, name), ...payloads(back, name)])).toEqual(stored)
    for (const d of [live, stale, back]) {
      for (const p of payloads(d, name)) expect(Buffer.from(p).toString('latin1')).not.toContain('erin-secret')
    }
  })
})
