import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import type { AttributeDef, EntityDef } from '../../src/docs/catalog-types.ts'
import {
  addNote, clearField, createRecord, deleteRecord, editNote, editText, readRecord, removeNote, setField, type Actor
} from '../../src/docs/record.ts'
import { applyChanges, applyChangesToDoc, diff, invertAll } from '../../src/docs/diff.ts'
import type { FieldValue } from '../../src/docs/values.ts'
import { asRecordId } from '../../src/ids.ts'
import { chance, int, pick, withSeed, word, type Gen } from '../helpers/seed.ts'

const catalog = buildCatalog()
const entities = [...catalog.entities.values()]

/** A random value that fits `attr`. */
export const randomValue = (gen: Gen, attr: AttributeDef): FieldValue => {
  switch (attr.type) {
    case 'text': case 'memo': {
      const max = Math.min(20, attr.maxLength ?? 20)
      let w = word(gen, 0, max)
      while (w.length > max) w = word(gen, 0, max) // an emoji is two UTF-16 units
      return w
    }
    case 'whole': return int(gen, Math.max(attr.min ?? 0, -1000), Math.min(attr.max ?? 1000, 1000))
    case 'decimal': return int(gen, 0, 1_000_000) / 10_000
    case 'money': return int(gen, 0, 1_000_000) / 100
    case 'boolean': return chance(gen, 0.5)
    case 'date': return `20${int(gen, 10, 30)}-0${int(gen, 1, 9)}-1${int(gen, 0, 9)}`
    case 'datetime': return `20${int(gen, 10, 30)}-0${int(gen, 1, 9)}-1${int(gen, 0, 9)}T1${int(gen, 0, 9)}:3${int(gen, 0, 9)}:00.000Z`
    case 'optionset': return pick(gen, attr.options ?? []).value
    case 'lookup': return `${pick(gen, attr.targets ?? [])}/r${int(gen, 1, 50)}`
  }
}

const actor = (gen: Gen): Actor => ({ by: `u${int(gen, 1, 5)}`, at: new Date(1_700_000_000_000 + int(gen, 0, 1e9)).toISOString() })

/** One random edit through the record API (skipped when it does not apply to the record's state). */
const randomEdit = (gen: Gen, doc: Y.Doc, entity: EntityDef): void => {
  const state = readRecord(doc, entity)
  if (state.meta.entity === undefined) {
    createRecord(doc, entity, { id: asRecordId(`r${int(gen, 1, 99)}`), ownerid: 'systemuser/u1', owningbusinessunit: 'bu1' }, actor(gen))
    return
  }
  if (state.meta.deletedon !== undefined) return
  const attr = pick(gen, entity.attributes)
  const noteIds = Object.keys(state.notes)
  switch (int(gen, 0, 9)) {
    case 0: case 1: case 2: setField(doc, entity, attr.name, randomValue(gen, attr), actor(gen)); break
    case 3: clearField(doc, entity, attr.name, actor(gen)); break
    case 4: {
      const memo = entity.attributes.filter(a => a.type === 'memo')
      if (memo.length === 0) break
      const m = pick(gen, memo)
      const len = (state.texts[m.name] ?? '').length
      const index = int(gen, 0, len)
      editText(doc, entity, m.name, index, int(gen, 0, len - index), word(gen), actor(gen))
      break
    }
    case 5: addNote(doc, entity, `n${int(gen, 1, 1e6)}`, { subject: word(gen), text: word(gen) }, actor(gen)); break
    case 6: if (noteIds.length > 0) editNote(doc, entity, pick(gen, noteIds), { text: word(gen) }, actor(gen)); break
    case 7: if (noteIds.length > 0) removeNote(doc, entity, pick(gen, noteIds), actor(gen)); break
    case 8: if (chance(gen, 0.2)) deleteRecord(doc, entity, actor(gen)); break
    default: setField(doc, entity, attr.name, randomValue(gen, attr), actor(gen))
  }
}

const cloneDoc = (doc: Y.Doc): Y.Doc => {
  const c = new Y.Doc()
  Y.applyUpdate(c, Y.encodeStateAsUpdate(doc))
  return c
}

describe('record diff', () => {
  it('applying diff(before, after) to before gives after, on plain states and on documents (seeded)', async () => {
    await withSeed(gen => {
      for (let round = 0; round < 300; round++) {
        const entity = pick(gen, entities)
        const doc = new Y.Doc()
        for (let i = int(gen, 0, 8); i > 0; i--) randomEdit(gen, doc, entity)
        const beforeDoc = cloneDoc(doc)
        const before = readRecord(doc, entity)
        for (let i = int(gen, 1, 8); i > 0; i--) randomEdit(gen, doc, entity)
        const after = readRecord(doc, entity)
        const changes = diff(before, after)
        expect(applyChanges(before, changes)).toEqual(after)
        applyChangesToDoc(beforeDoc, changes)
        expect(readRecord(beforeDoc, entity)).toEqual(after)
        // The inverse takes the after state back, which is what a compensation relies on.
        const undo = invertAll(changes)
        expect(applyChanges(after, undo)).toEqual(before)
        applyChangesToDoc(doc, undo)
        expect(readRecord(doc, entity)).toEqual(before)
        if (JSON.stringify(before) === JSON.stringify(after)) expect(changes).toEqual([])
      }
    })
  })

  it('names each kind of change', () => {
    const account = catalog.entities.get('account')!
    const doc = new Y.Doc()
    const a: Actor = { by: 'u1', at: '2026-01-01T00:00:00.000Z' }
    const empty = readRecord(doc, account)
    createRecord(doc, account, { id: asRecordId('a1'), ownerid: 'systemuser/u1', owningbusinessunit: 'bu1', values: { name: 'Contoso' } }, a)
    const created = readRecord(doc, account)
    expect(diff(empty, created).map(c => c.kind)).toEqual(expect.arrayContaining(['created', 'field-set', 'meta-set']))
    setField(doc, account, 'description', 'hello world', a)
    const s1 = readRecord(doc, account)
    editText(doc, account, 'description', 6, 5, 'there', a)
    expect(diff(s1, readRecord(doc, account)).filter(c => c.kind === 'text-edited'))
      .toEqual([{ kind: 'text-edited', field: 'description', index: 6, deleteCount: 5, insert: 'there', removed: 'world' }])
    const s2 = readRecord(doc, account)
    clearField(doc, account, 'name', a)
    expect(diff(s2, readRecord(doc, account)).find(c => c.kind === 'field-cleared')).toEqual({ kind: 'field-cleared', field: 'name', old: 'Contoso' })
    const s3 = readRecord(doc, account)
    deleteRecord(doc, account, { by: 'u2', at: '2026-01-02T00:00:00.000Z' })
    expect(diff(s3, readRecord(doc, account))).toMatchObject([{ kind: 'deleted', by: 'u2', on: '2026-01-02T00:00:00.000Z' }])
  })

  it('a delete wins over a concurrent edit on every replica', () => {
    const account = catalog.entities.get('account')!
    const a = new Y.Doc()
    createRecord(a, account, { id: asRecordId('a1'), ownerid: 'systemuser/u1', owningbusinessunit: 'bu1' }, { by: 'u1', at: '2026-01-01T00:00:00.000Z' })
    const b = cloneDoc(a)
    deleteRecord(a, account, { by: 'u1', at: '2026-01-02T00:00:00.000Z' })
    setField(b, account, 'name', 'renamed', { by: 'u2', at: '2026-01-03T00:00:00.000Z' })
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b))
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    expect(readRecord(a, account)).toEqual(readRecord(b, account))
    expect(readRecord(a, account).meta.deletedon).toBe('2026-01-02T00:00:00.000Z')
  })
})
