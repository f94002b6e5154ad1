// A record's state read from a whole-state update without a document equals the document's own reading,
// whatever the writers did (seeded: concurrent writers, clears, deletes, collected and kept deletions);
// an update with texts or notes is left to a document (null).

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, clearField, createRecord, deleteRecord, editText, readRecord, setField } from '../../src/docs/record.ts'
import { stateOfUpdates, stateOfWholeUpdate } from '../../src/docs/state-of-update.ts'
import { asRecordId } from '../../src/ids.ts'
import { chance, int, pick, withSeed, word } from '../helpers/seed.ts'

const account = buildCatalog().entities.get('account')!
const SCALARS = account.attributes.filter(a => a.type === 'text').map(a => a.name).slice(0, 6)
const AT = '2026-11-28T09:00:00.000Z'
const NO_NOTES: ReadonlySet<string> = new Set()

const readDoc = (update: Uint8Array): ReturnType<typeof readRecord> => {
  const d = new Y.Doc()
  Y.applyUpdate(d, update)
  return readRecord(d, undefined, NO_NOTES)
}

describe('stateOfWholeUpdate', () => {
  it('reads what a document made of the update reads, for records of map entries (seeded)', () => withSeed(gen => {
    let read = 0
    let textsRead = 0
    let partsRead = 0
    for (let round = 0; round < 80; round++) {
      const origin = new Y.Doc()
      createRecord(origin, account, { id: asRecordId(`a${round}`), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: word(gen, 1) } }, { by: 'u-alice', at: AT })
      const writers = Array.from({ length: int(gen, 1, 4) }, () => { const d = new Y.Doc(); Y.applyUpdate(d, Y.encodeStateAsUpdate(origin)); return d })
      let richer = false
      let texts = false
      for (let step = 0; step < int(gen, 0, 40); step++) {
        const w = pick(gen, writers)
        const roll = int(gen, 0, 99)
        if (roll < 70) setField(w, account, pick(gen, SCALARS), word(gen, 1), { by: 'u-alice', at: AT })
        else if (roll < 85) clearField(w, account, pick(gen, SCALARS), { by: 'u-alice', at: AT })
        else if (roll < 88) { deleteRecord(w, account, { by: 'u-alice', at: AT }); break }
        else if (roll < 94) {
          // typing in the description: at its end (read without a document when one writer did it all), or anywhere
          const t = w.getText('memo:description')
          const at = chance(gen, 0.5) ? t.length : int(gen, 0, t.length)
          const del = chance(gen, 0.2) ? int(gen, 0, t.length - at) : 0
          editText(w, account, 'description', at, del, word(gen, 1), { by: 'u-alice', at: AT })
          texts = true
        }
        else if (roll < 97) { addNote(w, account, `n${step}`, { subject: word(gen, 1), text: word(gen) }, { by: 'u-alice', at: AT }); richer = true }
        // now and then, writers exchange what they have (else they stay concurrent)
        if (chance(gen, 0.3)) { const v = pick(gen, writers); Y.applyUpdate(v, Y.encodeStateAsUpdate(w, Y.encodeStateVector(v))) }
      }
      // the server's copy: everything merged, deleted content collected (as a device receives it) or kept
      const server = new Y.Doc({ gc: chance(gen, 0.7) })
      // what a device holding the record stores: the server's updates one by one, as they came
      const stored: Uint8Array[] = []
      server.on('update', (u: Uint8Array) => { stored.push(u) })
      for (const w of writers) Y.applyUpdate(server, Y.encodeStateAsUpdate(w))
      const update = Y.encodeStateAsUpdate(server)
      const fromParts = stateOfUpdates(stored)
      if (fromParts !== null) { partsRead++; expect(fromParts).toEqual(readDoc(update)) }
      if (!richer && !texts && stored.length > 1) expect(stateOfUpdates([...stored, stored[0]]), 'a struct twice: left to a document').toBeNull()
      const fast = stateOfWholeUpdate(update)
      if (fast !== null) read++
      if (fast !== null && texts && Object.keys(fast.texts).length > 0) textsRead++
      if (richer || texts) {
        if (fast !== null) expect(fast).toEqual(readDoc(update))
      } else {
        expect(fast, `round ${round}: an update of map entries only is read without a document`).not.toBeNull()
        expect(fast).toEqual(readDoc(update))
      }
    }
    expect(read).toBeGreaterThan(20)
    expect(textsRead).toBeGreaterThan(2)
    expect(partsRead).toBeGreaterThan(20)
  }))

  it('leaves texts, notes and list items to a document', () => {
    const d = new Y.Doc()
    createRecord(d, account, { id: asRecordId('a1'), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: 'x' } }, { by: 'u-alice', at: AT })
    expect(stateOfWholeUpdate(Y.encodeStateAsUpdate(d))).toEqual(readDoc(Y.encodeStateAsUpdate(d)))
    // a description typed in order is read; one a second writer typed into is left to a document
    const typed = new Y.Doc(); Y.applyUpdate(typed, Y.encodeStateAsUpdate(d))
    editText(typed, account, 'description', 0, 0, 'hello', { by: 'u-alice', at: AT })
    editText(typed, account, 'description', 5, 0, ' world', { by: 'u-alice', at: AT })
    expect(stateOfWholeUpdate(Y.encodeStateAsUpdate(typed))?.texts).toEqual({ description: 'hello world' })
    const withText = new Y.Doc(); Y.applyUpdate(withText, Y.encodeStateAsUpdate(typed))
    editText(withText, account, 'description', 0, 0, 'oh, ', { by: 'u-bob', at: AT })
    expect(readDoc(Y.encodeStateAsUpdate(withText)).texts).toEqual({ description: 'oh, hello world' })
    expect(stateOfWholeUpdate(Y.encodeStateAsUpdate(withText))).toBeNull()
    const withNote = new Y.Doc(); Y.applyUpdate(withNote, Y.encodeStateAsUpdate(d))
    addNote(withNote, account, 'n1', { subject: 's', text: 't' }, { by: 'u-alice', at: AT })
    expect(stateOfWholeUpdate(Y.encodeStateAsUpdate(withNote))).toBeNull()
    const withList = new Y.Doc(); Y.applyUpdate(withList, Y.encodeStateAsUpdate(d))
    withList.getArray('meta').insert(0, ['x'])
    expect(stateOfWholeUpdate(Y.encodeStateAsUpdate(withList))).toBeNull()
    expect(() => stateOfWholeUpdate(new Uint8Array([1, 2, 3]))).toThrow()
  })

  it('reads strings as a document does: around the length built from bytes, non-ASCII, a leading BOM', () => {
    const values = ['', 'a', 'Oslo', 'abcdefghijk', 'abcdefghijkl', 'abcdefghijklm', 'Tromsø', 'ø', '\u{1F600}x', '\uFEFFname', '\uFEFF', 'x\u0080', 'Customer since 2005. Prefers visits on Tuesdays.']
    for (const [i, name] of values.entries()) {
      const d = new Y.Doc()
      createRecord(d, account, { id: asRecordId(`s${i}`), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name, address1_city: values[values.length - 1 - i] } }, { by: 'u-alice', at: AT })
      const update = Y.encodeStateAsUpdate(d)
      expect(stateOfWholeUpdate(update)).toEqual(readDoc(update))
    }
  })

  it('reads names right when one update holds other names than the one before, in another order', () => {
    const shapes: Record<string, string>[] = [
      { name: 'a', telephone1: '1' }, { telephone1: '2', name: 'b', address1_city: 'c' }, { address1_city: 'd' }, { name: 'e', telephone1: '3' }
    ]
    const updates = shapes.map((values, i) => {
      const d = new Y.Doc()
      createRecord(d, account, { id: asRecordId(`n${i}`), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values }, { by: 'u-alice', at: AT })
      return Y.encodeStateAsUpdate(d)
    })
    for (const u of [...updates, ...updates.reverse()]) expect(stateOfWholeUpdate(u)).toEqual(readDoc(u))
  })

  it('leaves a text whose item is only partly deleted to a document (an update merged without a document is not split)', () => {
    const d = new Y.Doc()
    createRecord(d, account, { id: asRecordId('a2'), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: 'x' } }, { by: 'u-alice', at: AT })
    const typed = Y.encodeStateAsUpdate(d)
    const before = Y.encodeStateVector(d)
    editText(d, account, 'description', 0, 0, 'hello world', { by: 'u-alice', at: AT })
    const insert = Y.encodeStateAsUpdate(d, before)
    const middle = Y.encodeStateVector(d)
    editText(d, account, 'description', 5, 6, '', { by: 'u-alice', at: AT })
    const removal = Y.encodeStateAsUpdate(d, middle)
    const merged = Y.mergeUpdates([typed, insert, removal])
    expect(readDoc(merged).texts).toEqual({ description: 'hello' })
    const fast = stateOfWholeUpdate(merged)
    if (fast !== null) expect(fast).toEqual(readDoc(merged))
  })
})
