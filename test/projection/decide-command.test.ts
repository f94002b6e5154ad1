import { describe, expect, it } from 'vitest'
import { decideCommand, type TrialPart } from '../../src/projection/decide-command.ts'
import { diff } from '../../src/docs/diff.ts'
import { emptyState, type RecordState } from '../../src/docs/record.ts'
import { DEFAULT_QUALIFICATION } from '../../src/docs/commands.ts'
import type { FieldValue } from '../../src/docs/values.ts'

const LEAD = 'lead/l1'
const LEAD_COMMANDS = ['create', 'read', 'update', 'delete', 'qualify', 'disqualify']

const record = (entity: string, id: string, statecode: number, fields: Record<string, FieldValue> = {}): RecordState => ({
  ...emptyState(), meta: { entity, id, ownerid: 'systemuser/u1', owningbusinessunit: 'bu1', statecode, createdby: 'u1' }, fields
})

const part = (name: string, before: RecordState, after: RecordState, denied: TrialPart['denied'] = null): TrialPart =>
  ({ record: name, entity: name.split('/')[0], before, after, changes: diff(before, after), denied })

const lead = (to = 1, before = 0, fields: Record<string, FieldValue> = {}): TrialPart =>
  part(LEAD, record('lead', 'l1', before), { ...record('lead', 'l1', to), fields })
const created = (name: string, fields: Record<string, FieldValue> = { originatingleadid: LEAD }): TrialPart =>
  part(name, emptyState(), record(name.split('/')[0], name.split('/')[1], 0, fields))

const decide = (parts: TrialPart[], command = 'qualify', commands = LEAD_COMMANDS) => decideCommand(command, commands, LEAD, parts, DEFAULT_QUALIFICATION)

describe('a command over several records is decided as a whole', () => {
  it('accepts a qualification that closes the lead and creates linked records', () => {
    expect(decide([lead(), created('account/a1'), created('contact/c1'), created('opportunity/o1')])).toEqual({ accepted: true })
    expect(decide([lead()])).toEqual({ accepted: true })
    expect(decide([lead(2)], 'disqualify')).toEqual({ accepted: true })
  })

  it('accepts a command sent again after its acknowledgement was lost: its parts change nothing any more', () => {
    const done = record('lead', 'l1', 1)
    const account = record('account', 'a1', 0, { originatingleadid: LEAD })
    expect(decide([part(LEAD, done, done), part('account/a1', account, account)])).toEqual({ accepted: true })
  })

  it('rejects, naming the part at fault and the reason', () => {
    expect(decide([lead()], 'qualify', ['read', 'update'])).toMatchObject({ accepted: false, record: LEAD, reason: 'command-not-offline' })
    expect(decide([created('account/a1')])).toMatchObject({ accepted: false, record: LEAD, message: /no part for its target/ })
    expect(decide([lead(1, 2)])).toMatchObject({ accepted: false, record: LEAD, reason: 'invalid-value', message: /no longer active \(statecode 2\)/ })
    expect(decide([lead(2)])).toMatchObject({ accepted: false, record: LEAD, message: /changes only the state.*statecode/ })
    expect(decide([lead(1, 0, { subject: 'sneaky' })])).toMatchObject({ accepted: false, record: LEAD, message: /not field-set/ })
    expect(decide([lead(), created('incident/i1')])).toMatchObject({ accepted: false, record: 'incident/i1', message: /does not create a incident/ })
    expect(decide([lead(), created('account/a1'), created('account/a2')])).toMatchObject({ accepted: false, record: 'account/a2', message: /one account at most/ })
    expect(decide([lead(), created('account/a1', {})])).toMatchObject({ accepted: false, record: 'account/a1', message: /originatingleadid must be lead\/l1/ })
    const existing = part('account/a9', record('account', 'a9', 0), record('account', 'a9', 0, { name: 'x' }))
    expect(decide([lead(), existing])).toMatchObject({ accepted: false, record: 'account/a9', message: /may only create records/ })
    const unchanged = part(LEAD, record('lead', 'l1', 0), record('lead', 'l1', 0))
    expect(decide([unchanged, created('account/a1')])).toMatchObject({ accepted: false, message: /must set the statecode/ })
    const denied = created('opportunity/o1', { originatingleadid: LEAD })
    expect(decide([lead(), { ...denied, denied: { reason: 'no-create-privilege', message: 'no create privilege on opportunity' } }]))
      .toMatchObject({ accepted: false, record: 'opportunity/o1', reason: 'no-create-privilege' })
  })

  it('requires the case of a conversion and the target pointing at it', () => {
    const APPT = 'appointment/p1'
    const appt = (fields: Record<string, FieldValue>) => part(APPT, record('appointment', 'p1', 0), { ...record('appointment', 'p1', 1), fields })
    const c = (name: string) => part(name, emptyState(), record('incident', name.split('/')[1], 0, { title: 't' }))
    const commands = ['create', 'read', 'update', 'delete', 'convert-to-case']
    expect(decideCommand('convert-to-case', commands, APPT, [appt({ regardingobjectid: 'incident/i1' }), c('incident/i1')], DEFAULT_QUALIFICATION)).toEqual({ accepted: true })
    expect(decideCommand('convert-to-case', commands, APPT, [appt({})], DEFAULT_QUALIFICATION)).toMatchObject({ accepted: false, message: /creates one incident/ })
    expect(decideCommand('convert-to-case', commands, APPT, [appt({ regardingobjectid: 'incident/other' }), c('incident/i1')], DEFAULT_QUALIFICATION))
      .toMatchObject({ accepted: false, record: APPT })
  })
})
