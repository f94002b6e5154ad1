// A commit reaches the connected devices that hold its record (the server's record -> devices index),
// not the others, and the index follows a device through a disconnect, a reconnect with its cursor, and
// a reconnect that makes the server forget what it holds (sent its scope whole, then live again).

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { setField } from '../../src/docs/record.ts'
import { DeviceMessage, holdingsDigest, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { idsOwnedBy, open, rawDevice, startServer, TIME, type RawDevice } from '../security/support.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const cycle = async (d: RawDevice, request: number, held: string[] = []): Promise<Extract<DeviceFrame, { type: typeof DeviceMessage.done }>> => {
  d.send({ type: DeviceMessage.syncNow, request, count: held.length, digest: holdingsDigest(held), receiptSeq: 0 })
  await until(() => d.frames.some(f => f.type === DeviceMessage.done && f.request === request), `cycle ${request}`)
  return d.frames.find((f): f is Extract<DeviceFrame, { type: typeof DeviceMessage.done }> => f.type === DeviceMessage.done && f.request === request)!
}

const framesOf = (d: RawDevice, record: string, from = 0): DeviceFrame[] => d.frames.slice(from).filter(f => f.type === DeviceMessage.sync && f.record === record)
const recordsSent = (d: RawDevice): string[] => [...new Set(d.frames.flatMap(f => f.type === DeviceMessage.sync ? [f.record] : []))]

/** Avery sets a field of `record` (as a /sync client), and waits for its commit. */
const editAs = async (s: TestServer, record: string, value: string): Promise<void> => {
  const a = await open(cleanups, s, record, 'avery')
  setField(a.doc, account, 'telephone1', value, { by: 'u-avery', at: TIME })
  await until(() => s.projection.row('account', record.split('/')[1])?.telephone1 === value, `${value} committed`)
}

describe('live changes reach the devices that hold the record', () => {
  it('and only those, across a disconnect, a reconnect with the cursor, and a reset', async () => {
    const s = await startServer(cleanups)
    const [x, y] = idsOwnedBy(s, 'account', 'u-alice').map(id => `account/${id}`)
    const [ninas] = idsOwnedBy(s, 'account', 'u-nina').map(id => `account/${id}`)
    const a1 = await rawDevice(cleanups, s, 'alice', 'holders-alice-1')
    await cycle(a1, 1)
    const held = recordsSent(a1)
    expect(held).toContain(x)
    // nina may read alice's accounts (same unit) but her profile's rules do not bring them to her device.
    const n1 = await rawDevice(cleanups, s, 'nina', 'holders-nina-1')
    await cycle(n1, 1)
    expect(recordsSent(n1)).not.toContain(x)

    let from = a1.frames.length
    const nFrom = n1.frames.length
    await editAs(s, x, '+47 live 1')
    await until(() => framesOf(a1, x, from).length > 0, 'the change reached alice\'s device')
    // A later change of nina's own record reaches nina's device; the change of x never did.
    await editAs(s, ninas, '+47 fence')
    await until(() => framesOf(n1, ninas, nFrom).length > 0, 'the fence reached nina\'s device')
    expect(framesOf(n1, x, nFrom)).toEqual([])

    // Alice's device goes, and comes back with its cursor (its last 'done', a live cycle's): what it
    // holds is known again at once.
    const last = a1.frames.map(f => f.type === DeviceMessage.sync && f.record === x).lastIndexOf(true)
    await until(() => a1.frames.slice(last).some(f => f.type === DeviceMessage.done), 'the live cycle done')
    const cursor = a1.frames.filter(f => f.type === DeviceMessage.done).map(f => f.type === DeviceMessage.done ? f.cursor : 0).at(-1)!
    a1.ws.close()
    await new Promise(resolve => a1.ws.once('close', resolve))
    const a2 = await rawDevice(cleanups, s, 'alice', 'holders-alice-1', cursor)
    await editAs(s, x, '+47 live 2')
    await until(() => framesOf(a2, x).length > 0, 'the change reached the reconnected device')

    // Back with a cursor the server never gave it: the server forgets what it holds, sends the scope
    // whole at the next cycle (with the list of it), and live changes follow from then on.
    a2.ws.close()
    await new Promise(resolve => a2.ws.once('close', resolve))
    const a3 = await rawDevice(cleanups, s, 'alice', 'holders-alice-1', cursor + 1_000_000)
    await cycle(a3, 1, held)
    expect(a3.frames.some(f => f.type === DeviceMessage.scope && (JSON.parse(f.json) as string[]).includes(y))).toBe(true)
    expect(recordsSent(a3)).toEqual(expect.arrayContaining(held))
    from = a3.frames.length
    await editAs(s, y, '+47 live 3')
    await until(() => framesOf(a3, y, from).length > 0, 'the change reached the device after its reset')
  })
})
