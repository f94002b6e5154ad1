// Attacks through items that are in an update's bytes but that Yjs does not integrate on the server, so that
// neither the layout nor the decision judged what they would do elsewhere: items Yjs collects as it integrates
// them (their parent, or a neighbour, is already collected: a removed note's entries, a struct sent as
// collected), and sections of a client's structs that Yjs skips (a later section of the same client replaces
// an earlier one). Kept as the bytes they came in, they reach the log and every replica, and a replica that
// still has what they point at (one that keeps deleted content, or a device given the log since its cursor
// merged into one update, whose deletions come after its structs) places them.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, META, NOTES, readRecord, removeNote, setField, stampRecord } from '../../src/docs/record.ts'
import { until } from '../helpers/server.ts'
import { deviceFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, exactly, ownedBy, raw, startServer } from './support.ts'
import { heldValues, iso, keepingReplica, nowhere, send, spells, storedRows } from './concurrent-saves.ts'

const cleanups = useCleanups()
const ACCOUNT = buildCatalog().entities.get('account')!

/** An update of one section per entry (each a client's structs from `clock` on), written as an attacker would (no delete set). */
const sectionsUpdate = (sections: readonly { readonly client: number, readonly clock: number, readonly structs: readonly (Y.Item | Y.GC)[] }[]): Uint8Array => {
  const e = new Y.UpdateEncoderV1()
  encoding.writeVarUint(e.restEncoder, sections.length)
  for (const { client, clock, structs } of sections) {
    encoding.writeVarUint(e.restEncoder, structs.length)
    e.writeClient(client)
    encoding.writeVarUint(e.restEncoder, clock)
    for (const s of structs) s.write(e, 0)
  }
  encoding.writeVarUint(e.restEncoder, 0)
  return e.toUint8Array()
}

const structsUpdate = (client: number, clock: number, structs: readonly (Y.Item | Y.GC)[]): Uint8Array => sectionsUpdate([{ client, clock, structs }])

const id = Y.createID
type Content = ConstructorParameters<typeof Y.Item>[7]
/** An item at `at` placed by its neighbours (Yjs then takes its parent and key from them). */
const beside = (at: Y.ID, origin: Y.ID | null, rightOrigin: Y.ID | null, content: Content): Y.Item =>
  new Y.Item(at, null, origin, null, rightOrigin, null, null, content)

describe('items Yjs collects as it integrates them', () => {
  it('a read-only user\'s, beside a removed note\'s entries, reach no replica: not one that keeps deleted content, not a device catching up', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const forged = 'u-mallory'
    const replica = await keepingReplica(cleanups, s, name, 'avery')
    // alice adds a note; her device takes the record with it, and goes offline.
    const alice = await raw(cleanups, s, name, 'alice')
    const mine = copyOf(s, name, 0x5100001)
    await send(s, name, alice, edit(mine, d => addNote(d, ACCOUNT, 'n1', { subject: 'visit', text: 'call back' }, { by: 'u-alice', at: iso(Date.now()) })))
    const note = mine.getMap<Y.Map<string>>(NOTES).get('n1')!
    const entry = note._map.get('text')!.id
    const device = await deviceFor(cleanups, s, 'alice')
    await device.sync()
    expect(readRecord(await device.open(name), ACCOUNT).notes.n1).toBeDefined()
    device.disconnect()
    await until(() => replica.getMap(NOTES).has('n1'), 'the replica has the note', [replica])
    // alice removes it: the server collects its entries.
    await send(s, name, alice, edit(mine, d => removeNote(d, ACCOUNT, 'n1', { by: 'u-alice', at: iso(Date.now()) })))
    await until(() => !replica.getMap(NOTES).has('n1'), 'the replica lost the note', [replica])
    // erin (read only) puts a modifiedby of her choosing right after the record's, and before the note's entry
    // (where the server collects it); and content of any kind after the entry.
    const erin = await raw(cleanups, s, name, 'erin')
    const stamp = s.server.rooms.get(name).doc.getMap(META)._map.get('modifiedby')!
    const client = 0x7100001
    await send(s, name, erin, structsUpdate(client, 0, [
      beside(id(client, 0), stamp.lastId, entry, new Y.ContentAny([forged])),
      beside(id(client, 1), entry, null, new Y.ContentString(forged)),
      new Y.Item(id(client, 1 + forged.length), null, null, null, null, note._item!.id, 'modifiedby', new Y.ContentAny([forged]))
    ]))
    const server = readRecord(s.server.rooms.get(name).doc, ACCOUNT).meta
    expect(server.modifiedby).toBe('u-alice')
    await device.sync()
    const onDevice = await device.open(name)
    expect(readRecord(onDevice, ACCOUNT).meta.modifiedby, 'the device catching up').toBe('u-alice')
    expect(readRecord(replica, ACCOUNT).meta.modifiedby, 'the replica that keeps deleted content').toBe('u-alice')
    nowhere(forged, await storedRows(s, name), [replica, onDevice], 'erin\'s items')
  })

  it('a writer\'s content outside the layout, next to a struct it sent as collected, is in no byte kept or sent', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const marker = 'bob-outside-the-layout'
    const watcher = await raw(cleanups, s, name, 'avery')
    const bob = await raw(cleanups, s, name, 'bob')
    const client = 0x6100001
    const contents: Content[] = [
      new Y.ContentString(marker), new Y.ContentEmbed({ marker }), new Y.ContentFormat(marker, true),
      new Y.ContentBinary(new TextEncoder().encode(marker)), new Y.ContentAny([marker, marker])
    ]
    const structs: (Y.Item | Y.GC)[] = [new Y.GC(id(client, 0), 1)]
    let clock = 1
    for (const c of contents) { structs.push(beside(id(client, clock), id(client, clock - 1), null, c)); clock += c.getLength() }
    const from = watcher.messages.length
    await send(s, name, bob, structsUpdate(client, 0, structs))
    expect(spells(await storedRows(s, name), marker), 'the stored log').toBe(false)
    expect(spells(watcher.messages.slice(from), marker), 'what a reader was sent').toBe(false)
    const fresh = await keepingReplica(cleanups, s, name, 'avery')
    expect(heldValues(fresh).some(v => JSON.stringify(v ?? null).includes(marker))).toBe(false)
  })
})

describe('a client\'s structs in more than one section', () => {
  it('are refused whole (malformed): nothing of them is kept, and a device catching up gets none of the skipped section', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const forged = 'u-mallory'
    const device = await deviceFor(cleanups, s, 'alice')
    await device.sync()
    device.disconnect()
    // Something for the device to catch up with besides: the log since its cursor is then merged.
    const alice = await raw(cleanups, s, name, 'alice')
    await send(s, name, alice, edit(copyOf(s, name, 0x5100002), d => setField(d, ACCOUNT, 'telephone1', '+47 alice', { by: 'u-alice', at: iso(Date.now()) })))
    const record = exactly(s.server.rooms.get(name).doc)
    const rows = await storedRows(s, name)
    const stamp = s.server.rooms.get(name).doc.getMap(META)._map.get('modifiedby')!.lastId
    /** bob's modifiedby of his choosing, right after the record's (at `client`:0) */
    const forgedStamp = (client: number): Y.Item => beside(id(client, 0), stamp, null, new Y.ContentAny([forged]))
    /** the structs of an honest save of bob's under `client` (after `first`, made on the same copy, if given) */
    const save = (client: number, first?: (d: Y.Doc) => void): Y.Item[] => {
      const d = copyOf(s, name, client)
      return Y.decodeUpdate(edit(d, d => { first?.(d); setField(d, ACCOUNT, 'telephone1', '+47 bob', { by: 'u-bob', at: iso(Date.now()) }) })).structs as Y.Item[]
    }
    const c = (i: number): number => 0x6200000 + i
    const attacks: [string, Parameters<typeof sectionsUpdate>[0]][] = [
      ['two sections of one client over the same clocks', [{ client: c(1), clock: 0, structs: [forgedStamp(c(1))] }, { client: c(1), clock: 0, structs: save(c(1)) }]],
      ['a section, then an empty one of the same client', [{ client: c(2), clock: 0, structs: [forgedStamp(c(2))] }, { client: c(2), clock: 0, structs: [] }]],
      ['a client\'s section after another client\'s', [{ client: c(3), clock: 0, structs: [forgedStamp(c(3))] }, { client: c(4), clock: 0, structs: save(c(4)) }, { client: c(3), clock: 0, structs: [forgedStamp(c(3))] }]],
      ['two sections of one client, one after the other', (() => {
        const structs = save(c(5), d => stampRecord(d, { by: forged, at: iso(Date.now()) }))
        return [{ client: c(5), clock: 0, structs: structs.slice(0, 1) }, { client: c(5), clock: 1, structs: structs.slice(1) }]
      })()]
    ]
    for (const [what, sections] of attacks) {
      const bob = await raw(cleanups, s, name, 'bob')
      await send(s, name, bob, sectionsUpdate(sections))
      expect(spells(await storedRows(s, name), forged), `${what}: the stored log`).toBe(false)
      expect(exactly(s.server.rooms.get(name).doc), what).toEqual(record)
      expect(await storedRows(s, name), what).toEqual(rows)
      expect(bob.ws.readyState, `${what}: the sender is closed`).toBeGreaterThanOrEqual(2)
      expect((await bob.closed).code, what).toBe(4400)
    }
    await device.sync()
    const onDevice = await device.open(name)
    expect(exactly(onDevice)).toEqual(record)
    nowhere(forged, rows, [onDevice], 'the skipped sections')
  })
})
