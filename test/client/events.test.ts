// The device SDK's events are typed (lib0's ObservableV2 over DeviceEvents): a listener gets its event's
// arguments, and a listener of the wrong shape or an unknown event name does not compile.

import { describe, expect, it } from 'vitest'
import { ObservableV2 } from 'lib0/observable'
import type { FieldsyncDevice, DeviceStatus } from '../../src/client/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { deviceFor, serverFor } from '../helpers/device.ts'

const cleanups = useCleanups()

// Checked by tsc (`npm test` type-checks test/ first): each line is an error only with typed events.
export const typedListeners = (d: FieldsyncDevice): void => {
  // @ts-expect-error a status listener gets a DeviceStatus, not a number
  d.on('status', (n: number) => n)
  // @ts-expect-error there is no event 'stauts'
  d.on('stauts', () => {})
  // @ts-expect-error an event is emitted with its listener's arguments
  d.emit('unsynced', ['three'])
}

describe('device events', () => {
  it('reach typed listeners with their arguments', async () => {
    const s = await serverFor(cleanups)
    const d = await deviceFor(cleanups, s, 'alice')
    expect(d).toBeInstanceOf(ObservableV2)
    const statuses: DeviceStatus[] = []
    const progress: number[] = []
    d.on('status', s => { statuses.push(s) })
    d.on('progress', p => { progress.push(p.total - p.done) })
    await d.sync()
    expect(statuses).toEqual(['syncing', 'synced'])
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.at(-1)).toBe(0)
  })
})
