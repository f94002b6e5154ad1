// The tests every receipt-store adapter passes: receipts committed with the log, read and dismissed here.

import { describe, expect, it } from 'vitest'
import type { RecordStorage } from '../../../src/server/storage/port.ts'
import type { ReceiptStore } from '../../../src/server/storage/receipt-port.ts'
import type { DocName } from '../../../src/ids.ts'
import { Reason, type Receipt } from '../../../src/protocol/receipts.ts'

export interface ReceiptsHarness {
  /** receipts are stored with a commit of the record log */
  readonly log: RecordStorage
  readonly receipts: ReceiptStore
  /** closes and reopens over the same data */
  reopen (): Promise<{ log: RecordStorage, receipts: ReceiptStore }>
  dispose (): Promise<void>
}

const receipt = (principal: string, field: string): Receipt => ({
  principal, record: 'account/a1', change: 'field-set', field, attempted: 'x', kept: 'y', reason: Reason.noWritePrivilege,
  message: 'm', privilegeVersion: 1, at: '2026-11-27T10:00:00.000Z'
})

export const describeReceipts = (adapter: string, open: () => Promise<ReceiptsHarness>): void => {
  describe(`${adapter} receipts`, () => {
    it('keeps each principal\'s receipts in order, after a seq and up to a limit, across a reopen', async () => {
      const h = await open()
      try {
        const stored = (await h.log.append('account/a1' as DocName, null, { receipts: [receipt('u1', 'f1'), receipt('u2', 'f2'), receipt('u1', 'f3')] })).receipts
        const more = (await h.log.append('account/a1' as DocName, null, { receipts: [receipt('u1', 'f4')] })).receipts
        const seqs = [...stored, ...more].map(r => r.seq!)
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs)
        const { receipts } = await h.reopen()
        expect((await receipts.receipts('u1', 0, 10)).map(r => r.field)).toEqual(['f1', 'f3', 'f4'])
        expect(await receipts.receipts('u1', 0, 10)).toEqual([stored[0], stored[2], more[0]])
        expect((await receipts.receipts('u1', stored[2].seq!, 10)).map(r => r.field)).toEqual(['f4'])
        expect((await receipts.receipts('u1', 0, 2)).map(r => r.field)).toEqual(['f1', 'f3'])
        expect((await receipts.receipts('u2', 0, 10)).map(r => r.field)).toEqual(['f2'])
        expect(await receipts.receipts('nobody', 0, 10)).toEqual([])
      } finally {
        await h.dispose()
      }
    })

    it('dismisses only the principal\'s own receipts, once; open ones are those not dismissed', async () => {
      const h = await open()
      try {
        const [a, b, c] = (await h.log.append('account/a1' as DocName, null, { receipts: [receipt('u1', 'f1'), receipt('u1', 'f2'), receipt('u2', 'f3')] })).receipts
        expect((await h.receipts.openReceipts('u1', 10)).map(r => r.field)).toEqual(['f1', 'f2'])
        expect(await h.receipts.dismissReceipts('u1', [a.seq!, c.seq!])).toBe(1) // c is u2's
        expect(await h.receipts.dismissReceipts('u1', [a.seq!])).toBe(0) // already
        const { receipts } = await h.reopen()
        expect((await receipts.openReceipts('u1', 10)).map(r => r.field)).toEqual(['f2'])
        expect((await receipts.openReceipts('u2', 10)).map(r => r.field)).toEqual(['f3'])
        expect((await receipts.openReceipts('u1', 0))).toEqual([])
        // Dismissed receipts are still in the history a device's cycle resends from.
        expect((await receipts.receipts('u1', 0, 10)).map(r => r.seq)).toEqual([a.seq, b.seq])
      } finally {
        await h.dispose()
      }
    })
  })
}
