// When a record's log is merged into one entry: a record in use once it has been quiet for a moment, one
// that never is at COMPACT_BUSY_FACTOR times the bound; either way the merged entry holds the same state.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { readRecord, setField } from '../../src/docs/record.ts'
import { COMPACT_BUSY_FACTOR } from '../../src/server/room.ts'
import { Rooms } from '../../src/server/rooms.ts'
import { recordingMember } from '../../tools/room-member.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { account, AT, catalog, copy, edit, roomOverStore } from '../helpers/room.ts'

const cleanups = useCleanups()

const stored = async (storage: Awaited<ReturnType<typeof roomOverStore>>['storage'], name: string): Promise<{ entries: number, doc: Y.Doc }> => {
  const { updates } = await storage.load(name as never)
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u.data)
  return { entries: new Set(updates.map(u => u.seq)).size, doc }
}

describe('log compaction', () => {
  it('merges a log past the bound once the record has had no commit for the quiet delay', async () => {
    const { room, storage } = await roomOverStore(cleanups, 'compaction-quiet', { compactAfter: 5, compactQuietMs: 100 })
    const alice = recordingMember('u-alice')
    room.join(alice)
    const d = copy(room)
    let merges = 0
    room.events.on('compacted', () => { merges++ })
    // one commit each: 8 entries, past the bound of 5 but under the busy bound: nothing merged yet
    for (let i = 0; i < 8; i++) await room.submit(alice, edit(d, x => setField(x, account, 'numberofemployees', i, { by: 'u-alice', at: AT })))
    expect(merges).toBe(0)
    expect((await stored(storage, room.name)).entries).toBeGreaterThan(5)
    await new Promise(resolve => room.events.once('compacted', resolve))
    const after = await stored(storage, room.name)
    expect(after.entries).toBe(1)
    expect(readRecord(after.doc, account)).toEqual(readRecord(room.doc, account))
    expect(readRecord(after.doc, account).fields.numberofemployees).toBe(7)
  })

  it('merges a record that is never quiet in the commit that takes it past the busy bound', async () => {
    const { room, storage } = await roomOverStore(cleanups, 'compaction-busy', { compactAfter: 5, compactQuietMs: 600_000 })
    const alice = recordingMember('u-alice')
    room.join(alice)
    const d = copy(room)
    let merges = 0
    room.events.on('compacted', () => { merges++ })
    const n = 5 * COMPACT_BUSY_FACTOR
    for (let i = 0; i < n - 1; i++) await room.submit(alice, edit(d, x => setField(x, account, 'numberofemployees', i, { by: 'u-alice', at: AT })))
    expect(merges).toBe(0)
    await room.submit(alice, edit(d, x => setField(x, account, 'numberofemployees', 1000, { by: 'u-alice', at: AT })))
    expect(merges).toBe(1)
    const after = await stored(storage, room.name)
    expect(after.entries).toBe(1)
    expect(readRecord(after.doc, account).fields.numberofemployees).toBe(1000)
  })

  it('merges, once quiet, a log a stopped server left past the bound', async () => {
    const { rooms, room, storage, security } = await roomOverStore(cleanups, 'compaction-reload', { compactAfter: 5, compactQuietMs: 600_000 })
    const alice = recordingMember('u-alice')
    room.join(alice)
    const d = copy(room)
    for (let i = 0; i < 8; i++) await room.submit(alice, edit(d, x => setField(x, account, 'numberofemployees', i, { by: 'u-alice', at: AT })))
    room.leave(alice)
    await rooms.close() // stopped before the quiet delay: the log stays as it is
    expect((await stored(storage, room.name)).entries).toBeGreaterThan(5)
    const again = new Rooms({ storage, catalog, security, idleUnloadMs: 60_000, compactAfter: 5, compactQuietMs: 50 })
    cleanups.push(() => again.close())
    const reloaded = again.get(room.name)
    await reloaded.ready
    await new Promise(resolve => reloaded.events.once('compacted', resolve))
    const after = await stored(storage, room.name)
    expect(after.entries).toBe(1)
    expect(readRecord(after.doc, account).fields.numberofemployees).toBe(7)
  })
})
