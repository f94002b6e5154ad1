// A business process flow's stage moves forward only with the required fields of every stage it leaves
// (DESIGN, "Rules the system must follow"). The gate must look at the record as it is kept, not at what
// the update tried: before, a device could send, in one update, a required field's value that the server
// drops (a lookup to a record it may not read, a save that breaks a business rule) together with the
// stage move, and the move stood while the field was reverted: a stage passed without its required field.

import { describe, expect, it } from 'vitest'
import type * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { clearField, createRecord, META, setField, stampRecord } from '../../src/docs/record.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { docOf, idsOwnedBy, receiptsOn, startServer } from './support.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import type { RecordId } from '../../src/ids.ts'

const catalog = buildCatalog()
const opportunity = catalog.entities.get('opportunity')!
const lead = catalog.entities.get('lead')!
const cleanups = useCleanups()
const AT = '2026-11-27T12:00:00.000Z'
const ALICE = { by: 'u-alice', at: AT }

const stageOf = (s: TestServer, entity: string, id: string): unknown => s.projection.row(entity, id)?.activestage
const setStage = (doc: Y.Doc, stage: string): void => doc.transact(() => { doc.getMap(META).set('activestage', stage); stampRecord(doc, ALICE) })

describe('a stage moves forward only with its required fields as kept', () => {
  it('a required lookup the server drops (a record the user may not read) does not carry the stage move with it', async () => {
    const s = await startServer(cleanups)
    const id = idsOwnedBy(s, 'opportunity', 'u-alice')[0]
    const name = `opportunity/${id}`
    const doc = await docOf(cleanups, s, name, 'alice')
    // Legitimately at Qualify, whose required parentaccountid is empty.
    doc.transact(() => { clearField(doc, opportunity, 'parentaccountid', ALICE); setStage(doc, 'Qualify') })
    await until(() => stageOf(s, 'opportunity', id) === 'Qualify' && s.projection.row('opportunity', id)?.parentaccountid == null, 'at Qualify without an account')
    // One update: a lookup the server refuses, and the move past the stage that requires it.
    doc.transact(() => { setField(doc, opportunity, 'parentaccountid', 'account/no-such-account', ALICE); setStage(doc, 'Develop') })
    await until(() => receiptsOn(s, 'u-alice', name).some(r => r.field === 'parentaccountid'), 'the lookup refused')
    expect(s.projection.row('opportunity', id)?.parentaccountid ?? null).toBeNull()
    expect(stageOf(s, 'opportunity', id)).toBe('Qualify')
  })

  it('required fields whose save breaks a business rule do not carry the stage move with them', async () => {
    const s = await startServer(cleanups)
    const id = 'stage-gate-lead'
    const name = `lead/${id}`
    const doc = await docOf(cleanups, s, name, 'alice')
    createRecord(doc, lead, { id: id as RecordId, ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', values: { lastname: 'Gate' } }, ALICE)
    await until(() => s.projection.row('lead', id) !== undefined, 'the lead created')
    // Qualify needs subject and companyname; "Hot leads need a budget" refuses the save that sets them
    // (leadqualitycode 1 without a budgetamount), so the fields are dropped: the move must be too.
    doc.transact(() => {
      setField(doc, lead, 'subject', 'A subject', ALICE)
      setField(doc, lead, 'companyname', 'A company', ALICE)
      setField(doc, lead, 'leadqualitycode', 1, ALICE)
      setStage(doc, 'Develop')
    })
    await until(() => receiptsOn(s, 'u-alice', name).some(r => r.reason === 'business-rule'), 'the save refused by the rule')
    expect(s.projection.row('lead', id)?.companyname ?? null).toBeNull()
    expect(stageOf(s, 'lead', id) ?? 'Qualify').toBe('Qualify')
  })
})
