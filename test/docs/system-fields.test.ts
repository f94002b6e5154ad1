import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, editNote, addNote, readRecord, setField, stampRecord } from '../../src/docs/record.ts'
import { diff, isStampChange } from '../../src/docs/diff.ts'
import { FILTER_SYSTEM_FIELDS, isStamp, LISTED_SYSTEM_FIELDS, META_KEYS, STAMP } from '../../src/docs/system-fields.ts'
import { SYSTEM_COLUMNS } from '../../src/projection/rows.ts'
import { indexEntry } from '../../src/client/field-index.ts'
import type { RecordId } from '../../src/ids.ts'

const account = buildCatalog().entities.get('account')!
const at = (minute: number): string => new Date(Date.UTC(2026, 10, 27, 12, minute)).toISOString()

describe('system fields', () => {
  it('that a filter names are projected columns (a profile filters rows) and metadata keys', () => {
    const columns = SYSTEM_COLUMNS.map(c => c.name)
    for (const f of FILTER_SYSTEM_FIELDS) expect(columns, f).toContain(f)
    for (const f of [...FILTER_SYSTEM_FIELDS, ...LISTED_SYSTEM_FIELDS, ...columns]) expect(META_KEYS, f).toContain(f)
    for (const f of LISTED_SYSTEM_FIELDS) expect(FILTER_SYSTEM_FIELDS, f).toContain(f)
  })

  it('are stamped by every save, and the stamps alone are recognised as stamps', () => {
    const doc = new Y.Doc()
    createRecord(doc, account, { id: 'a1' as RecordId, ownerid: 'systemuser/u1', owningbusinessunit: 'bu1' }, { by: 'u1', at: at(0) })
    const before = readRecord(doc)
    setField(doc, account, 'name', 'Contoso', { by: 'u2', at: at(1) })
    const after = readRecord(doc)
    expect([after.meta[STAMP.by], after.meta[STAMP.at]]).toEqual(['u2', at(1)])
    const changes = diff(before, after)
    expect(changes.filter(isStampChange).map(c => c.kind === 'meta-set' && c.key).sort()).toEqual(['modifiedby', 'modifiedon'])
    expect(changes.filter(c => !isStampChange(c)).map(c => c.kind)).toEqual(['field-set'])
    expect(META_KEYS.filter(isStamp)).toEqual(['modifiedby', 'modifiedon'])

    doc.transact(() => { doc.getMap('meta').set('activestage', 'develop'); stampRecord(doc, { by: 'u3', at: at(2) }) })
    expect(readRecord(doc).meta).toMatchObject({ activestage: 'develop', modifiedby: 'u3', modifiedon: at(2), createdby: 'u1', createdon: at(0) })

    addNote(doc, account, 'n1', { subject: 's', text: '' }, { by: 'u1', at: at(3) })
    editNote(doc, account, 'n1', { text: 't' }, { by: 'u1', at: at(4) })
    expect(readRecord(doc).notes.n1).toMatchObject({ createdon: at(3), modifiedby: 'u1', modifiedon: at(4) })
  })

  it('that a device lists come with a record\'s values', () => {
    const doc = new Y.Doc()
    createRecord(doc, account, { id: 'a1' as RecordId, ownerid: 'systemuser/u1', owningbusinessunit: 'bu1', values: { name: 'Contoso' } }, { by: 'u1', at: at(0) })
    const entry = indexEntry('account/a1', readRecord(doc))
    expect(entry?.values).toEqual({ name: 'Contoso', ownerid: 'systemuser/u1', owningbusinessunit: 'bu1', statecode: 0, createdon: at(0), modifiedon: at(0) })
  })
})
