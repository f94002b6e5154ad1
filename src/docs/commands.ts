// Offline commands that change a record's state and may create records from it (lead qualify and
// disqualify, appointment convert to case, custom entity mark complete and convert to opportunity):
// what each does, as data, and the plan the device executes. The server checks a command's parts
// against the same definitions (src/projection/decide-command.ts).

import * as v from 'valibot'
import type { EntityDef, OfflineCommand } from './catalog-types.ts'
import { expected, list, oneOf } from '../schema.ts'
import type { RecordState } from './record.ts'
import type { FieldValue } from './values.ts'
import { unexpectedCase } from '../errors.ts'

export type StateCommand = Extract<OfflineCommand, 'qualify' | 'disqualify' | 'convert-to-case' | 'mark-complete' | 'convert-to-opportunity'>

export const STATE_COMMANDS: readonly StateCommand[] = ['qualify', 'disqualify', 'convert-to-case', 'mark-complete', 'convert-to-opportunity']

/** The record's state before a command: only an active record can be qualified, converted or completed. */
export const ACTIVE = 0

/** statecode after each command (lead: 1 qualified, 2 disqualified; activities and custom records: 1 completed). */
export const STATE_AFTER: Readonly<Record<StateCommand, number>> = {
  qualify: 1, disqualify: 2, 'convert-to-case': 1, 'mark-complete': 1, 'convert-to-opportunity': 1
}

/** Which records lead qualification creates (configuration: metadata `leadQualification`). */
export const QUALIFICATION_CREATES = ['account', 'contact', 'opportunity'] as const
export const LeadQualificationSchema = v.pipe(v.strictObject({
  create: v.pipe(
    list(v.picklist(QUALIFICATION_CREATES, oneOf(QUALIFICATION_CREATES)), `an array of ${QUALIFICATION_CREATES.join(', ')}`),
    v.check(l => new Set(l).size === l.length, issue => `"${issue.input.find((e, i) => issue.input.indexOf(e) !== i)}" is listed twice`)
  )
}, expected('{ "create": [...] }')), v.readonly())
export type LeadQualification = v.InferOutput<typeof LeadQualificationSchema>
export const DEFAULT_QUALIFICATION: LeadQualification = { create: ['account', 'contact', 'opportunity'] }

export const isStateCommand = (name: string): name is StateCommand => (STATE_COMMANDS as readonly string[]).includes(name)

/** The entities a command may create from a record of `entity`. */
export const mayCreate = (command: StateCommand, q: LeadQualification = DEFAULT_QUALIFICATION): readonly string[] => {
  switch (command) {
    case 'qualify': return q.create
    case 'convert-to-case': return ['incident']
    case 'convert-to-opportunity': return ['opportunity']
    case 'disqualify': case 'mark-complete': return []
    default: return unexpectedCase(command)
  }
}

/**
 * How a created record must point at the command's target: the created record's lookup to the target,
 * or (`targetField`) the target's lookup to the created record. Null: no link is required.
 */
export const linkOf = (command: StateCommand): { createdField?: string, targetField?: string } | null => {
  switch (command) {
    case 'qualify': return { createdField: 'originatingleadid' }
    case 'convert-to-case': return { targetField: 'regardingobjectid' }
    case 'disqualify': case 'mark-complete': case 'convert-to-opportunity': return null
    default: return unexpectedCase(command)
  }
}

export interface PlannedCreate { readonly entity: string, readonly record: string, readonly values: Record<string, FieldValue> }
export interface CommandPlan {
  /** fields the command sets on its target (besides statecode) */
  readonly targetValues: Record<string, FieldValue>
  readonly statecode: number
  readonly creates: readonly PlannedCreate[]
}

const str = (v: unknown): string | undefined => typeof v === 'string' && v !== '' ? v : undefined

/** Keeps the defined values that fit the attribute's length (a mapped value is never refused for length). */
const fit = (entity: EntityDef, values: Record<string, FieldValue | undefined>): Record<string, FieldValue> => {
  const out: Record<string, FieldValue> = {}
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue
    const a = entity.attributes.find(x => x.name === k)
    if (a === undefined) continue
    out[k] = typeof v === 'string' && a.maxLength !== undefined ? v.slice(0, a.maxLength) : v
  }
  return out
}

/**
 * What a command does to `target` (a record of `entity` in state `s`), creating records with ids from
 * `newId`. `entities` resolves the definitions of the records it creates.
 */
export const planCommand = (
  command: StateCommand, target: string, entity: EntityDef, s: RecordState, entities: (name: string) => EntityDef | undefined,
  newId: () => string, q: LeadQualification = DEFAULT_QUALIFICATION
): CommandPlan => {
  const f = s.fields
  const t = s.texts
  const creates: PlannedCreate[] = []
  const add = (name: string, values: Record<string, FieldValue | undefined>): string => {
    const def = entities(name)
    const record = `${name}/${newId()}`
    // An entity the caller does not know is planned anyway: the caller refuses it by name.
    creates.push({ entity: name, record, values: def === undefined ? {} : fit(def, values) })
    return record
  }
  const targetValues: Record<string, FieldValue> = {}
  switch (command) {
    case 'qualify': {
      const person = [str(f.firstname), str(f.lastname)].filter(x => x !== undefined).join(' ') || undefined
      let account = str(f.parentaccountid)
      let contact = str(f.parentcontactid)
      if (account === undefined && q.create.includes('account')) {
        account = add('account', { name: str(f.companyname) ?? person ?? str(f.subject) ?? 'Account from lead', telephone1: str(f.telephone1), emailaddress1: str(f.emailaddress1), originatingleadid: target })
      }
      if (contact === undefined && q.create.includes('contact') && person !== undefined) {
        contact = add('contact', { fullname: person, firstname: str(f.firstname), lastname: str(f.lastname), emailaddress1: str(f.emailaddress1), telephone1: str(f.telephone1), parentcustomerid: account, originatingleadid: target })
      }
      if (q.create.includes('opportunity')) {
        add('opportunity', {
          name: str(f.subject) ?? str(f.companyname) ?? 'Opportunity from lead', parentaccountid: account, parentcontactid: contact, originatingleadid: target,
          estimatedvalue: typeof f.budgetamount === 'number' ? f.budgetamount : undefined, estimatedclosedate: str(f.estimatedclosedate), description: str(t.description)
        })
      }
      break
    }
    case 'convert-to-case': {
      const regarding = str(f.regardingobjectid)
      const customer = regarding !== undefined && /^(account|contact)\//.test(regarding) ? regarding : undefined
      targetValues.regardingobjectid = add('incident', { title: str(f.subject) ?? 'Case from appointment', description: str(t.description), customerid: customer, caseorigincode: 1 })
      break
    }
    case 'convert-to-opportunity': {
      const accountLookup = entity.attributes.find(a => a.type === 'lookup' && (a.targets ?? []).includes('account'))
      const name = s.fields[entity.primaryName] ?? s.texts[entity.primaryName]
      add('opportunity', { name: str(name) ?? `Opportunity from ${entity.label}`, parentaccountid: accountLookup === undefined ? undefined : str(f[accountLookup.name]) })
      break
    }
    case 'disqualify': case 'mark-complete': break // a state change alone
    default: unexpectedCase(command)
  }
  return { targetValues, statecode: STATE_AFTER[command], creates }
}
