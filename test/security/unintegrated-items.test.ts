// Attacks through items that are in an update's bytes but that Yjs does not integrate on the server, so that
// neither the layout nor the decision judged what they would do elsewhere: items Yjs collects as it integrates
// them (their parent, or a neighbour, is already collected: a removed note's entries, a struct sent as
// collected). Kept as the bytes they came in, they reach the log and every replica, and a replica that still
// has what they point at (one that keeps deleted content, or a device given the log since its cursor merged
// into one update, whose deletions come after its structs) places them.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, META, NOTES, readRecord, removeNote } from '../../src/docs/record.ts'
import { until } from '../helpers/server.ts'
import { deviceFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, ownedBy, raw, startServer } from './support.ts'
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
