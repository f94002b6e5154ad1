// What a record's pipeline publishes (its typed `events`), command parts submitted like updates, and a
// command part's trial checked by the same step in the same order: over real SQLite storage, no socket.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { readRecord, setField, META } from '../../src/docs/record.ts'
import { Rooms } from '../../src/server/rooms.ts'
import type { CommandGate, PartDecision, RoomEvents } from '../../src/server/room.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { recordingMember } from '../../tools/room-member.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { account, AT, copy, edit, roomOverStore } from '../helpers/room.ts'

const cleanups = useCleanups()
const setup = () => roomOverStore(cleanups, 'room-events')

/** Every event `source` emits, in order, as [name, event]. */
const recordEvents = (source: { on: <N extends keyof RoomEvents>(name: N, f: RoomEvents[N]) => unknown }): Array<[keyof RoomEvents, Parameters<RoomEvents[keyof RoomEvents]>[0]]> => {
  const seen: Array<[keyof RoomEvents, Parameters<RoomEvents[keyof RoomEvents]>[0]]> = []
  source.on('committed', e => seen.push(['committed', e]))
  source.on('evicted', e => seen.push(['evicted', e]))
  source.on('presence', e => seen.push(['presence', e]))
  return seen
}

/** A gate that decides its part with `decision` when the part reaches the pipeline. */
const gate = (decision: PartDecision): CommandGate & { arrived: boolean } => {
  const g = { arrived: false, arrive: async () => { g.arrived = true }, decide: async () => decision, fail: (e: Error) => { throw e } }
  return g
}

describe('the room\'s typed events', () => {
  it('committed carries what was appended, once per commit that changed the record, and nothing for an update sent again', async () => {
    const { rooms, room } = await setup()
    const inRoom = recordEvents(room.events)
    const inRooms = recordEvents(rooms.events)
    const alice = recordingMember('u-alice')
    room.join(alice)
    const before = copy(room)
    const u = edit(copy(room), d => setField(d, account, 'telephone1', '+47 events', { by: 'u-alice', at: AT }))
    expect(await room.submit(alice, u)).toEqual({ kind: 'committed', receipts: [] })
    expect(inRoom.map(([n]) => n)).toEqual(['committed'])
    const [, e] = inRoom[0] as ['committed', { record: string, updates: readonly Uint8Array[], ownerChanged: boolean }]
    expect(e.record).toBe('account/a1')
    expect(e.ownerChanged).toBe(false)
    // the event's update is what the record gained
    for (const u of e.updates) Y.applyUpdate(before, u)
    expect(readRecord(before, account).fields.telephone1).toBe('+47 events')
    // sent again: nothing new, no event
    expect(await room.submit(alice, u)).toEqual({ kind: 'committed', receipts: [] })
    expect(inRoom).toHaveLength(1)
    // the server's wiring sees the same through Rooms
    expect(inRooms).toEqual(inRoom)
  })

  it('a reassignment: the members who lose read access are evicted (event), then committed says the owner changed', async () => {
    const { rooms, room } = await setup()
    const inRooms = recordEvents(rooms.events)
    const alice = recordingMember('u-alice')
    const avery = recordingMember('u-avery')
    room.join(alice)
    room.join(avery)
    // carol's records are in bu-south, which alice (business-unit read in bu-north) may not read
    const u = edit(copy(room), d => d.transact(() => { d.getMap(META).set('ownerid', 'systemuser/u-carol'); d.getMap(META).set('owningbusinessunit', 'bu-south') }))
    expect(await room.submit(avery, u)).toEqual({ kind: 'committed', receipts: [] })
    expect(inRooms.map(([n]) => n)).toEqual(['evicted', 'committed'])
    expect(inRooms[0][1]).toEqual({ record: 'account/a1', member: alice })
    expect(inRooms[1][1]).toMatchObject({ record: 'account/a1', ownerChanged: true })
    // (closing is the member's adapter's to finish: it leaves the room; see the /device eviction tests)
    expect(alice.events.filter(x => x.kind === 'close')).toEqual([{ kind: 'close', code: CloseCode.readRevoked, reason: 'read access revoked' }])
    expect(avery.events.some(x => x.kind === 'close')).toBe(false)
  })

  it('presence: what the record relays to its members', async () => {
    const { room } = await setup()
    const seen = recordEvents(room.events)
    const alice = recordingMember('u-alice')
    room.join(alice)
    const aw = new awarenessProtocol.Awareness(new Y.Doc())
    aw.setLocalState({ cursor: 3 })
    room.presence(alice, awarenessProtocol.encodeAwarenessUpdate(aw, [aw.clientID]))
    expect(seen.map(([n]) => n)).toEqual(['presence'])
    const relayed = (seen[0][1] as { update: Uint8Array }).update
    expect(alice.events.filter(x => x.kind === 'presence').at(-1)).toEqual({ kind: 'presence', update: relayed })
    const other = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(other, relayed, null)
    expect(other.getStates().get(aw.clientID)).toMatchObject({ cursor: 3, user: { id: 'u-alice' } })
  })
})

describe('a command part is a submission', () => {
  it('resolves with the typed outcome once its gate decided it: accepted, rejected (reverted, with a receipt), not decided (dropped)', async () => {
    const { room } = await setup()
    const alice = recordingMember('u-alice', { device: 'alice-device-1' })
    room.join(alice)
    const command = { target: 'lead/l1', statecode: 1, records: ['lead/l1'] }
    const accepted = gate({ kind: 'accept', command })
    const part = edit(copy(room), d => setField(d, account, 'telephone1', '+47 part', { by: 'u-alice', at: AT }))
    expect(await room.submit(alice, { kind: 'command-part', update: part, gate: accepted })).toEqual({ kind: 'committed', receipts: [] })
    expect(accepted.arrived).toBe(true)
    expect(readRecord(room.doc, account).fields.telephone1).toBe('+47 part')

    const rejected = room.submit(alice, {
      kind: 'command-part',
      update: edit(copy(room), d => setField(d, account, 'telephone1', '+47 rejected', { by: 'u-alice', at: AT })),
      gate: gate({ kind: 'reject', command: 'qualify', reason: Reason.commandRejected, message: 'qualify of lead/l1 rejected as a whole' })
    })
    const r = await rejected
    expect(r.kind === 'committed' && r.receipts.map(x => [x.principal, x.change, x.reason, x.device])).toEqual([['u-alice', 'command', Reason.commandRejected, 'alice-device-1']])
    expect(readRecord(room.doc, account).fields.telephone1).toBe('+47 part')

    const notDecided = gate({ kind: 'abort' })
    expect(await room.submit(alice, { kind: 'command-part', update: edit(copy(room), d => setField(d, account, 'telephone1', '+47 aborted', { by: 'u-alice', at: AT })), gate: notDecided })).toEqual({ kind: 'dropped' })
    expect(notDecided.arrived).toBe(true)
    expect(readRecord(room.doc, account).fields.telephone1).toBe('+47 part')
  })

  it('waits for its gate behind what was queued before it, and what is queued after it waits for the part', async () => {
    const { room } = await setup()
    const alice = recordingMember('u-alice')
    room.join(alice)
    const order: string[] = []
    const d = copy(room)
    const first = room.submit(alice, edit(d, x => setField(x, account, 'telephone1', '+47 first', { by: 'u-alice', at: AT }))).then(() => order.push('first'))
    const part = room.submit(alice, {
      kind: 'command-part',
      update: edit(d, x => setField(x, account, 'telephone1', '+47 part', { by: 'u-alice', at: AT })),
      gate: { arrive: async () => { order.push('arrive') }, decide: async () => { order.push('decide'); return { kind: 'accept', command: { target: 'lead/l1', statecode: 1, records: ['lead/l1'] } } }, fail: e => { throw e } }
    }).then(() => order.push('part'))
    const after = room.submit(alice, edit(d, x => setField(x, account, 'telephone1', '+47 after', { by: 'u-alice', at: AT }))).then(() => order.push('after'))
    await Promise.all([first, part, after])
    expect(order).toEqual(['first', 'arrive', 'decide', 'part', 'after'])
    expect(readRecord(room.doc, account).fields.telephone1).toBe('+47 after')
  })
})

describe('a command part\'s trial', () => {
  it('checks in the order submit does: a client id of another writer is refused as such even when the part is also outside the layout', async () => {
    const { room } = await setup()
    const alice = recordingMember('u-alice')
    const bob = recordingMember('u-bob')
    room.join(alice)
    room.join(bob)
    const d = copy(room)
    await room.submit(alice, edit(d, x => setField(x, account, 'telephone1', '+47 alice', { by: 'u-alice', at: AT })))
    // bob sends under alice's client id, and writes a root the record layout does not have
    const part = edit(d, x => x.getMap('not-a-record-part').set('x', 1))
    const t = room.trial(bob, part, { target: 'lead/l1', statecode: 1, records: ['lead/l1'] })
    expect(t).toMatchObject({ ok: false, reason: Reason.foreignClientId, missing: false })
    // what submit does with the same update: refused for the client id (a receipt saying so)
    const s = await room.submit(bob, part)
    expect(s.kind === 'committed' && s.receipts.map(x => x.reason)).toEqual([Reason.foreignClientId])
    // outside the layout alone: invalid value, naming the path
    const own = new Y.Doc()
    Y.applyUpdate(own, Y.encodeStateAsUpdate(room.doc))
    const outside = edit(own, x => x.getMap('not-a-record-part').set('x', 1))
    expect(room.trial(bob, outside, { target: 'lead/l1', statecode: 1, records: ['lead/l1'] })).toMatchObject({ ok: false, reason: Reason.invalidValue, missing: false, message: expect.stringContaining('not-a-record-part') })
  })
})
