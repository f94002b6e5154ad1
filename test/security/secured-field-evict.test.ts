// A record's secured fields live in documents of their own (`<record>/<attribute>`), which a device holds
// beside the record. Loss of read access to the record is loss of read access to them: a reassignment
// must evict them at once too (a share removed and a role change already do), and a cycle that read one
// ahead must not send it after the record left the user's reach. Before the fix, a reassignment evicted
// only the record: the device kept the field's value (and a cycle under way sent it) until a later full cycle.

import { describe, expect, it } from 'vitest'
import { DeviceMessage, holdingsDigest, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { api, open, ownedBy, rawDevice, startServer, TIME, type RawDevice } from './support.ts'

const cleanups = useCleanups()
const account = buildCatalog().entities.get('account')!

const recordFrames = (d: RawDevice, name: string, from = 0): DeviceFrame[] =>
  d.frames.slice(from).filter(f => f.type === DeviceMessage.sync && f.record === name)

const assign = async (s: TestServer, record: string, ownerid: string): Promise<void> => {
  const res = await api(s, 'avery', `/api/records/${record}/assign`, { method: 'POST', body: JSON.stringify({ ownerid }) })
  expect(res.status).toBe(200)
}

const cycle = async (d: RawDevice, request: number): Promise<void> => {
  d.send({ type: DeviceMessage.syncNow, request, count: 0, digest: holdingsDigest([]), receiptSeq: 0 })
  await until(() => d.frames.some(f => f.type === DeviceMessage.done && f.request === request), `cycle ${request}`)
}

describe('a secured field\'s document leaves the device with its record', () => {
  it('on a reassignment: the field document is evicted at once, with the record', async () => {
    const s = await startServer(cleanups)
    // bob (Finance field profile) holds the revenue documents of the accounts he reads.
    const d = await rawDevice(cleanups, s, 'bob', 'device-field-evict-1')
    await cycle(d, 1)
    const field = d.frames.find((f): f is Extract<DeviceFrame, { type: 2 }> => f.type === DeviceMessage.sync && f.record.endsWith('/revenue'))?.record
    expect(field, 'bob holds a revenue document').toBeDefined()
    const record = field!.slice(0, -'/revenue'.length)
    // dan is in bu-service, out of bob's reach.
    await assign(s, record, 'systemuser/u-dan')
    await until(() => d.frames.some(f => f.type === DeviceMessage.evict && f.record === record), 'the record evicted')
    // A fence: a later edit of another record bob holds reaches the device after whatever the
    // reassignment sent it (no full cycle runs meanwhile, which would evict the field as out of scope).
    const other = ownedBy(s, 'account', 'u-bob')
    expect(other).not.toBe(record)
    const seen = d.frames.length
    const a = await open(cleanups, s, other, 'avery')
    setField(a.doc, account, 'telephone1', '+47 fence', { by: 'u-avery', at: TIME })
    await until(() => recordFrames(d, other, seen).length > 0, 'the fence edit reached the device')
    expect(d.frames.filter(f => f.type === DeviceMessage.evict && f.record === field)).toEqual([{ type: DeviceMessage.evict, record: field, reason: 'no-read-access' }])
  })

  it('on a reassignment while a cycle has read the field document ahead but not sent it: nothing of it goes out', async () => {
    const s = await startServer(cleanups)
    const feed = s.feed
    const read = feed.statesSince.bind(feed)
    let target: string | undefined
    feed.statesSince = async (docs, cursor, upTo) => {
      const states = await read(docs, cursor, upTo)
      const candidate = target === undefined ? docs.slice(1).find(n => n.endsWith('/revenue')) : undefined
      if (candidate !== undefined) {
        target = candidate
        await assign(s, candidate.slice(0, -'/revenue'.length), 'systemuser/u-dan')
      }
      return states
    }
    const d = await rawDevice(cleanups, s, 'bob', 'device-field-evict-2')
    await cycle(d, 1)
    expect(target, 'a window held a revenue document after its first record').toBeDefined()
    expect(recordFrames(d, target!)).toEqual([])
  })
})
