// A receipt keeps the value that stood in a record (a same-field conflict also says who wrote it). Once
// its user may no longer read the record, the server withholds those: over GET /receipts and in the inbox
// a new device of theirs is offered (losing read access stops every byte of the record to the user);
// and a device that held the record keeps its inbox entries so once the record leaves it.

import { describe, expect, it } from 'vitest'
import { Reason, type Receipt } from '../../src/protocol/receipts.ts'
import { assignAs, deviceFor, editedOffline, inboxReceipts } from '../helpers/device.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import type { TestServer } from '../helpers/server.ts'

const cleanups = useCleanups()

const receiptsOver = async (s: TestServer, login: string): Promise<Receipt[]> => {
  const r = await fetch(`${s.url}/api/receipts`, { headers: { authorization: `Bearer ${await s.token(login)}` } })
  expect(r.status).toBe(200)
  return (await r.json() as { receipts: Receipt[] }).receipts
}

const conflictOf = (receipts: readonly Receipt[], record: string): Receipt | undefined =>
  receipts.find(r => r.reason === Reason.superseded && r.record === record)

describe('receipts of a record the user may no longer read', () => {
  it('no longer carry what stands in it, nor who wrote it, over HTTP and to a new device', async () => {
    // Bob edits a field offline; alice's later edit of it stands, and bob's device gets a conflict entry.
    const { s, alice, bob, record } = await editedOffline(cleanups)
    await alice.sync()
    await bob.sync()
    const held = conflictOf(await receiptsOver(s, 'bob'), record)
    expect([held?.attempted, held?.kept, held?.conflict?.by]).toEqual(['bob, earlier', 'alice, later', 'u-alice'])
    expect(held?.message).toContain('alice, later')
    const inboxBefore = (await bob.inbox()).find(i => i.receipt.record === record && i.receipt.reason === Reason.superseded)
    expect([inboxBefore?.receipt.kept, inboxBefore?.serverValue]).toEqual(['alice, later', 'alice, later'])

    // The record goes to a business unit bob does not read.
    expect((await assignAs(s, record, 'systemuser/u-dan')).status).toBe(200)
    const [entity, id] = record.split('/')
    expect((await fetch(`${s.url}/api/records/${entity}/${id}`, { headers: { authorization: `Bearer ${await s.token('bob')}` } })).ok).toBe(false)

    // Bob's device, which held the record and its entry, lets the record go and what stood in it with it.
    await bob.sync()
    expect((await bob.list('account')).some(r => r.record === record)).toBe(false)
    const kept = (await bob.inbox()).filter(i => i.receipt.record === record)
    expect(kept.map(i => [i.receipt.reason, i.receipt.attempted, i.receipt.kept, i.serverValue])).toEqual([[Reason.superseded, 'bob, earlier', null, null]])
    expect(JSON.stringify(kept)).not.toContain('alice, later')

    for (const receipts of [await receiptsOver(s, 'bob'), await (async () => {
      const fresh = await deviceFor(cleanups, s, 'bob')
      await fresh.sync()
      return inboxReceipts(fresh)
    })()]) {
      const entry = conflictOf(receipts, record)
      // Still there, with bob's own value and the reason: his intent is not lost.
      expect([entry?.attempted, entry?.reason, entry?.field]).toEqual(['bob, earlier', Reason.superseded, 'telephone1'])
      expect(entry?.kept).toBeNull()
      expect(entry?.conflict?.by).toBeNull()
      expect(JSON.stringify(entry)).not.toContain('alice, later')
      expect(JSON.stringify(entry)).not.toContain('u-alice')
    }
  })
})
