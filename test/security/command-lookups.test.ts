// A lookup must point at a record the user may read and append to; a target that does not exist is
// dropped (invalid-value). The one exception: inside a command, a record the same command creates (its
// parts are decided together, before any is stored). Before the fix, inside any command, every lookup to a
// record that does not exist (or no longer does) was taken: a qualify could store dangling lookups.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, stampRecord } from '../../src/docs/record.ts'
import { DeviceMessage } from '../../src/protocol/device-frames.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { asRecordId } from '../../src/ids.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, ownedBy, rawDevice, startServer } from './support.ts'

const catalog = buildCatalog()
const cleanups = useCleanups()

/** alice qualifies her lead, creating an opportunity with `values` (and, if given, an account). */
const qualify = async (s: TestServer, device: string, oppId: string, values: Record<string, string>, accountId?: string): Promise<Receipt[]> => {
  const lead = ownedBy(s, 'lead', 'u-alice')
  const at = new Date().toISOString()
  const actor = { by: 'u-alice', at }
  const owner = { ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north' }
  const parts = [
    { record: lead as string, id: 1, update: edit(copyOf(s, lead), d => d.transact(() => { d.getMap('meta').set('statecode', 1); stampRecord(d, actor) })) },
    { record: `opportunity/${oppId}`, id: 2, update: edit(new Y.Doc(), d => createRecord(d, catalog.entities.get('opportunity')!, { id: asRecordId(oppId), ...owner, values: { name: 'from the lead', originatingleadid: lead, ...values } }, actor)) }
  ]
  if (accountId !== undefined) {
    parts.push({ record: `account/${accountId}`, id: 3, update: edit(new Y.Doc(), d => createRecord(d, catalog.entities.get('account')!, { id: asRecordId(accountId), ...owner, values: { name: 'from the lead', originatingleadid: lead } }, actor)) })
  }
  const d = await rawDevice(cleanups, s, 'alice', device)
  d.send({ type: DeviceMessage.command, command: 'qualify', target: lead, parts })
  await until(() => d.frames.filter(f => f.type === DeviceMessage.ack).length === parts.length, 'every part acknowledged')
  return d.frames.flatMap(f => f.type === DeviceMessage.receipts ? JSON.parse(f.json) as Receipt[] : [])
}

describe('lookups inside a command', () => {
  it('may point at a record the command creates', async () => {
    const s = await startServer(cleanups)
    const receipts = await qualify(s, 'device-cmd-lookup-1', 'oppcreated01', { parentaccountid: 'account/acccreated01' }, 'acccreated01')
    expect(receipts).toEqual([])
    expect(s.projection.row('opportunity', 'oppcreated01')?.parentaccountid).toBe('account/acccreated01')
  })

  it('may not point at a record that does not exist and that the command does not create', async () => {
    const s = await startServer(cleanups)
    const receipts = await qualify(s, 'device-cmd-lookup-2', 'oppdangling01', { parentaccountid: 'account/doesnotexist01' })
    expect(receipts.map(r => [r.record, r.reason])).toContainEqual(['opportunity/oppdangling01', 'invalid-value'])
    expect(s.projection.row('opportunity', 'oppdangling01')).toBeUndefined()
    expect(s.projection.row('lead', ownedBy(s, 'lead', 'u-alice').split('/')[1])?.statecode).toBe(0)
  })
})
