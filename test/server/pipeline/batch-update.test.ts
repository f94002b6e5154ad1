// A batch's update encoded from its document (src/server/pipeline/batch-update.ts) against merging the
// batch's updates: seeded batches of writers setting, overwriting and deleting map entries, editing texts
// (content inserted and deleted within the batch included), applied to a copy of the document as it was
// before the batch, must give the same document.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { BatchUpdate } from '../../../src/server/pipeline/batch-update.ts'
import { chance, int, pick, withSeed, word, type Gen } from '../../helpers/seed.ts'

const KEYS = ['a', 'b', 'c', 'd']

/** One random change on `d`: a map entry set or deleted, or a text edited. */
const change = (gen: Gen, d: Y.Doc): void => {
  const m = d.getMap<unknown>('fields')
  const t = d.getText('memo')
  const k = int(gen, 0, 4)
  if (k <= 1) m.set(pick(gen, KEYS), chance(gen, 0.5) ? word(gen) : int(gen, 0, 100))
  else if (k === 2) { const key = pick(gen, KEYS); if (m.has(key)) m.delete(key) } else if (k === 3 || t.length === 0) t.insert(int(gen, 0, t.length), word(gen, 1, 6))
  else { const at = int(gen, 0, t.length - 1); t.delete(at, int(gen, 1, Math.min(4, t.length - at))) }
}

/** A copy of `d` (its whole state) under a fresh client id. */
const copyOf = (d: Y.Doc): Y.Doc => { const c = new Y.Doc(); Y.applyUpdate(c, Y.encodeStateAsUpdate(d)); return c }

const sameDocs = (a: Y.Doc, b: Y.Doc): void => {
  expect(a.getMap('fields').toJSON()).toEqual(b.getMap('fields').toJSON())
  expect(a.getText('memo').toString()).toBe(b.getText('memo').toString())
  expect(Y.encodeStateVector(a)).toEqual(Y.encodeStateVector(b))
  expect(Y.equalDeleteSets(Y.createDeleteSetFromStructStore(a.store), Y.createDeleteSetFromStructStore(b.store))).toBe(true)
}

describe('a batch\'s update encoded from its document', () => {
  it('equals the batch\'s updates merged (seeded)', () => withSeed(gen => {
    for (let run = 0; run < 60; run++) {
      // The record as committed: a few writers' history.
      const record = new Y.Doc()
      const writers = Array.from({ length: int(gen, 1, 4) }, () => copyOf(record))
      for (let i = int(gen, 0, 30); i > 0; i--) {
        const w = pick(gen, writers)
        const before = Y.encodeStateVector(w)
        change(gen, w)
        Y.applyUpdate(record, Y.encodeStateAsUpdate(w, before))
      }
      const committed = copyOf(record)
      // The batch: each writer's update (made on its own copy, concurrent with the others'), and the
      // record's own writes between them, each its own transaction.
      const taken = new BatchUpdate(record)
      const updates: Uint8Array[] = []
      const on = (u: Uint8Array): void => { updates.push(u) }
      record.on('update', on)
      for (let i = int(gen, 1, 8); i > 0; i--) {
        if (chance(gen, 0.2)) { change(gen, record); continue }
        const w = pick(gen, writers)
        const before = Y.encodeStateVector(w)
        for (let j = int(gen, 1, 3); j > 0; j--) change(gen, w)
        Y.applyUpdate(record, Y.encodeStateAsUpdate(w, before))
      }
      record.off('update', on)
      const encoded = taken.finish()
      if (updates.length === 0) { expect(encoded).toBeNull(); continue }
      const viaEncoded = copyOf(committed)
      Y.applyUpdate(viaEncoded, encoded!)
      const viaMerged = copyOf(committed)
      Y.applyUpdate(viaMerged, Y.mergeUpdates(updates))
      sameDocs(viaEncoded, record)
      sameDocs(viaMerged, record)
      // the same clock ranges as the merged updates: nothing from before the batch
      const [a, b] = [Y.parseUpdateMeta(encoded!), Y.parseUpdateMeta(Y.mergeUpdates(updates))]
      expect([a.from, a.to]).toEqual([b.from, b.to])
    }
  }))

  it('says nothing for transactions that changed nothing, and watches nothing once stopped', () => {
    const d = new Y.Doc()
    const taken = new BatchUpdate(d)
    d.transact(() => {})
    expect(taken.finish()).toBeNull()
    d.getMap('fields').set('a', 1)
    expect(taken.finish()).toBeNull()
    const stopped = new BatchUpdate(d)
    stopped.stop()
    d.getMap('fields').set('a', 2)
    expect(stopped.finish()).toBeNull()
  })
})
