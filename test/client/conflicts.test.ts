// Same-field conflicts as field workers meet them, with the device SDK through a real server: two devices
// offline change one field; after both sync the later edit stands on both, and the author of the earlier
// one finds a `superseded` entry in the inbox of the device that made it (README, "Conflicts").

import { describe, expect, it } from 'vitest'
import { Reason } from '../../src/protocol/receipts.ts'
import { editedOffline as editedOfflineOn, inboxReceipts } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

const editedOffline = async (): ReturnType<typeof editedOfflineOn> => editedOfflineOn(cleanups)

describe('same-field conflicts on devices', () => {
  it('the later offline edit wins on every device, whichever syncs first; the earlier one lands in its device\'s inbox', async () => {
    const { alice, bob, record } = await editedOffline()
    // Alice, whose edit is later, syncs first; bob's earlier edit then arrives and loses.
    await alice.sync()
    await bob.sync()
    await alice.sync()
    for (const d of [alice, bob]) expect((await d.list('account')).find(r => r.record === record)?.values.telephone1).toBe('alice, later')
    const entries = (await inboxReceipts(bob)).filter(r => r.reason === Reason.superseded)
    expect(entries.map(r => [r.record, r.field, r.attempted, r.kept, r.conflict?.by])).toEqual([[record, 'telephone1', 'bob, earlier', 'alice, later', 'u-alice']])
    expect((await inboxReceipts(alice)).filter(r => r.reason === Reason.superseded)).toEqual([])
  })

  it('tells the device whose value the record held when a later concurrent edit replaces it', async () => {
    const { alice, bob, record } = await editedOffline()
    // Bob's earlier edit reaches the server first; alice's later one replaces it.
    await bob.sync()
    bob.disconnect()
    await alice.sync()
    await bob.sync()
    expect((await bob.list('account')).find(r => r.record === record)?.values.telephone1).toBe('alice, later')
    const entries = (await inboxReceipts(bob)).filter(r => r.reason === Reason.superseded)
    expect(entries.map(r => [r.field, r.attempted, r.kept, r.conflict?.by])).toEqual([['telephone1', 'bob, earlier', 'alice, later', 'u-alice']])
    expect((await inboxReceipts(alice)).filter(r => r.reason === Reason.superseded)).toEqual([])
  })
})
