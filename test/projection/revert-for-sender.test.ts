// The update that reverts the sender of an update refused whole brings its copy back to the record exactly,
// formatting marks included: seeded stale copies of a memo text under concurrent edits, formatted.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, readRecord } from '../../src/docs/record.ts'
import { revertForSender } from '../../src/projection/project.ts'
import { asRecordId } from '../../src/ids.ts'
import { exactly } from '../security/support.ts'
import { int, withSeed, word, type Gen } from '../helpers/seed.ts'

const account = buildCatalog().entities.get('account')!
const MEMO = 'memo:description'

/** A random edit of the memo on `doc`: an insert or a delete at a random place. */
const editMemo = (gen: Gen, doc: Y.Doc): void => {
  const t = doc.getText(MEMO)
  if (t.length > 0 && int(gen, 0, 2) === 0) {
    const at = int(gen, 0, t.length - 1)
    t.delete(at, int(gen, 1, Math.min(4, t.length - at)))
  } else {
    t.insert(int(gen, 0, t.length), word(gen, 1, 5))
  }
}

const sync = (from: Y.Doc, to: Y.Doc): void => Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)))

describe('revertForSender', () => {
  // SEED=241228674 of test/security/fuzz.test.ts (step 156): Yjs deleted the refused marks left around deleted
  // text in a cleanup of its own after integrating them; the revert deleted only what was still live, and the
  // sender kept a mark the record never had.
  it.each([undefined, 21])('brings a stale copy that formatted the memo back to the record, marks and all (seed %s)', async (fixed) => {
    await withSeed(gen => {
      for (let round = 0; round < 300; round++) {
        const record = new Y.Doc()
        createRecord(record, account, { id: asRecordId('r1'), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: 'R' } }, { by: 'u-alice', at: '2026-11-27T12:00:00.000Z' })
        const writers = [new Y.Doc(), new Y.Doc()]
        for (let i = int(gen, 1, 6); i > 0; i--) { const w = writers[int(gen, 0, 1)]; sync(record, w); editMemo(gen, w); sync(w, record) }
        const sender = new Y.Doc()
        sync(record, sender)
        for (let i = int(gen, 1, 6); i > 0; i--) { const w = writers[int(gen, 0, 1)]; sync(record, w); editMemo(gen, w); sync(w, record) }
        const memo = sender.getText(MEMO)
        if (memo.length === 0) continue
        const sv = Y.encodeStateVector(sender)
        const at = int(gen, 0, memo.length - 1)
        memo.format(at, int(gen, 1, memo.length - at), { italic: true })
        const update = Y.encodeStateAsUpdate(sender, sv)
        // The record's copy that takes the refused update in is dropped afterwards, as the room does.
        const scratch = new Y.Doc()
        Y.applyUpdate(scratch, Y.encodeStateAsUpdate(record))
        // The room's document has read its record: its memo is a Y.Text, whose formatting Yjs tidies up.
        readRecord(scratch, account)
        const revert = revertForSender(scratch, update, Y.decodeUpdate(update).structs, readRecord(record, account), account, 0xfffffff0)
        sync(record, sender)
        if (revert !== null) Y.applyUpdate(sender, revert)
        expect(exactly(sender), `round ${round}`).toEqual(exactly(record))
      }
    }, fixed)
  })
})
