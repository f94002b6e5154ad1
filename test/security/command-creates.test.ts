// A /device command's parts that create records. A user who may not create a record of an entity gets 403
// for its name on /sync (no socket, nothing kept), but a command part naming a record that does not exist
// was joined to its record's pipeline with no check at all (its create to be decided with the rest), and a
// rejected command is integrated and reverted: what the part wrote was kept, as placeholders, in a log
// under that name, with the part's receipt. Any user (here erin, the read-only auditor, who may create
// nothing) could so make the server keep refused bytes, receipts and client-id bindings under as many new
// record names as she liked (eight a command), the per-record bounds notwithstanding.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, stampRecord } from '../../src/docs/record.ts'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { asRecordId, fieldDocName, type DocName } from '../../src/ids.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, ownedBy, rawDevice, receiptsOn, startServer } from './support.ts'

const catalog = buildCatalog()
const cleanups = useCleanups()

describe('a command part that creates a record', () => {
  it('from a user who may not create that entity keeps nothing under the record\'s name (as /sync\'s 403)', async () => {
    const s = await startServer(cleanups)
    const lead = ownedBy(s, 'lead', 'u-alice')
    const actor = { by: 'u-erin', at: new Date().toISOString() }
    const owner = { ownerid: 'systemuser/u-erin', owningbusinessunit: 'bu-contoso' }
    const junk = 'x'.repeat(150)
    const names = ['erinjunk01', 'erinjunk02', 'erinjunk03'].map(id => `account/${id}` as DocName)
    const parts = [
      { record: lead as string, id: 1, update: edit(copyOf(s, lead, 0x7300001), d => d.transact(() => { d.getMap('meta').set('statecode', 1); stampRecord(d, actor) })) },
      ...names.map((name, i) => ({
        record: name as string, id: 2 + i,
        update: edit(new Y.Doc(), d => createRecord(d, catalog.entities.get('account')!, { id: asRecordId(name.split('/')[1]), ...owner, values: { name: junk, description: junk.repeat(100) } }, actor))
      })),
      // and a secured field's document of a record that does not exist
      { record: fieldDocName('account/erinjunk09' as DocName, 'revenue'), id: 9, update: edit(new Y.Doc(), d => d.getMap('fields').set('revenue', 1)) }
    ]
    const d = await rawDevice(cleanups, s, 'erin', 'device-erin-junk-1')
    d.send({ type: DeviceMessage.command, command: 'qualify', target: lead, parts })
    await until(() => d.frames.filter(f => f.type === DeviceMessage.ack).length === parts.length, 'every part acknowledged')
    const told = d.frames.flatMap(f => f.type === DeviceMessage.receipts ? JSON.parse(f.json) as Receipt[] : [])
    expect(told.length).toBeGreaterThan(0) // erin is told the command was refused
    expect(s.projection.row('lead', lead.split('/')[1])?.statecode).toBe(0)
    for (const name of [...names, fieldDocName('account/erinjunk09' as DocName, 'revenue')]) {
      await s.server.rooms.get(name).settled()
      expect(s.stored(name), name).toEqual([])
      expect(receiptsOn(s, 'u-erin', name), name).toEqual([])
      expect(s.projection.row('account', name.split('/')[1])).toBeUndefined()
    }
  })
})
