// Loaded records no one uses are kept for IDLE_UNLOAD_MS, at most IDLE_ROOMS_MAX of them: past it the record
// idle longest is unloaded at once, and a record someone uses (a member joined, an open not released, a batch
// under way) never is.

import { describe, expect, it } from 'vitest'
import type { DocName } from '../../src/ids.ts'
import { createRecord, setField } from '../../src/docs/record.ts'
import { asRecordId } from '../../src/ids.ts'
import type { Rooms } from '../../src/server/rooms.ts'
import { recordingMember } from '../../tools/room-member.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { account, AT, copy, edit, roomOverStore } from '../helpers/room.ts'

const cleanups = useCleanups()
const name = (i: number): DocName => `account/idle${i}` as DocName

/** Loads record i (creating it the first time), then gives it back: it is idle from now. */
const use = async (rooms: Rooms, i: number): Promise<void> => {
  const room = await rooms.open(name(i))
  if (room.ownership() === undefined) {
    await room.write(doc => createRecord(doc, account, { id: asRecordId(`idle${i}`), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: `idle ${i}` } }, { by: 'u-avery', at: AT }))
  }
  rooms.released(name(i))
}

describe('idle records kept loaded', () => {
  it('are at most maxIdleRooms: the one idle longest goes first, one in use stays', async () => {
    const { rooms, room } = await roomOverStore(cleanups, 'idle-rooms', { maxIdleRooms: 3 })
    // account/a1 stays in use throughout: a member joined.
    const alice = recordingMember('u-alice')
    room.join(alice)
    // One opened and not released yet (a push being decided, say).
    const held = await rooms.open(name(99))
    for (let i = 0; i < 6; i++) await use(rooms, i)
    // The three released last are kept; the first three were unloaded as the later ones became idle.
    expect([0, 1, 2, 3, 4, 5].map(i => rooms.has(name(i)))).toEqual([false, false, false, true, true, true])
    expect(rooms.has(held.name)).toBe(true)
    expect(rooms.has(room.name)).toBe(true)
    // A record used again moves to the back: 3 is used and released, then two more become idle.
    await use(rooms, 3)
    for (const i of [6, 7]) await use(rooms, i)
    expect([3, 4, 5, 6, 7].map(i => rooms.has(name(i)))).toEqual([true, false, false, true, true])
    // The room in use still works.
    const outcome = await room.submit(alice, edit(copy(room), d => setField(d, account, 'telephone1', '+47 1', { by: 'u-alice', at: AT })))
    expect(outcome).toEqual({ kind: 'committed', receipts: [] })
    rooms.released(held.name)
  })
})
