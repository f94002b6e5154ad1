// The record pipeline through its typed API, over real SQLite storage and no socket: what `submit`
// resolves with, what members are told, and that a state request is answered only with what is committed.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { deleteRecord, readRecord, setField } from '../../src/docs/record.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { recordingMember } from '../../tools/room-member.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { account, AT, copy, edit, roomOverStore } from '../helpers/room.ts'

const cleanups = useCleanups()
const setup = () => roomOverStore(cleanups, 'room-api')

describe('the room\'s typed API', () => {
  it('submit resolves once committed: kept, or refused with the receipts the member was sent', async () => {
    const { room, storage } = await setup()
    const alice = recordingMember('u-alice', { device: 'alice-device-1' })
    const erin = recordingMember('u-erin')
    room.join(alice)
    room.join(erin)
    const before = copy(room)
    const kept = room.submit(alice, edit(copy(room), d => setField(d, account, 'telephone1', '+47 alice', { by: 'u-alice', at: AT })))
    const refused = room.submit(erin, edit(copy(room), d => setField(d, account, 'name', 'erin was here', { by: 'u-erin', at: AT })))
    expect(await kept).toEqual({ kind: 'committed', receipts: [] })
    const r = await refused
    expect(r.kind).toBe('committed')
    expect(r.kind === 'committed' && r.receipts.map(x => [x.principal, x.reason, typeof x.seq])).toEqual([['u-erin', Reason.noWritePrivilege, 'number']])
    // committed before the outcome: storage holds alice's value and erin's receipt
    const stored = new Y.Doc()
    for (const u of (await storage.load(room.name)).updates) Y.applyUpdate(stored, u.data)
    expect(readRecord(stored, account).fields).toMatchObject({ telephone1: '+47 alice', name: 'Contoso' })
    expect(storage.receipts('u-erin', 0, 10)).toHaveLength(1)
    // members were told in order: the batch (alice's update and erin's compensated one) as one update to
    // both, then erin's receipt to erin alone
    expect(erin.events.map(e => e.kind === 'update' ? `update ${e.why}` : e.kind)).toEqual(['update published', 'receipts'])
    expect(alice.events.map(e => e.kind === 'update' ? `update ${e.why}` : e.kind)).toEqual(['update published'])
    for (const m of [alice, erin]) {
      const seen = new Y.Doc()
      Y.applyUpdate(seen, Y.encodeStateAsUpdate(before))
      for (const e of m.events) if (e.kind === 'update') { Y.applyUpdate(seen, e.update); expect(Buffer.from(e.update).includes('erin was here')).toBe(false) }
      expect(readRecord(seen, account).fields).toMatchObject({ telephone1: '+47 alice', name: 'Contoso' })
      expect(Y.encodeStateVector(seen)).toEqual(Y.encodeStateVector(room.doc))
    }
  })

  it('an update the record lacks the base of: needs-state, and the member is asked with the record\'s state vector', async () => {
    const { room } = await setup()
    const alice = recordingMember('u-alice')
    room.join(alice)
    const d = copy(room)
    edit(d, x => setField(x, account, 'telephone1', '+47 1', { by: 'u-alice', at: AT })) // never sent
    const second = edit(d, x => setField(x, account, 'telephone1', '+47 2', { by: 'u-alice', at: AT }))
    expect(await room.submit(alice, second)).toEqual({ kind: 'needs-state' })
    expect(alice.events).toEqual([{ kind: 'need-state', stateVector: Y.encodeStateVector(room.doc) }])
    // the member answers with its state: both land
    expect(await room.submit(alice, Y.encodeStateAsUpdate(d, Y.encodeStateVector(room.doc)))).toEqual({ kind: 'committed', receipts: [] })
    expect(readRecord(room.doc, account).fields.telephone1).toBe('+47 2')
  })

  it('a malformed update closes its member (dropped); one from a member that left is not decided', async () => {
    const { room } = await setup()
    const bad = recordingMember('u-alice')
    const gone = recordingMember('u-alice')
    room.join(bad)
    expect(await room.submit(bad, new Uint8Array([1, 2, 3]))).toEqual({ kind: 'dropped' })
    expect(bad.events.at(-1)).toMatchObject({ kind: 'close', code: 4400 })
    const p = room.submit(gone, edit(copy(room), d => setField(d, account, 'telephone1', '+47 gone', { by: 'u-alice', at: AT })))
    expect(await p).toEqual({ kind: 'dropped' })
    expect(readRecord(room.doc, account).fields.telephone1).toBeUndefined()
  })

  it('a state request is answered with a reply once what was queued before it is committed', async () => {
    const { room } = await setup()
    const alice = recordingMember('u-alice')
    const reader = recordingMember('u-bob')
    room.join(alice)
    room.join(reader)
    const empty = Y.encodeStateVector(new Y.Doc())
    void room.submit(alice, edit(copy(room), d => setField(d, account, 'telephone1', '+47 queued', { by: 'u-alice', at: AT })))
    room.requestState(reader, empty)
    expect(() => room.requestState(reader, new Uint8Array([200]))).toThrow(/state vector/)
    await room.settled()
    const reply = reader.events.find(e => e.kind === 'update' && e.why === 'reply')
    expect(reply).toBeDefined()
    const d = new Y.Doc()
    Y.applyUpdate(d, (reply as { update: Uint8Array }).update)
    expect(readRecord(d, account).fields.telephone1).toBe('+47 queued')
    // the published update came first
    expect(reader.events.map(e => e.kind === 'update' ? e.why : e.kind)).toEqual(['published', 'reply'])
  })
})

describe('what the record keeps of an update', () => {
  // Two saves of one record at once: both write modifiedby/modifiedon from the same base, and Yjs keeps
  // the stamp of the higher client id. The lower one's stamp is deleted as it is integrated, on every replica.
  const concurrentSaves = async (aliceActor: string): Promise<{ submitted: Uint8Array, published: Uint8Array, room: Awaited<ReturnType<typeof roomOverStore>>['room'] }> => {
    const { room } = await roomOverStore(cleanups, 'room-kept')
    const alice = recordingMember('u-alice')
    const avery = recordingMember('u-avery')
    const observer = recordingMember('u-avery')
    for (const m of [alice, avery, observer]) room.join(m)
    const a = copy(room); a.clientID = 5_000_000
    const v = copy(room); v.clientID = 6_000_000
    const fromAvery = edit(v, d => setField(d, account, 'name', 'Contoso Ltd', { by: 'u-avery', at: AT }))
    const submitted = edit(a, d => setField(d, account, 'telephone1', '+47 5', { by: aliceActor, at: AT }))
    await room.submit(avery, fromAvery)
    expect(await room.submit(alice, submitted)).toEqual({ kind: 'committed', receipts: [] })
    const published = observer.events.flatMap(e => e.kind === 'update' ? [e.update] : [])
    expect(published).toHaveLength(2)
    return { submitted, published: published[1], room }
  }

  it('an update whose only loss is its author\'s save stamp losing a tie is kept as it came', async () => {
    const { submitted, published, room } = await concurrentSaves('u-alice')
    expect(readRecord(room.doc, account).fields).toMatchObject({ name: 'Contoso Ltd', telephone1: '+47 5' })
    expect(readRecord(room.doc, account).meta.modifiedby).toBe('u-avery')
    expect(Buffer.from(published).equals(Buffer.from(submitted))).toBe(true)
  })

  it('a losing stamp the author may not write is not kept in the bytes', async () => {
    const { submitted, published, room } = await concurrentSaves('u-bob')
    expect(readRecord(room.doc, account).fields.telephone1).toBe('+47 5')
    expect(Buffer.from(published).equals(Buffer.from(submitted))).toBe(false)
    expect(Buffer.from(published).includes('u-bob')).toBe(false)
    expect(Buffer.from(submitted).includes('u-bob')).toBe(true)
  })

  it('a save of a field its writer wrote last is kept as it came: the server writes nothing and echoes nothing', async () => {
    const { room } = await roomOverStore(cleanups, 'room-kept-own')
    const alice = recordingMember('u-alice')
    const observer = recordingMember('u-avery')
    for (const m of [alice, observer]) room.join(m)
    const a = copy(room)
    const updates = [1, 2, 3].map(i => edit(a, d => setField(d, account, 'telephone1', `+47 ${i}`, { by: 'u-alice', at: AT })))
    for (const u of updates) expect(await room.submit(alice, u)).toEqual({ kind: 'committed', receipts: [] })
    const published = observer.events.flatMap(e => e.kind === 'update' ? [Buffer.from(e.update)] : [])
    expect(published.map((p, i) => p.equals(Buffer.from(updates[i])))).toEqual([true, true, true])
    expect(alice.events).toEqual([])
    expect(readRecord(room.doc, account).fields.telephone1).toBe('+47 3')
  })

  it('a delete that had not seen its own user\'s edit from another device tells that user', async () => {
    const { room } = await roomOverStore(cleanups, 'room-own-delete')
    const phone = recordingMember('u-alice', { device: 'alice-phone' })
    const laptop = recordingMember('u-alice', { device: 'alice-laptop' })
    for (const m of [phone, laptop]) room.join(m)
    const p = copy(room)
    const l = copy(room)
    const edited = edit(p, d => setField(d, account, 'telephone1', '+47 phone', { by: 'u-alice', at: AT }))
    const deleted = edit(l, d => deleteRecord(d, account, { by: 'u-alice', at: AT }))
    expect(await room.submit(phone, edited)).toEqual({ kind: 'committed', receipts: [] })
    const outcome = await room.submit(laptop, deleted)
    expect(outcome.kind).toBe('committed')
    const entries = outcome.kind === 'committed' ? outcome.receipts : []
    expect(entries.map(r => [r.principal, r.reason, r.change])).toEqual([['u-alice', 'superseded', 'deleted']])
    expect(entries[0].attempted).toEqual({ telephone1: '+47 phone' })
    expect(entries[0].message).toMatch(/your changes on another device to telephone1/)
  })
})
