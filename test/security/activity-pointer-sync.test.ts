// The activity pointer over /sync (issue 10): `activitypointer/<id>` has no records of its own, so a raw
// y-websocket client that writes to it — creating a pointer record, setting a field of one, or deleting
// one named after another user's activity — changes nothing: not the pointer's document, not the
// activity, not the projection (not even the field stamps of a refused create); the writer gets receipts.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, deleteRecord, setField } from '../../src/docs/record.ts'
import type { DocName } from '../../src/ids.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { applyReceived, copyOf, edit, exactly, ownedBy, raw, receiptsOn, startServer, TIME } from './support.ts'

const catalog = buildCatalog()
const pointer = catalog.entities.get('activitypointer')!
const cleanups = useCleanups()

/** What the server holds of `name`, once loaded. */
const loaded = async (s: Parameters<typeof raw>[1], name: DocName): Promise<Y.Doc> => {
  await s.server.rooms.get(name).ready
  return copyOf(s, name)
}

describe('writes through activitypointer/<id> over /sync', () => {
  it('a create of a pointer record is refused with command-not-offline receipts; no record part (meta, fields) is stored or projected', async () => {
    const s = await startServer(cleanups)
    const name = 'activitypointer/0f0f0f0f-0000-4000-8000-000000000001' as DocName
    const sock = await raw(cleanups, s, name, 'alice')
    const doc = new Y.Doc()
    applyReceived(doc, sock.messages)
    sock.update(edit(doc, d => createRecord(d, pointer, { id: name.split('/')[1] as never, ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { subject: 'forged', activitytypecode: 'phonecall' } }, { by: 'u-alice', at: TIME })))
    await until(() => receiptsOn(s, 'u-alice', name).length > 0, 'a receipt for the pointer create')
    expect(receiptsOn(s, 'u-alice', name)[0]).toMatchObject({ reason: 'command-not-offline' })
    await s.server.rooms.get(name).settled()
    expect(Object.keys(exactly(s.server.rooms.get(name).doc))).toEqual([])
    expect(s.projection.row('activitypointer', name.split('/')[1])).toBeUndefined()
    expect(s.projection.row('phonecall', name.split('/')[1])).toBeUndefined()
  })

  it('deleting another user\'s phone call through its pointer changes neither the call nor the pointer', async () => {
    const s = await startServer(cleanups)
    const call = ownedBy(s, 'phonecall', 'u-nina')
    const before = exactly(await loaded(s, call))
    expect(before).toHaveProperty('meta')
    const name = `activitypointer/${call.split('/')[1]}` as DocName
    // erin, who may create nothing, cannot even open the empty pointer document.
    await expect(raw(cleanups, s, name, 'erin')).rejects.toThrow('upgrade refused')
    for (const login of ['alice']) {
      const userId = `u-${login}`
      const sock = await raw(cleanups, s, name, login)
      // The attacker builds the pointer's document as if it were the call's (its state, under the pointer's name).
      const forged = await loaded(s, call)
      const update = Y.encodeStateAsUpdate(forged)
      const sv = Y.encodeStateVector(forged)
      deleteRecord(forged, catalog.entities.get('phonecall')!, { by: userId, at: TIME })
      sock.update(Y.mergeUpdates([update, Y.encodeStateAsUpdate(forged, sv)]))
      await until(() => receiptsOn(s, userId, name).length > 0 || sock.ws.readyState !== sock.ws.OPEN, `${login}'s pointer delete answered`)
      expect(exactly(s.server.rooms.get(name).doc)).toEqual({})
      // A bare tombstone on the (empty) pointer document.
      const before2 = receiptsOn(s, userId, name).length
      sock.update(edit(new Y.Doc(), d => { d.getMap('meta').set('deletedby', userId); d.getMap('meta').set('deletedon', TIME) }))
      await until(() => receiptsOn(s, userId, name).length > before2 || sock.ws.readyState !== sock.ws.OPEN, `${login}'s bare tombstone answered`)
      expect(exactly(s.server.rooms.get(name).doc)).toEqual({})
    }
    expect(exactly(copyOf(s, call))).toEqual(before)
    expect(s.projection.row('phonecall', call.split('/')[1])).toBeDefined()
    expect(s.projection.row('phonecall', call.split('/')[1])?.deletedon ?? null).toBeNull()
  })

  it('a field write to a pointer record of one\'s own activity is refused; the activity keeps its value', async () => {
    const s = await startServer(cleanups)
    const call = ownedBy(s, 'phonecall', 'u-alice')
    const subject = s.projection.row('phonecall', call.split('/')[1])?.subject
    const name = `activitypointer/${call.split('/')[1]}` as DocName
    const sock = await raw(cleanups, s, name, 'alice')
    const forged = await loaded(s, call)
    const update = Y.encodeStateAsUpdate(forged)
    const sv = Y.encodeStateVector(forged)
    setField(forged, catalog.entities.get('phonecall')!, 'subject', 'rewritten through the pointer', { by: 'u-alice', at: TIME })
    sock.update(Y.mergeUpdates([update, Y.encodeStateAsUpdate(forged, sv)]))
    await until(() => receiptsOn(s, 'u-alice', name).length > 0 || sock.ws.readyState !== sock.ws.OPEN, 'the pointer write answered')
    expect(exactly(s.server.rooms.get(name).doc)).toEqual({})
    expect(s.projection.row('phonecall', call.split('/')[1])?.subject).toBe(subject)
  })
})
