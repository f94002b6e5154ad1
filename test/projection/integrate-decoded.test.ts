// integrateDecoded (src/projection/integrate-decoded.ts) against Y.applyUpdate: the same checked update
// taken in by either leaves the same document, and the transaction emits the same update bytes (seeded).

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { integrateDecoded } from '../../src/projection/integrate-decoded.ts'
import { checkUpdate } from '../../src/server/update-check.ts'
import { chance, int, pick, withSeed, word, type Gen } from '../helpers/seed.ts'

/** One random edit of maps (root and nested), a text, and deletions, in one transaction of `doc`. */
const edit = (gen: Gen, doc: Y.Doc): void => {
  doc.transact(() => {
    for (let n = int(gen, 1, 4); n > 0; n--) {
      const fields = doc.getMap('fields')
      const text = doc.getText('memo:description')
      const notes = doc.getMap<Y.Map<string>>('notes')
      switch (int(gen, 0, 6)) {
        case 0: fields.set(pick(gen, ['a', 'b', 'c', 'd']), word(gen)); break
        case 1: doc.getMap('meta').set(pick(gen, ['modifiedby', 'modifiedon']), word(gen)); break
        case 2: text.insert(int(gen, 0, text.length), word(gen, 1, 6)); break
        case 3: if (text.length > 0) { const at = int(gen, 0, text.length - 1); text.delete(at, int(gen, 1, text.length - at)) } break
        case 4: { const m = new Y.Map<string>(); notes.set(`n${int(gen, 0, 3)}`, m); m.set('text', word(gen)) } break
        case 5: { const ids = [...notes.keys()]; if (ids.length > 0) notes.get(pick(gen, ids))?.set('text', word(gen)) } break
        case 6: { const keys = [...fields.keys()]; if (keys.length > 0) fields.delete(pick(gen, keys)) } break
      }
    }
  })
}

/** The update `doc` emits for `f`, or null. */
const emitted = (doc: Y.Doc, f: () => void): Uint8Array | null => {
  let out: Uint8Array | null = null
  const on = (u: Uint8Array): void => { out = u }
  doc.on('update', on)
  f()
  doc.off('update', on)
  return out
}

describe('integrateDecoded', () => {
  it('leaves the document and the transaction\'s update as Y.applyUpdate does (seeded)', () => withSeed(gen => {
    for (let round = 0; round < 40; round++) {
      // A record edited by several writers; a device that went on from some point of it (concurrent edits).
      const server = new Y.Doc()
      const writers = Array.from({ length: int(gen, 1, 3) }, () => new Y.Doc())
      for (let i = int(gen, 1, 12); i > 0; i--) {
        const w = pick(gen, writers)
        Y.applyUpdate(w, Y.encodeStateAsUpdate(server))
        edit(gen, w)
        Y.applyUpdate(server, Y.encodeStateAsUpdate(w, Y.encodeStateVector(server)))
      }
      const device = new Y.Doc()
      Y.applyUpdate(device, Y.encodeStateAsUpdate(server))
      for (let i = int(gen, 0, 4); i > 0; i--) edit(gen, pick(gen, writers))
      for (const w of writers) if (chance(gen, 0.5)) Y.applyUpdate(server, Y.encodeStateAsUpdate(w, Y.encodeStateVector(server)))
      const sv = Y.encodeStateVector(device)
      for (let i = int(gen, 1, 5); i > 0; i--) edit(gen, device)
      // Sent as a sync step 2 would (everything the server may lack, some of it known already) or as the delta.
      const update = chance(gen, 0.5) ? Y.encodeStateAsUpdate(device, Y.encodeStateVector(server)) : Y.encodeStateAsUpdate(device, sv)
      const check = checkUpdate(server, update)
      if (!check.ok) continue
      const a = new Y.Doc({ gc: true })
      const b = new Y.Doc({ gc: true })
      Y.applyUpdate(a, Y.encodeStateAsUpdate(server))
      Y.applyUpdate(b, Y.encodeStateAsUpdate(server))
      const fromBytes = emitted(a, () => a.transact(() => Y.applyUpdate(a, update)))
      const decoded = checkUpdate(b, update)
      if (!decoded.ok) throw new Error('checked once, refused the second time')
      const fromDecoded = emitted(b, () => b.transact(tr => integrateDecoded(tr, decoded.decoded)))
      expect(fromDecoded).toEqual(fromBytes)
      expect(Y.encodeStateAsUpdate(b)).toEqual(Y.encodeStateAsUpdate(a))
      expect(b.getText('memo:description').toString()).toBe(a.getText('memo:description').toString())
      expect(b.getMap('fields').toJSON()).toEqual(a.getMap('fields').toJSON())
      expect(b.getMap('notes').toJSON()).toEqual(a.getMap('notes').toJSON())
      expect(b.store.pendingStructs).toBeNull()
      expect(b.store.pendingDs).toBeNull()
    }
  }))
})
