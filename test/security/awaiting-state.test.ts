// A push the server cannot integrate yet (it lacks what the update depends on) is answered with a sync
// step 1, and its id is remembered, to be acknowledged once the device's state has been decided. A
// device that keeps sending such pushes under new ids and never answers made its session remember every
// id, each push copying the record's whole list: memory and time (quadratic, on the event loop every
// socket shares) grew without bound. A session remembers at most MAX_AWAITING_STATE of them; the others
// go unacknowledged and the device sends them again at its next connection, where they are acknowledged.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { SyncStep } from '../../src/protocol/codes.ts'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import { MAX_AWAITING_STATE } from '../../src/server/device-edits.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, ownedBy, rawDevice, startServer, TIME, type RawDevice } from './support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const acked = (d: RawDevice): number[] => d.frames.flatMap(f => f.type === DeviceMessage.ack ? [f.id] : [])
const asked = (d: RawDevice): number => d.frames.filter(f => f.type === DeviceMessage.sync && f.step === SyncStep.step1).length

describe('pushes waiting for the device\'s state', () => {
  it('are remembered up to MAX_AWAITING_STATE per session; the rest are acknowledged when sent again', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const doc = copyOf(s, name, 0x51a7e)
    setField(doc, account, 'telephone1', '+47 first', { by: 'u-alice', at: TIME })
    const sv = Y.encodeStateVector(doc)
    setField(doc, account, 'telephone1', '+47 second', { by: 'u-alice', at: TIME })
    // The second edit alone: it depends on the first, which the server never got.
    const dependent = Y.encodeStateAsUpdate(doc, sv)

    const d = await rawDevice(cleanups, s, 'alice', 'awaiting-state-1')
    const n = MAX_AWAITING_STATE + 300
    // Sent a part at a time, each answered (a step 1) before the next: within the frames a session queues.
    for (let i = 1; i <= n; i++) {
      d.send({ type: DeviceMessage.push, record: name, id: i, update: dependent })
      if (i % 1000 === 0 || i === n) await until(() => asked(d) >= i, `${i} pushes answered with a step 1`)
    }
    expect(acked(d)).toEqual([])
    // The device answers with its state: what the session remembered is acknowledged, no more.
    d.send({ type: DeviceMessage.sync, record: name, step: SyncStep.step2, payload: Y.encodeStateAsUpdate(doc) })
    d.send({ type: DeviceMessage.syncNow, request: 7, count: 0, digest: 0, receiptSeq: 0 })
    await until(() => d.frames.some(f => f.type === DeviceMessage.done && f.request === 7), 'the cycle after the state')
    await until(() => s.projection.row('account', name.split('/')[1])?.telephone1 === '+47 second', 'the state committed')
    expect(acked(d).length).toBe(MAX_AWAITING_STATE)

    // At its next connection the device sends its unacknowledged pushes again: each is acknowledged.
    d.ws.close()
    const again = await rawDevice(cleanups, s, 'alice', 'awaiting-state-1')
    const rest = [...Array(n).keys()].map(i => i + 1).filter(id => !acked(d).includes(id))
    for (const id of rest) again.send({ type: DeviceMessage.push, record: name, id, update: dependent })
    await until(() => acked(again).length === rest.length, 'the pushes sent again acknowledged')
    expect(asked(again)).toBe(0)
  })
})
