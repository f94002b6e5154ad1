// Requests that are cheap to send and costly to answer, bounded by what they cost their user across
// records (the attacker's notes):
// - a state request (sync step 1) of 4 bytes makes the server encode what the record has beyond it, the
//   whole record for an empty state vector: a loop of them kept the server encoding a large record;
// - an update with content outside the layout is refused whole, and leaving no trace of it rebuilds the
//   record's document from storage (tens of ms for a long history): the rate of refusals per record let
//   one user keep the server busy with such updates to large records.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote } from '../../src/docs/record.ts'
import { CloseCode, MessageType, SyncStep } from '../../src/protocol/codes.ts'
import { encodeSyncUpdate } from '../../src/protocol/sync-messages.ts'
import { STATE_REPLIES, WHOLE_REFUSALS } from '../../src/server/room-types.ts'
import { recordingMember } from '../../tools/room-member.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { copyOf, edit, idsOwnedBy, open, raw, receiptsOn, startServer, TIME, type Raw } from './support.ts'
import type { DocName } from '../../src/ids.ts'
import type { TestServer } from '../helpers/server.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

const isStep2 = (m: Uint8Array): boolean => m[0] === MessageType.sync && m[1] === SyncStep.step2
const EMPTY_STEP1 = encodeSyncUpdate(SyncStep.step1, Y.encodeStateVector(new Y.Doc()))

/** How a socket closed, or null if it is still open after 10 s. */
const closedWithin = (r: Raw): Promise<{ code: number, reason: string } | null> =>
  Promise.race([r.closed, new Promise<null>(resolve => setTimeout(() => resolve(null), 10_000).unref())])

/** Gives alice's record `name` 30 notes of 90,000 characters (about 2.7 MB); returns its state's size. */
const enlarge = async (s: TestServer, name: DocName): Promise<number> => {
  const room = s.server.rooms.get(name)
  const alice = recordingMember('u-alice')
  room.join(alice)
  for (let i = 0; i < 30; i++) {
    await room.submit(alice, edit(copyOf(s, name), d => addNote(d, account, `n${i}`, { subject: `note ${i}`, text: String(i % 10).repeat(90_000) }, { by: 'u-alice', at: TIME })))
  }
  room.leave(alice)
  const size = Y.encodeStateAsUpdate(room.doc).length
  s.server.rooms.released(name)
  return size
}

// (Refilled at the least rate allowed, so that a spent budget stays spent while a test looks.)
const SLOW_REFILL = { STATE_REPLY_BYTES_PER_SECOND: '1024', WHOLE_REFUSED_BYTES_PER_SECOND: '1024' }

describe('costly requests are bounded by what they cost their user', () => {
  it('state requests: a loop of empty step 1s for a large record is answered until the user\'s budget is spent, then closed with 4429, on any record', async () => {
    const s = await startServer(cleanups, SLOW_REFILL)
    const [a, b] = idsOwnedBy(s, 'account', 'u-alice').map(id => `account/${id}` as DocName)
    const size = await enlarge(s, a)
    expect(size).toBeGreaterThan(2_500_000)
    const viewer = await open(cleanups, s, a, 'avery')
    const erin = await raw(cleanups, s, a, 'erin')
    // One at a time, each read before the next (sent all at once, they fill the socket's send buffer first: 4408).
    const answered = (): number => erin.messages.filter(isStep2).length
    for (let i = 0; i < 200 && erin.ws.readyState === erin.ws.OPEN; i++) {
      const before = answered()
      erin.ws.send(EMPTY_STEP1)
      await Promise.race([erin.received(m => isStep2(m) && answered() > before), erin.closed])
    }
    const closed = await closedWithin(erin)
    expect(closed?.code).toBe(CloseCode.rateLimited)
    expect(closed?.reason).toContain('state requests')
    expect(answered()).toBeGreaterThanOrEqual(Math.floor(STATE_REPLIES.burstBytes / size))
    expect(answered()).toBeLessThanOrEqual(Math.ceil(STATE_REPLIES.burstBytes / size) + 1)
    // The budget is erin's, not the connection's: her next one, to a small record, is closed at its first.
    const again = await raw(cleanups, s, b, 'erin')
    again.ws.send(EMPTY_STEP1)
    expect((await closedWithin(again))?.code).toBe(CloseCode.rateLimited)
    // Nobody else is affected.
    expect(viewer.p.wsconnected).toBe(true)
    const alice = await raw(cleanups, s, b, 'alice')
    alice.ws.send(EMPTY_STEP1)
    await alice.received(isStep2)
  })

  it('state requests for small records: hundreds in a row are all answered', async () => {
    const s = await startServer(cleanups)
    const [a] = idsOwnedBy(s, 'account', 'u-alice').map(id => `account/${id}` as DocName)
    const sock = await raw(cleanups, s, a, 'alice')
    const sent = 300
    for (let i = 0; i < sent; i++) sock.ws.send(EMPTY_STEP1)
    await sock.received(() => sock.messages.filter(isStep2).length === sent)
    expect(sock.ws.readyState).toBe(sock.ws.OPEN)
  })

  it('updates refused whole to a large record: past the user\'s budget the sender is closed with 4429 before anything is rebuilt, on any record', async () => {
    const s = await startServer(cleanups, SLOW_REFILL)
    const [a, b] = idsOwnedBy(s, 'account', 'u-alice').map(id => `account/${id}` as DocName)
    const size = await enlarge(s, a)
    const outside = (name: DocName, i: number): Uint8Array => edit(copyOf(s, name), d => d.getMap('outside').set('x', i))
    const first = await raw(cleanups, s, a, 'alice')
    for (let i = 0; i < 30; i++) first.update(outside(a, i))
    const closed = await closedWithin(first)
    expect(closed?.code).toBe(CloseCode.rateLimited)
    expect(closed?.reason).toContain('refused whole')
    // (The batch's receipts are kept for the user; the socket may have closed before they were sent.)
    const refused = receiptsOn(s, 'u-alice', a).filter(r => r.reason === 'invalid-value').length
    expect(refused).toBeGreaterThanOrEqual(1)
    expect(refused).toBeLessThanOrEqual(Math.ceil(WHOLE_REFUSALS.burstBytes / size) + 1)
    // The budget is alice's, not the record's: her socket to a small record is closed at its first such update.
    const second = await raw(cleanups, s, b, 'alice')
    second.update(outside(b, 0))
    expect((await closedWithin(second))?.code).toBe(CloseCode.rateLimited)
    expect(receiptsOn(s, 'u-alice', b)).toEqual([])
    // Nothing of it was kept.
    expect(s.server.rooms.get(a).doc.share.has('outside')).toBe(false)
    s.server.rooms.released(a)
  })
})
