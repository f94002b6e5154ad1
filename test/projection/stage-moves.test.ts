// A refused stage move's reason code comes from what was wrong (no flow, no such stage: invalid value;
// a required field left empty: the flow's business rule), never from the words of its message.

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { diff } from '../../src/docs/diff.ts'
import { emptyState, type RecordState } from '../../src/docs/record.ts'
import { ModelIndex } from '../../src/authz/decide.ts'
import { demoModel } from '../../src/server/demo.ts'
import { decideChanges, type DecideContext } from '../../src/projection/decide-changes.ts'
import { stageMoveDenial, type ProcessFlow } from '../../src/metadata/process-flows.ts'
import { Reason } from '../../src/protocol/receipts.ts'

const catalog = buildCatalog()
const ix = new ModelIndex(demoModel(catalog))
const NOW = '2026-11-27T12:00:00.000Z'
// A stage whose name holds the words an older check matched on ("not a stage").
const DRAFT = 'Draft (not a stage to skip)'
const flow: ProcessFlow = { entity: 'lead', name: 'Lead flow', stages: [{ name: DRAFT, required: ['subject'] }, { name: 'Done', required: [] }] }

const lead = (fields: RecordState['fields'], activestage: string, stamp = false): RecordState => ({
  ...emptyState(),
  meta: {
    entity: 'lead', id: 'r1', ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', createdby: 'u-alice', createdon: NOW, statecode: 0, activestage,
    ...(stamp ? { modifiedby: 'u-alice', modifiedon: NOW } : {})
  },
  fields
})
const ctx: DecideContext = { entity: catalog.entities.get('lead')!, record: 'lead/r1', userId: 'u-alice', ix, now: NOW, flows: [flow] }

/** The verdict on the stage of moving a lead from `from` to `to`. */
const move = (fields: RecordState['fields'], from: string, to: string, c: DecideContext = ctx) => {
  const before = lead(fields, from)
  const after = lead(fields, to, true)
  return decideChanges(c, before, after, diff(before, after)).find(v => v.change.kind === 'meta-set' && v.change.key === 'activestage')
}

describe('stage moves', () => {
  it('refuse a move past an empty required field as the flow\'s business rule, whatever the stage is called', () => {
    expect(move({}, DRAFT, 'Done')).toMatchObject({ allowed: false, reason: Reason.businessRule, message: `stage ${DRAFT} needs subject before moving on` })
    expect(move({ subject: 's' }, DRAFT, 'Done')).toMatchObject({ allowed: true })
  })

  it('refuse a stage that is not one of the flow, or a record without a flow, as an invalid value', () => {
    expect(move({ subject: 's' }, DRAFT, 'Nowhere')).toMatchObject({ allowed: false, reason: Reason.invalidValue, message: '"Nowhere" is not a stage of Lead flow' })
    expect(move({ subject: 's' }, DRAFT, 'Done', { ...ctx, flows: [] })).toMatchObject({ allowed: false, reason: Reason.invalidValue, message: 'lead has no process flow' })
  })

  it('are judged by one function the device SDK uses too', () => {
    expect(stageMoveDenial('lead', flow, DRAFT, 'Done', {})).toEqual({ reason: Reason.businessRule, message: `stage ${DRAFT} needs subject before moving on` })
    expect(stageMoveDenial('lead', flow, 'Done', DRAFT, {})).toBeNull() // back is always allowed
    expect(stageMoveDenial('lead', undefined, DRAFT, 'Done', {})).toEqual({ reason: Reason.invalidValue, message: 'lead has no process flow' })
  })
})
