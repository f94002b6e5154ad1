// An update's decision reads only the memo texts it touches, and those the entity's business rules name:
// a rule that requires a text is still decided on the text's real value when an update touches other fields.

import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord, editText, setField } from '../../src/docs/record.ts'
import { ModelIndex } from '../../src/authz/decide.ts'
import { demoModel } from '../../src/server/demo.ts'
import { parseMetadata } from '../../src/metadata/metadata.ts'
import { projectUpdate, type ProjectContext } from '../../src/projection/project.ts'
import { Reason } from '../../src/protocol/receipts.ts'
import { asRecordId } from '../../src/ids.ts'

const catalog = buildCatalog()
const account = catalog.entities.get('account')!
const ix = new ModelIndex(demoModel(catalog))
const NOW = '2026-11-27T12:00:00.000Z'
const actor = { by: 'u-alice', at: NOW }
const { businessRules: rules } = parseMetadata('rules.json', JSON.stringify({
  businessRules: [{ entity: 'account', name: 'A description is required', condition: { field: 'name', op: 'not-null' }, actions: [{ type: 'set-required', field: 'description', required: true }] }]
}), catalog)

const ctx = (): ProjectContext => ({ entity: account, record: 'account/m1', userId: 'u-alice', ix, now: NOW, rules, isServerClient: () => false })

/** A server copy of an account whose description is `text`, and the update a device makes on it. */
const setup = (text: string, change: (d: Y.Doc) => void): { server: Y.Doc, update: Uint8Array } => {
  const device = new Y.Doc()
  createRecord(device, account, { id: asRecordId('m1'), ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { name: 'Memo Ltd' } }, actor)
  if (text !== '') editText(device, account, 'description', 0, 0, text, actor)
  const server = new Y.Doc()
  Y.applyUpdate(server, Y.encodeStateAsUpdate(device))
  const sv = Y.encodeStateVector(device)
  change(device)
  return { server, update: Y.encodeStateAsUpdate(device, sv) }
}

describe('memo texts an update does not touch', () => {
  it('are read when a business rule names them: a required description that is there lets a phone change through', () => {
    const { server, update } = setup('a long description', d => setField(d, account, 'telephone1', '+47 1', actor))
    const r = projectUpdate(server, update, ctx(), null, NOW)
    expect(r.receipts).toEqual([])
    expect(server.getMap('fields').get('telephone1')).toBe('+47 1')
  })

  it('and the rule still refuses a save while the required description is empty', () => {
    const { server, update } = setup('', d => setField(d, account, 'telephone1', '+47 2', actor))
    const r = projectUpdate(server, update, ctx(), null, NOW)
    expect(r.receipts.map(x => x.reason)).toContain(Reason.businessRule)
  })

  it('are not read when no rule names them (the decision sees only what the update touches)', () => {
    const { server, update } = setup('untouched text', d => setField(d, account, 'telephone1', '+47 3', actor))
    const r = projectUpdate(server, update, { ...ctx(), rules: [] }, null, NOW)
    expect(r.receipts).toEqual([])
    expect(r.before.texts).toEqual({})
    expect(r.after.texts).toEqual({})
  })
})
