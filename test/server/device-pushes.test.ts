// A device's pushes are taken by their records' pipelines as they arrive, without waiting for each
// other's commits (device-session.ts, inFlight); what the device sends after them that depends on them
// still comes after them: a cycle it asks for answers 'done' only once every push sent before it is
// acknowledged, and each push is acknowledged once, after its commit.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { DeviceMessage, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import type { DocName } from '../../src/ids.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, idsOwnedBy, rawDevice, startServer, TIME } from '../security/support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const doneAt = (frames: readonly DeviceFrame[], request: number): number => frames.findIndex(f => f.type === DeviceMessage.done && f.request === request)

describe('a device\'s pushes', () => {
  it('sent in a burst are each acknowledged after its commit, all before the done of a cycle asked after them', async () => {
    const s = await startServer(cleanups)
    const names = idsOwnedBy(s, 'account', 'u-alice').slice(0, 8).map(id => `account/${id}` as DocName)
    expect(names.length).toBe(8)
    const d = await rawDevice(cleanups, s, 'alice', 'pushes-burst-1')
    // Three edits of each record, each its own push (the second and third depend on the one before).
    let id = 0
    const last = new Map<string, string>()
    for (const [k, name] of names.entries()) {
      const doc = copyOf(s, name, 0x5000 + k)
      for (let e = 1; e <= 3; e++) {
        const sv = Y.encodeStateVector(doc)
        const value = `+47 burst ${k}.${e}`
        setField(doc, account, 'telephone1', value, { by: 'u-alice', at: TIME })
        d.send({ type: DeviceMessage.push, record: name, id: ++id, update: Y.encodeStateAsUpdate(doc, sv) })
        last.set(name, value)
      }
    }
    d.send({ type: DeviceMessage.syncNow, request: 1, count: 0, digest: 0, receiptSeq: 0 })
    await until(() => doneAt(d.frames, 1) >= 0, 'the cycle asked after the pushes')
    const acks = d.frames.flatMap((f, i) => f.type === DeviceMessage.ack ? [{ id: f.id, at: i }] : [])
    expect(acks.map(a => a.id).sort((a, b) => a - b)).toEqual([...Array(id).keys()].map(i => i + 1))
    expect(Math.max(...acks.map(a => a.at))).toBeLessThan(doneAt(d.frames, 1))
    // Acknowledged means committed: every record holds its last edit.
    for (const [name, value] of last) expect(s.projection.row('account', name.split('/')[1])?.telephone1).toBe(value)
  })
})
