// The server's side of business rules, pure: what it writes after an update's verdicts (set-value and
// set-default), and a save that changes nothing but its stamps (the flow's stage set again) as a touch.

import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { diff } from '../../src/docs/diff.ts'
import { emptyState, type RecordState } from '../../src/docs/record.ts'
import { ModelIndex } from '../../src/authz/decide.ts'
import { demoModel } from '../../src/server/demo.ts'
import { parseMetadata } from '../../src/metadata/metadata.ts'
import { decideChanges, type DecideContext } from '../../src/projection/decide-changes.ts'
import { ruleWrites } from '../../src/projection/rule-writes.ts'

const catalog = buildCatalog()
const ix = new ModelIndex(demoModel(catalog))
const { businessRules: rules, processFlows: flows } = parseMetadata('config/metadata.json', readFileSync('config/metadata.json', 'utf8'), catalog)
const NOW = '2026-11-27T12:00:00.000Z'

const recordOf = (entity: string, fields: RecordState['fields'], meta: RecordState['meta'] = {}): RecordState => ({
  ...emptyState(),
  meta: { entity, id: 'r1', ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', createdby: 'u-alice', createdon: NOW, statecode: 0, ...meta },
  fields
})
const ctxFor = (entity: string, userId = 'u-alice', over: Partial<DecideContext> = {}): DecideContext =>
  ({ entity: catalog.entities.get(entity)!, record: `${entity}/r1`, userId, ix, now: NOW, rules, flows, ...over })
const stamped = (s: RecordState, by: string): RecordState => ({ ...s, meta: { ...s.meta, modifiedby: by, modifiedon: NOW } })

/** The verdicts of (before -> after) and the writes the rules add after them. */
const save = (ctx: DecideContext, before: RecordState, after: RecordState) => {
  const verdicts = decideChanges(ctx, before, after, diff(before, after))
  return { verdicts, writes: ruleWrites(ctx, before, verdicts) }
}

describe('rule writes', () => {
  it('give a saved record the value of a set-value whose condition holds, unless the update carried it', () => {
    const before = recordOf('opportunity', { name: 'Deal', salesstagecode: 2, closeprobability: 47 })
    const moved = save(ctxFor('opportunity'), before, stamped(recordOf('opportunity', { name: 'Deal', salesstagecode: 4, closeprobability: 47 }), 'u-alice'))
    expect(moved.verdicts.every(v => v.allowed)).toBe(true)
    expect(moved.writes).toEqual([{ kind: 'field-set', field: 'closeprobability', old: 47, new: 100 }])
    const carried = save(ctxFor('opportunity'), before, stamped(recordOf('opportunity', { name: 'Deal', salesstagecode: 4, closeprobability: 100 }), 'u-alice'))
    expect(carried.verdicts.every(v => v.allowed)).toBe(true)
    expect(carried.writes).toEqual([])
  })

  it('follow the allowed changes only: nothing for a refused save, a note alone or a deleted record', () => {
    const before = recordOf('opportunity', { name: 'Deal', salesstagecode: 2, closeprobability: 47 })
    const after = stamped(recordOf('opportunity', { name: 'Deal', salesstagecode: 4, closeprobability: 47 }), 'u-erin')
    const refused = save(ctxFor('opportunity', 'u-erin'), before, after)
    expect(refused.verdicts.some(v => v.allowed)).toBe(false)
    expect(refused.writes).toEqual([])
    const stuck = recordOf('opportunity', { name: 'Deal', salesstagecode: 4, closeprobability: 47 })
    const withNote: RecordState = { ...stuck, notes: { n1: { subject: 's', text: 't', createdby: 'u-alice', createdon: NOW } } }
    expect(save(ctxFor('opportunity'), stuck, withNote).writes).toEqual([])
    const deleted = recordOf('opportunity', stuck.fields, { deletedby: 'u-alice', deletedon: NOW })
    expect(save(ctxFor('opportunity'), stuck, deleted).writes).toEqual([])
  })

  it('free a locked field stuck at another value on the next save, and let the update carry the value itself', () => {
    const stuck = recordOf('opportunity', { name: 'Deal', salesstagecode: 4, closeprobability: 47 })
    const renamed = save(ctxFor('opportunity'), stuck, stamped(recordOf('opportunity', { ...stuck.fields, name: 'Deal 2' }), 'u-alice'))
    expect(renamed.writes).toEqual([{ kind: 'field-set', field: 'closeprobability', old: 47, new: 100 }])
    const carried = save(ctxFor('opportunity'), stuck, stamped(recordOf('opportunity', { ...stuck.fields, name: 'Deal 2', closeprobability: 100 }), 'u-alice'))
    expect(carried.verdicts.every(v => v.allowed)).toBe(true)
    expect(carried.writes).toEqual([])
    const other = save(ctxFor('opportunity'), stuck, stamped(recordOf('opportunity', { ...stuck.fields, closeprobability: 60 }), 'u-alice'))
    expect(other.verdicts.find(v => v.change.kind === 'field-set')).toMatchObject({ allowed: false, reason: 'business-rule', message: 'closeprobability is locked' })
    expect(other.writes).toEqual([]) // nothing of the save stands: nothing to follow
  })

  it('add set-default values on create only, and never to a secured field', () => {
    const created = stamped(recordOf('contact', { fullname: 'New Person' }), 'u-alice')
    expect(save(ctxFor('contact'), emptyState(), created).writes).toEqual([{ kind: 'field-set', field: 'preferredcontactmethodcode', old: null, new: 1 }])
    const existing = recordOf('contact', { fullname: 'Old Person' })
    expect(save(ctxFor('contact'), existing, stamped(recordOf('contact', { fullname: 'Old Person, renamed' }), 'u-alice')).writes).toEqual([])
    expect(save(ctxFor('contact', 'u-alice', { secured: new Set(['preferredcontactmethodcode']) }), emptyState(), created).writes).toEqual([])
  })
})

describe('a save of the stamps alone', () => {
  const at = recordOf('lead', { subject: 's', companyname: 'c' }, { activestage: 'Develop' })
  const again = (by: string): RecordState => stamped(at, by)
  it('is a touch for whoever may write the record', () => {
    expect(save(ctxFor('lead'), at, again('u-alice')).verdicts.map(v => v.allowed)).toEqual([true, true])
  })
  it('is refused to a user who may not write it, and stamped by another user it is refused as before', () => {
    expect(save(ctxFor('lead', 'u-erin'), at, again('u-erin')).verdicts.map(v => v.allowed ? 'ok' : v.reason)).toEqual(['no-write-privilege', 'no-write-privilege'])
    expect(save(ctxFor('lead'), at, again('u-nina')).verdicts.map(v => v.allowed ? 'ok' : v.reason)).toEqual(['field-read-only', 'ok'])
  })
})

describe('rules that read a value kept in another document (a secured field, or the rest of the record)', () => {
  // donotemail is false unless revenue (secured: kept in its own document) is 10 million or more.
  const byRevenue = [
    { entity: 'account', name: 'Mail by default', actions: [{ type: 'set-value' as const, field: 'donotemail', value: false }] },
    { entity: 'account', name: 'No mail to large accounts', condition: { field: 'revenue', op: 'ge' as const, value: 10_000_000 }, actions: [{ type: 'set-value' as const, field: 'donotemail', value: true }] }
  ]
  const large = (): Record<string, unknown> => ({ revenue: 20_000_000 })

  it('write the rule\'s value as the decision sees it, the secured value included', () => {
    const ctx = ctxFor('account', 'u-bob', { rules: byRevenue, secured: new Set(['revenue']), elsewhere: large })
    const before = recordOf('account', { name: 'Big', donotemail: false })
    // bob's device, which reads revenue, saved donotemail = true: accepted, and not written back to false.
    const kept = save(ctx, before, stamped(recordOf('account', { name: 'Big', donotemail: true }), 'u-bob'))
    expect(kept.verdicts.every(v => v.allowed)).toBe(true)
    expect(kept.writes).toEqual([])
    // A client without rules saved another field: the server writes the rule's value.
    const other = save(ctx, before, stamped(recordOf('account', { name: 'Bigger', donotemail: false }), 'u-bob'))
    expect(other.writes).toEqual([{ kind: 'field-set', field: 'donotemail', old: false, new: true }])
  })

  it('refuse a save of a secured field\'s own document that a rule naming other fields refuses (show-error on the record\'s values)', () => {
    const frozen = [{ entity: 'account', name: 'Frozen', condition: { field: 'statecode', op: 'eq' as const, value: 1 }, actions: [{ type: 'show-error' as const, message: 'inactive accounts are read-only' }] }]
    const parent = { name: 'account/r1', ownerid: 'systemuser/u-bob', owningbusinessunit: 'bu-north' }
    const ctx = ctxFor('account', 'u-bob', { record: 'account/r1/revenue', rules: frozen, parent, elsewhere: () => ({ statecode: 1, name: 'Big' }) })
    const field = (revenue: number): RecordState => ({ ...emptyState(), fields: { revenue } })
    const v = decideChanges(ctx, field(5), field(6), diff(field(5), field(6)))
    expect(v.some(x => !x.allowed && x.reason === 'business-rule')).toBe(true)
    // An active account's field saves as before.
    const active = decideChanges({ ...ctx, elsewhere: () => ({ statecode: 0, name: 'Big' }) }, field(5), field(6), diff(field(5), field(6)))
    expect(active.every(x => x.allowed)).toBe(true)
  })
})
