// A delete wins over edits, secured fields included: an edit of a secured field (its own document,
// `<entity>/<id>/<attribute>`) that reaches the server after the record was deleted is not kept, like the
// same edit of any other field, and its author is told. The server decided a secured field's document by
// its record's owner alone, which a loaded record's room gives deleted or not.

import { describe, expect, it } from 'vitest'
import { Reason } from '../../src/protocol/receipts.ts'
import { deviceFor, inboxReceipts, serverFor } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

describe('an offline edit of a secured field of a record deleted meanwhile', () => {
  it('is not kept in the field\'s document, and its author finds it in the inbox', async () => {
    const s = await serverFor(cleanups)
    // bob (finance: account.revenue) and alice, whose account it is.
    const bob = await deviceFor(cleanups, s, 'bob')
    const alice = await deviceFor(cleanups, s, 'alice')
    await bob.sync()
    await alice.sync()
    const record = (await alice.list('account')).find(r => r.values.ownerid === 'systemuser/u-alice')!.record
    expect((await bob.list('account')).some(r => r.record === record)).toBe(true)
    bob.disconnect()
    await bob.update(record, { revenue: 123456, telephone1: 'bob offline' })
    // Alice deletes it (its room stays loaded on the server a while), then bob syncs.
    await alice.remove(record)
    await alice.sync()
    await bob.sync()
    const field = s.server.rooms.get(`${record}/revenue` as never)
    await field.ready
    expect(field.doc.getMap('fields').get('revenue')).not.toBe(123456)
    // The record's fields: superseded by the delete; the field's document: no longer bob's to write (the
    // refusal of a document of a record that does not exist), and his value kept in his inbox.
    const inbox = await inboxReceipts(bob)
    expect(inbox.find(r => r.record === record && r.field === 'telephone1')?.reason).toBe(Reason.superseded)
    const revenue = inbox.filter(r => r.record === `${record}/revenue`)
    expect(revenue.length).toBeGreaterThan(0)
    expect(revenue.some(r => JSON.stringify(r.attempted).includes('123456'))).toBe(true)
  })
})
