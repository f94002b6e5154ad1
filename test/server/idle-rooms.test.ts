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

  it('take at most maxIdleBytes, estimated from their history: a record edited many times counts for more', async () => {
    const { rooms, room } = await roomOverStore(cleanups, 'idle-bytes', { maxIdleBytes: 160 * 1024 })
    const alice = recordingMember('u-alice')
    room.join(alice)
    for (let i = 0; i < 5; i++) await use(rooms, i)
    // five fresh records fit
    expect([0, 1, 2, 3, 4].map(i => rooms.has(name(i)))).toEqual([true, true, true, true, true])
    const fresh = rooms.find(name(4))!.weight()
    // record 5 gets a long history: each save leaves its overwritten entries behind in the document
    const busy = await rooms.open(name(5))
    await busy.write(doc => createRecord(doc, account, { id: asRecordId('idle5'), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: 'idle 5' } }, { by: 'u-avery', at: AT }))
    for (let k = 0; k < 150; k++) await busy.write(doc => setField(doc, account, 'telephone1', `+47 ${k}`, { by: 'u-avery', at: AT }))
    expect(busy.weight()).toBeGreaterThan(fresh * 3)
    rooms.released(name(5))
    // it stays (the one idle last), and those idle longest went to make room for it
    expect(rooms.has(name(5))).toBe(true)
    const kept = [0, 1, 2, 3, 4].filter(i => rooms.has(name(i)))
    expect(kept.length).toBeLessThan(5)
    expect(kept).toEqual([0, 1, 2, 3, 4].slice(5 - kept.length))
    // the record in use is never unloaded for it
    expect(rooms.has(room.name)).toBe(true)
    const outcome = await room.submit(alice, edit(copy(room), d => setField(d, account, 'telephone1', '+47 2', { by: 'u-alice', at: AT })))
    expect(outcome).toEqual({ kind: 'committed', receipts: [] })
  })
})
