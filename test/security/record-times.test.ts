// A save's `modifiedon` is the time the row shows and what the organization data filter of offline profiles
// ("records modified in the last N days") and views sorted by it read. A note's times are bounded by the
// server's clock (not past it by more than the skew a device may have); a record's must be too, or any user
// who may write a record dates it years ahead.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, readRecord, setField } from '../../src/docs/record.ts'
import { asRecordId, type DocName } from '../../src/ids.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { copyOf, edit, ownedBy, raw, receiptsOn, sendCommitted, startServer } from './support.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()
const ACCOUNT = buildCatalog().entities.get('account')!

const send = sendCommitted

describe('a save\'s modifiedon', () => {
  it('years past the server\'s clock is not kept (the save\'s value is); a device\'s offline time and a clock a minute ahead are', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const id = name.split('/')[1]
    const sock = await raw(cleanups, s, name, 'alice')
    const doc = copyOf(s, name)
    const before = s.projection.row('account', id)?.modifiedon
    await send(sock, edit(doc, d => setField(d, ACCOUNT, 'telephone1', 'dated ahead', { by: 'u-alice', at: '2099-01-01T00:00:00.000Z' })))
    expect(s.projection.row('account', id)).toMatchObject({ telephone1: 'dated ahead', modifiedon: before })
    expect(readRecord(s.server.rooms.get(name).doc, ACCOUNT).meta.modifiedon).toBe(before)
    expect(receiptsOn(s, 'u-alice', name).map(r => [r.field, r.reason])).toEqual([['modifiedon', Reason.invalidValue]])
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(s.server.rooms.get(name).doc))
    for (const at of [new Date(Date.now() - 3 * 86_400_000).toISOString(), new Date(Date.now() + 60_000).toISOString()]) {
      await send(sock, edit(doc, d => setField(d, ACCOUNT, 'telephone1', at, { by: 'u-alice', at })))
      expect(s.projection.row('account', id)).toMatchObject({ telephone1: at, modifiedon: at })
    }
  })
})

describe('a new record\'s createdon', () => {
  // createdon is what views sorted or filtered by creation read, and nothing may change it later (a
  // system field): a create dated years ahead stayed first in every "newest" view for good.
  it('years past the server\'s clock refuses the create (as modifiedon does); a minute ahead is kept', async () => {
    const s = await startServer(cleanups)
    const owner = { ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north' }
    const now = (): string => new Date().toISOString()
    const create = async (id: string, createdon: string, modifiedon: string): Promise<void> => {
      const name = `account/${id}` as DocName
      const sock = await raw(cleanups, s, name, 'alice')
      await send(sock, edit(new Y.Doc(), d => {
        createRecord(d, ACCOUNT, { id: asRecordId(id), ...owner, values: { name: id } }, { by: 'u-alice', at: createdon })
        d.getMap('meta').set('modifiedon', modifiedon)
      }))
    }
    await create('dated-created', '2099-01-01T00:00:00.000Z', now())
    expect(s.projection.row('account', 'dated-created')).toBeUndefined()
    expect(receiptsOn(s, 'u-alice', 'account/dated-created').map(r => r.reason)).toContain(Reason.invalidValue)
    await create('dated-modified', now(), '2099-01-01T00:00:00.000Z')
    expect(s.projection.row('account', 'dated-modified')).toBeUndefined()
    const ahead = new Date(Date.now() + 60_000).toISOString()
    await create('minute-ahead', ahead, ahead)
    expect(s.projection.row('account', 'minute-ahead')).toMatchObject({ createdon: ahead, modifiedon: ahead })
  })
})
