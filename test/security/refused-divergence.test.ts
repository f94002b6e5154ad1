// Known bug (found by fuzz.test.ts, SEED=1): the sender of an update refused whole keeps the refused
// items (deleted by the revert) while the server never integrates them, so the two copies disagree on
// where a later write to the same key sits. A later write by someone else that Yjs orders before the
// refused item (a lower client id) is hidden on the sender's copy for good: it never converges.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField } from '../../src/docs/record.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { applyReceived, copyOf, edit, exactly, open, ownedBy, raw, startServer, TIME } from './support.ts'
import { MessageType, SyncStep } from '../../src/protocol/codes.ts'
import { encodeSyncUpdate } from '../../src/protocol/sync-messages.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()

describe('the sender of a refused update', () => {
  it('sees a later write of the same field by another user', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const erinDoc = new Y.Doc()
    erinDoc.clientID = 0xfffffff0 // high, so that the later write below is ordered before erin's item
    const erin = await open(cleanups, s, name, 'erin', erinDoc)
    const before = readRecord(erin.doc, account).fields.telephone1
    setField(erin.doc, account, 'telephone1', '+47 erin', { by: 'u-erin', at: TIME })
    await until(() => readRecord(erin.doc, account).fields.telephone1 === before, 'erin reverted', [erin.doc])
    // Avery, allowed, writes the same field from the server's current state under a lower client id.
    const avery = await raw(cleanups, s, name, 'avery')
    avery.update(edit(copyOf(s, name, 1000), d => setField(d, account, 'telephone1', '+47 avery', { by: 'u-avery', at: TIME })))
    const room = s.server.rooms.get(name)
    await until(() => readRecord(room.doc, account).fields.telephone1 === '+47 avery', 'avery\'s write lands')
    await until(() => readRecord(erin.doc, account).fields.telephone1 === '+47 avery', 'erin sees avery\'s write', [erin.doc], 3000)
    expect(readRecord(erin.doc, account)).toEqual(readRecord(room.doc, account))
  })
})

describe('the sender of a formatting mark', () => {
  // SEED=241228674 of fuzz.test.ts, step 156: integrating the refused marks made the record's Yjs delete the
  // one left without text after it (its own cleanup, in a transaction after the update's); the revert
  // deleted only what was still live, and the sender kept that mark for good.
  it('takes in the marks the record removed while integrating them, and converges', async () => {
    const s = await startServer(cleanups)
    const name = ownedBy(s, 'account', 'u-alice')
    const alice = await raw(cleanups, s, name, 'alice')
    const room = s.server.rooms.get(name)
    const memo = (d: Y.Doc): Y.Text => d.getText('memo:description')
    alice.update(edit(copyOf(s, name, 1001), d => memo(d).insert(0, 'abcdef')))
    await until(() => memo(room.doc).toString() === 'abcdef', 'the memo written')
    const stale = copyOf(s, name, 1002)
    alice.update(edit(copyOf(s, name, 1003), d => memo(d).delete(0, 2)))
    await until(() => memo(room.doc).toString() === 'cdef', 'the memo shortened')
    const mark = edit(stale, d => memo(d).format(0, 1, { italic: true }))
    const from = alice.messages.length
    alice.update(mark)
    alice.ws.send(encodeSyncUpdate(SyncStep.step1, Y.encodeStateVector(stale)))
    await until(() => alice.messages.slice(from).some(m => m[0] === MessageType.sync && m[1] === SyncStep.step2), 'the reply')
    await room.settled()
    applyReceived(stale, alice.messages.slice(from))
    expect(exactly(stale)).toEqual(exactly(room.doc))
    expect(memo(stale).toDelta()).toEqual([{ insert: 'cdef' }])
  })
})
