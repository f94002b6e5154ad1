// An update's deletions are ranges of clocks per client. Yjs writes each client's sorted and merged, but the
// check step took them in any order, overlapping: applying a range visits every struct it spans, so a range
// over a record's whole text sent again and again cost the text's size each time. erin (who may write
// nothing) sent 1,000 ranges over alice's 20,000-item memo (4 KB) and the event loop was held for most of a
// second; a frame holds 250,000 of them (minutes). Deletions of a client out of order or overlapping are
// malformed now: the socket closes with 4400 and nothing of the update is applied.

import { describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import { CloseCode } from '../../src/protocol/codes.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, ownedBy, raw, sendSettled, startServer } from './support.ts'

const cleanups = useCleanups()
const ALICE = 0x7300001

/** An update of no structs whose deletions are `ranges` of `client`'s clocks, in the order given. */
const deletions = (client: number, ranges: readonly (readonly [clock: number, len: number])[]): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 1); encoding.writeVarUint(e, client); encoding.writeVarUint(e, ranges.length)
  for (const [clock, len] of ranges) { encoding.writeVarUint(e, clock); encoding.writeVarUint(e, len) }
  return encoding.toUint8Array(e)
}

describe('an update\'s deletions', () => {
  it('of a client overlapping or out of order are malformed: closed with 4400, nothing applied', async () => {
    const s = await startServer(cleanups)
    const record = ownedBy(s, 'account', 'u-alice')
    // alice types a long memo a character at a time, each before the last: 20,000 items.
    const alice = await raw(cleanups, s, record, 'alice')
    const doc = copyOf(s, record, ALICE)
    const N = 20_000
    await sendSettled(s, record, alice, edit(doc, d => d.transact(() => { for (let i = 0; i < N; i++) d.getText('memo:description').insert(0, 'a') })))
    const text = (): string => s.server.rooms.get(record).doc.getText('memo:description').toString()
    expect(text()).toBe('a'.repeat(N))
    const stored = s.stored(record).length

    for (const ranges of [
      Array.from({ length: 1000 }, () => [0, N] as const), // the whole text, 1,000 times
      [[10, 5], [0, 5]] as const, // out of order
      [[0, 10], [5, 10]] as const // overlapping
    ]) {
      const erin = await raw(cleanups, s, record, 'erin')
      erin.update(deletions(ALICE, ranges))
      const closed = await Promise.race([erin.closed, new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('erin\'s socket was not closed')), 20_000))])
      expect(closed.code).toBe(CloseCode.malformed)
      expect(closed.reason).toMatch(/overlap or are out of order/)
      await s.server.rooms.get(record).settled()
      expect(text()).toBe('a'.repeat(N))
      expect(s.stored(record).length).toBe(stored)
    }
    // Sorted ranges apart from one another are an update like any: alice's taken, erin's refused (she stays).
    await sendSettled(s, record, alice, deletions(ALICE, [[0, 5], [10, 5]]))
    expect(text()).toBe('a'.repeat(N - 10))
    const erin = await raw(cleanups, s, record, 'erin')
    await sendSettled(s, record, erin, deletions(ALICE, [[20, 5], [30, 5]]))
    expect(erin.ws.readyState).toBe(1)
    expect(text()).toBe('a'.repeat(N - 10))
  }, 120_000)
})
