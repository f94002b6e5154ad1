// A delete names its deleter and time in the tombstone (`deletedby`, `deletedon`), and every later edit's
// `superseded` entry repeats them to its author ("<deletedby> deleted this record at <deletedon>"). Like
// `createdby` and `modifiedby`, the deleter must be the author and the time a UTC date-time: otherwise a
// user who may delete a record names another user as its deleter, or writes free text into other users'
// inboxes through `deletedon`.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { META, deleteRecord, readRecord } from '../../src/docs/record.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import type { DocName } from '../../src/ids.ts'
import { copyOf, edit, ownedBy, raw, receiptsOn, sendCommitted, startServer, type Raw } from './support.ts'
import type { TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()
const ACCOUNT = buildCatalog().entities.get('account')!

const send = sendCommitted

const setUp = async (): Promise<{ s: TestServer, name: DocName, sock: Raw, doc: Y.Doc }> => {
  const s = await startServer(cleanups)
  const name = ownedBy(s, 'account', 'u-alice')
  return { s, name, sock: await raw(cleanups, s, name, 'alice'), doc: copyOf(s, name) }
}

const deletedOn = (s: TestServer, name: DocName): unknown => readRecord(s.server.rooms.get(name).doc, ACCOUNT).meta

describe('a delete\'s tombstone', () => {
  it('naming another user as the deleter is refused: the record stays, the row too', async () => {
    const { s, name, sock, doc } = await setUp()
    await send(sock, edit(doc, d => deleteRecord(d, ACCOUNT, { by: 'u-bob', at: new Date().toISOString() })))
    expect(deletedOn(s, name)).not.toHaveProperty('deletedby')
    expect(deletedOn(s, name)).not.toHaveProperty('deletedon')
    expect(s.projection.row('account', name.split('/')[1])).toBeDefined()
    expect(receiptsOn(s, 'u-alice', name).map(r => r.change)).toContain('deleted')
  })

  it('with a deletedon that is not a UTC date-time is refused', async () => {
    const { s, name, sock, doc } = await setUp()
    await send(sock, edit(doc, d => d.transact(() => {
      deleteRecord(d, ACCOUNT, { by: 'u-alice', at: new Date().toISOString() })
      d.getMap(META).set('deletedon', 'an unknown time. Call +1 555 0100 to get it back')
    })))
    expect(deletedOn(s, name)).not.toHaveProperty('deletedon')
    expect(s.projection.row('account', name.split('/')[1])).toBeDefined()
    expect(receiptsOn(s, 'u-alice', name).map(r => [r.change, r.reason])).toContainEqual(['deleted', Reason.invalidValue])
  })

  it('dated past the server\'s clock (by more than a device\'s clock may run ahead) is refused', async () => {
    const { s, name, sock, doc } = await setUp()
    await send(sock, edit(doc, d => deleteRecord(d, ACCOUNT, { by: 'u-alice', at: '2099-01-01T00:00:00.000Z' })))
    expect(deletedOn(s, name)).not.toHaveProperty('deletedon')
    expect(receiptsOn(s, 'u-alice', name).map(r => [r.change, r.reason])).toContainEqual(['deleted', Reason.invalidValue])
  })

  it('of the author, at a date-time, stands', async () => {
    const { s, name, sock, doc } = await setUp()
    await send(sock, edit(doc, d => deleteRecord(d, ACCOUNT, { by: 'u-alice', at: new Date().toISOString() })))
    expect(deletedOn(s, name)).toMatchObject({ deletedby: 'u-alice' })
    expect(s.projection.row('account', name.split('/')[1])).toBeUndefined()
    expect(receiptsOn(s, 'u-alice', name)).toEqual([])
  })
})
