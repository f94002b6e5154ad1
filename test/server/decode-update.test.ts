// decodeUpdate (src/server/decode-update.ts) against Y.decodeUpdate: the same structs and deletions for
// updates of maps, texts (non-ASCII and long strings too) and notes, and the same failure for damaged
// bytes (seeded).

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { decodeUpdate } from '../../src/server/decode-update.ts'
import { chance, int, pick, withSeed, word, type Gen } from '../helpers/seed.ts'

const edit = (gen: Gen, doc: Y.Doc): void => {
  doc.transact(() => {
    for (let n = int(gen, 1, 4); n > 0; n--) {
      const fields = doc.getMap('fields')
      const text = doc.getText('memo:description')
      switch (int(gen, 0, 6)) {
        case 0: fields.set(pick(gen, ['a', 'b', 'é', 'long'.repeat(30)]), chance(gen, 0.2) ? 'x'.repeat(int(gen, 60, 70)) : word(gen)); break
        case 1: fields.set(pick(gen, ['n', 'f']), pick<unknown>(gen, [int(gen, 0, 1e6), -3, 1.5, true, false, null, { a: [1, 'b'] }]) as never); break
        case 2: text.insert(int(gen, 0, text.length), word(gen, 1, 6)); break
        case 3: if (text.length > 0) { const at = int(gen, 0, text.length - 1); text.delete(at, int(gen, 1, text.length - at)) } break
        case 4: { const m = new Y.Map<string>(); doc.getMap<Y.Map<string>>('notes').set(`n${int(gen, 0, 3)}`, m); m.set('text', word(gen)) } break
        case 5: { const keys = [...fields.keys()]; if (keys.length > 0) fields.delete(pick(gen, keys)) } break
        case 6: text.format(0, Math.min(1, text.length), { bold: true }); break
      }
    }
  })
}

const plainDs = (ds: ReturnType<typeof Y.decodeUpdate>['ds']): [number, { clock: number, len: number }[]][] =>
  [...ds.clients].map(([c, list]) => [c, list.map(d => ({ clock: d.clock, len: d.len }))])

const outcome = (f: () => ReturnType<typeof Y.decodeUpdate>): { ok: true, value: ReturnType<typeof Y.decodeUpdate> } | { ok: false } => {
  try { return { ok: true, value: f() } } catch { return { ok: false } }
}

describe('decodeUpdate', () => {
  it('gives what Y.decodeUpdate gives, and fails where it fails (seeded)', () => withSeed(gen => {
    for (let round = 0; round < 60; round++) {
      const docs = Array.from({ length: int(gen, 1, 3) }, () => new Y.Doc())
      const updates: Uint8Array[] = []
      for (const d of docs) d.on('update', (u: Uint8Array) => updates.push(u))
      for (let i = int(gen, 1, 10); i > 0; i--) {
        const d = pick(gen, docs)
        edit(gen, d)
        for (const o of docs) if (o !== d && chance(gen, 0.5)) Y.applyUpdate(o, Y.encodeStateAsUpdate(d))
      }
      const whole = Y.encodeStateAsUpdate(pick(gen, docs))
      for (const u of [...updates, whole]) {
        const ours = decodeUpdate(u)
        const theirs = Y.decodeUpdate(u)
        expect(ours.structs).toStrictEqual(theirs.structs)
        expect(plainDs(ours.ds)).toEqual(plainDs(theirs.ds))
        // Damaged: a byte changed, or the end cut off.
        const bad = u.slice(0, chance(gen, 0.5) ? u.length : int(gen, 0, u.length - 1))
        if (bad.length > 0 && chance(gen, 0.7)) bad[int(gen, 0, bad.length - 1)] = int(gen, 0, 255)
        const a = outcome(() => decodeUpdate(bad))
        const b = outcome(() => Y.decodeUpdate(bad))
        expect(a.ok).toBe(b.ok)
        if (a.ok && b.ok) {
          expect(a.value.structs).toStrictEqual(b.value.structs)
          expect(plainDs(a.value.ds)).toEqual(plainDs(b.value.ds))
        }
      }
    }
  }))
})
