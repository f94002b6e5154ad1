import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as prng from 'lib0/prng'
import { checkUpdate } from '../../src/server/update-check.ts'
import { int, pick, withSeed, word } from '../helpers/seed.ts'

/** A document with some history of map, text and nested-map edits, and the updates that built it. */
const history = (gen: prng.PRNG, steps: number): { doc: Y.Doc, updates: Uint8Array[] } => {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  for (let i = 0; i < steps; i++) {
    const fields = doc.getMap('fields')
    const text = doc.getText('memo:description')
    const notes = doc.getMap<Y.Map<string>>('notes')
    switch (int(gen, 0, 4)) {
      case 0: fields.set(pick(gen, ['a', 'b', 'c']), word(gen)); break
      case 1: text.insert(int(gen, 0, text.length), word(gen, 1, 6)); break
      case 2: if (text.length > 0) { const at = int(gen, 0, text.length - 1); text.delete(at, int(gen, 1, text.length - at)) } break
      case 3: { const m = new Y.Map<string>(); notes.set(`n${int(gen, 0, 5)}`, m); m.set('text', word(gen)) } break
      case 4: { const ids = [...notes.keys()]; if (ids.length > 0) notes.get(pick(gen, ids))?.set('text', word(gen)) } break
    }
  }
  return { doc, updates }
}

const fresh = (updates: Uint8Array[]): Y.Doc => {
  const d = new Y.Doc()
  for (const u of updates) Y.applyUpdate(d, u)
  return d
}

describe('update check', () => {
  it('accepts updates whose dependencies are known, and integrating them leaves nothing pending', async () => {
    await withSeed(gen => {
      for (let round = 0; round < 50; round++) {
        const { doc, updates } = history(gen, int(gen, 1, 30))
        const server = new Y.Doc()
        for (const u of updates) {
          expect(checkUpdate(server, u).ok).toBe(true)
          Y.applyUpdate(server, u)
          expect(server.store.pendingStructs).toBeNull()
          expect(server.store.pendingDs).toBeNull()
        }
        expect(Y.encodeStateAsUpdate(server)).toEqual(Y.encodeStateAsUpdate(doc))
      }
    })
  })

  it('refuses an update that depends on one the server has not seen', async () => {
    await withSeed(gen => {
      let refused = 0
      for (let round = 0; round < 50; round++) {
        const { updates } = history(gen, int(gen, 3, 30))
        // Only an update that adds content moves the writer's clock; a pure deletion depends on nothing later.
        const withStructs = updates.map((u, i) => [u, i] as const).filter(([u, i]) => i < updates.length - 1 && Y.decodeUpdate(u).structs.length > 0)
        if (withStructs.length === 0) { refused++; continue }
        const skip = pick(gen, withStructs)[1]
        const server = fresh(updates.slice(0, skip))
        const later = updates.slice(skip + 1)
        // The writer's next update that adds content is never integrable without the skipped one.
        const first = later.find(u => Y.decodeUpdate(u).structs.length > 0)
        if (first === undefined) { refused++; continue }
        const check = checkUpdate(server, first)
        expect(check.ok).toBe(false)
        if (!check.ok) expect(check.problem, check.message).toBe('missing-dependencies')
        refused++
        // Once the missing update arrives, everything applies with nothing pending.
        Y.applyUpdate(server, updates[skip])
        for (const u of later) { expect(checkUpdate(server, u).ok).toBe(true); Y.applyUpdate(server, u) }
        expect(server.store.pendingDs).toBeNull()
        expect(server.store.pendingStructs).toBeNull()
      }
      expect(refused).toBe(50)
    })
  })

  // 2009563259: a corrupted origin naming the item's own later clock made Yjs throw in getItemCleanEnd.
  // 1634212338: a value list of no values (a struct of length 0) made Yjs throw in the transaction's cleanup.
  it.each([undefined, 2009563259, 1634212338])('never throws on corrupted or truncated bytes, and what it lets through integrates with nothing pending (seed %s)', async (fixed) => {
    await withSeed(gen => {
      let accepted = 0
      let refused = 0
      for (let round = 0; round < 400; round++) {
        const { updates } = history(gen, int(gen, 2, 20))
        const cut = int(gen, 0, updates.length - 1)
        const base = updates.slice(0, cut)
        const incoming = Y.mergeUpdates(updates.slice(cut))
        const bytes = incoming.slice()
        if (prng.bool(gen)) {
          for (let k = int(gen, 1, 3); k > 0; k--) bytes[int(gen, 0, bytes.length - 1)] = int(gen, 0, 255)
        }
        const view = prng.bool(gen) ? bytes : bytes.slice(0, int(gen, 0, bytes.length))
        const server = fresh(base)
        const check = checkUpdate(server, view)
        if (!check.ok) { refused++; continue }
        accepted++
        Y.applyUpdate(server, view)
        expect(server.store.pendingStructs).toBeNull()
        expect(server.store.pendingDs).toBeNull()
      }
      expect(refused).toBeGreaterThan(0)
      expect(accepted).toBeGreaterThan(0)
    }, fixed)
  })
})
