import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { parseMetadata } from '../../src/metadata/metadata.ts'
import { evaluateRules, ruleFields, ruleInput, ruleInputOf, rulesOf, ruleValues, saveViolation, type BusinessRule } from '../../src/metadata/business-rules.ts'
import * as prng from 'lib0/prng'
import { withSeed } from '../helpers/seed.ts'
import type { RecordState } from '../../src/docs/record.ts'

const catalog = buildCatalog()
const { businessRules: rules } = parseMetadata('config/metadata.json', readFileSync('config/metadata.json', 'utf8'), catalog)

describe('business rules', () => {
  it('give the form state: set value, set default, required, locked, errors', () => {
    const closing = evaluateRules(rules, 'opportunity', { salesstagecode: 4, closeprobability: 40 })
    expect(closing.values.closeprobability).toBe(100)
    expect([...closing.locked]).toEqual(['closeprobability'])
    expect(evaluateRules(rules, 'contact', {}).values.preferredcontactmethodcode).toBe(1)
    expect(evaluateRules(rules, 'contact', { preferredcontactmethodcode: 3 }).values.preferredcontactmethodcode).toBe(3)
    expect([...evaluateRules(rules, 'lead', { leadqualitycode: 1 }).required]).toEqual(['budgetamount'])
    expect(evaluateRules(rules, 'account', { websiteurl: 'http://x.example' }).errors).toEqual([{ rule: 'Website must use https', field: 'websiteurl', message: 'Use an https:// website address' }])
  })

  it('say why a save breaks one', () => {
    expect(saveViolation(rules, 'account', {}, { websiteurl: 'http://x.example' }, ['websiteurl'])).toBe('Use an https:// website address')
    expect(saveViolation(rules, 'lead', {}, { leadqualitycode: 1 }, ['leadqualitycode'])).toBe('budgetamount is required')
    expect(saveViolation(rules, 'lead', {}, { leadqualitycode: 1, budgetamount: 10 }, ['leadqualitycode', 'budgetamount'])).toBeNull()
    const closed = { salesstagecode: 4, closeprobability: 100 }
    expect(saveViolation(rules, 'opportunity', closed, { ...closed, closeprobability: 50 }, ['closeprobability'])).toBe('closeprobability is locked')
    expect(saveViolation(rules, 'opportunity', closed, { ...closed, salesstagecode: 3, closeprobability: 50 }, ['salesstagecode', 'closeprobability'])).toBeNull()
  })

  it('give the values a save writes: set-value where its condition holds, set-default only on create', () => {
    expect(ruleValues(rules, 'opportunity', { salesstagecode: 4, closeprobability: 47 }, false)).toEqual({ closeprobability: 100 })
    expect(ruleValues(rules, 'opportunity', { salesstagecode: 4, closeprobability: 100 }, false)).toEqual({})
    expect(ruleValues(rules, 'opportunity', { salesstagecode: 3, closeprobability: 47 }, false)).toEqual({})
    expect(ruleValues(rules, 'contact', {}, true)).toEqual({ preferredcontactmethodcode: 1 })
    expect(ruleValues(rules, 'contact', { preferredcontactmethodcode: null }, true)).toEqual({ preferredcontactmethodcode: 1 })
    expect(ruleValues(rules, 'contact', { preferredcontactmethodcode: 3 }, true)).toEqual({})
    expect(ruleValues(rules, 'contact', {}, false)).toEqual({})
    // Rules apply in order: a later rule sees the value an earlier one set.
    const chained = [
      { entity: 'lead', name: 'A', actions: [{ type: 'set-value' as const, field: 'leadqualitycode', value: 1 }] },
      { entity: 'lead', name: 'B', condition: { field: 'leadqualitycode', op: 'eq' as const, value: 1 }, actions: [{ type: 'set-value' as const, field: 'subject', value: 'Hot' }] }
    ]
    expect(ruleValues(chained, 'lead', { leadqualitycode: 3, subject: 'x' }, false)).toEqual({ leadqualitycode: 1, subject: 'Hot' })
  })

  it('let a locked field take the value a rule sets, and nothing else', () => {
    const stuck = { salesstagecode: 4, closeprobability: 47 }
    expect(saveViolation(rules, 'opportunity', stuck, { ...stuck, closeprobability: 100 }, ['closeprobability'])).toBeNull()
    expect(saveViolation(rules, 'opportunity', stuck, { ...stuck, closeprobability: 60 }, ['closeprobability'])).toBe('closeprobability is locked')
    expect(saveViolation(rules, 'opportunity', stuck, { ...stuck, closeprobability: null }, ['closeprobability'])).toBe('closeprobability is locked')
    // A cleared required field (null, as the device's update({ x: null }) sends it) breaks the rule.
    expect(saveViolation(rules, 'lead', { leadqualitycode: 1, budgetamount: 5 }, { leadqualitycode: 1, budgetamount: null }, ['budgetamount'])).toBe('budgetamount is required')
  })

  it('decide a save the same on the input restricted to what they read (ruleInputOf), seeded', async () => {
    await withSeed(gen => {
      for (const entity of ['account', 'lead', 'opportunity', 'contact']) {
        const own = rulesOf(rules, entity)
        const read = [...ruleFields(own, entity)]
        const attrs = catalog.entities.get(entity)!.attributes.map(a => a.name)
        // Values from the rules' own vocabulary (their conditions' and actions' values) and from outside it.
        const pool: unknown[] = [undefined, null, '', 0, 1, 3, 4, 40, 100, 10_000_001, 'http://x.example', 'https://x.example', 'x', true]
        const state = (): RecordState => {
          const s: RecordState = { meta: { entity, id: 'r1', statecode: prng.oneOf(gen, [0, 1, undefined]) as never, ownerid: 'systemuser/u-alice' }, fields: {}, texts: {}, notes: {} }
          for (const k of [...read, ...attrs.slice(0, 6)]) {
            const v = prng.oneOf(gen, pool)
            if (v === undefined || v === null) continue
            if (typeof v === 'string' && prng.bool(gen)) s.texts[k] = v; else s.fields[k] = v as never
          }
          return s
        }
        for (let i = 0; i < 200; i++) {
          const before = state()
          const after = state()
          const changed = [...read, ...attrs].filter(() => prng.bool(gen))
          expect(saveViolation(own, entity, ruleInputOf(own, entity, before), ruleInputOf(own, entity, after), changed))
            .toBe(saveViolation(own, entity, ruleInput(before), ruleInput(after), changed))
        }
      }
    })
  })

  it('are validated at start, naming the rule and the field', () => {
    const bad = (r: unknown): void => { parseMetadata('m.json', JSON.stringify({ views: [], businessRules: [r] }), catalog) }
    expect(() => bad({ entity: 'account', name: 'R', actions: [{ type: 'explode', field: 'name' }] })).toThrow(/m\.json: businessRules\[0\]\.actions\[0\]\.type \(account\.R\): expected an action whose "type" is one of set-value, .*, got "explode"/)
    expect(() => bad({ entity: 'account', name: 'R', actions: [{ type: 'lock', field: 'nope' }] })).toThrow(/businessRules\[0\]\.actions\[0\]\.field \(account\.R\): account has no field "nope"/)
    expect(() => bad({ entity: 'account', name: 'R', actions: [{ type: 'set-value', field: 'numberofemployees', value: 'many' }] })).toThrow(/businessRules\[0\]\.actions\[0\]\.value \(account\.R\): .*expects a whole number/)
  })
})

describe('process flows', async () => {
  const { stageMoveProblem } = await import('../../src/metadata/process-flows.ts')
  const { processFlows } = parseMetadata('config/metadata.json', readFileSync('config/metadata.json', 'utf8'), catalog)
  const flow = processFlows.find(f => f.entity === 'lead')!
  it('move back freely and forward only with the required fields of the stages left', () => {
    expect(stageMoveProblem(flow, 'Develop', 'Qualify', {})).toBeNull()
    expect(stageMoveProblem(flow, 'Qualify', 'Propose', { subject: 's', companyname: 'c', budgetamount: 1 })).toBe('stage Develop needs estimatedclosedate before moving on')
    expect(stageMoveProblem(flow, undefined, 'Develop', { subject: 's', companyname: 'c' })).toBeNull()
    expect(stageMoveProblem(flow, 'Qualify', 'Nowhere', {})).toMatch(/not a stage/)
    // The stage it is on: no move, nothing required.
    expect(stageMoveProblem(flow, 'Develop', 'Develop', {})).toBeNull()
  })
  it('are validated: single-entity, unique stages, known fields', () => {
    const bad = (f: unknown): void => { parseMetadata('m.json', JSON.stringify({ views: [], processFlows: f }), catalog) }
    expect(() => bad([{ entity: 'lead', name: 'F', stages: [{ name: 'A', required: [] }] }])).toThrow(/processFlows\[0\]\.stages \(lead\.F\): a flow needs at least two stages/)
    expect(() => bad([{ entity: 'lead', name: 'F', stages: [{ name: 'A', required: ['nope'] }, { name: 'B', required: [] }] }])).toThrow(/processFlows\[0\]\.stages\[0\]\.required\[0\] \(lead\.F\.A\): lead has no field "nope"/)
    expect(() => bad([{ entity: 'lead', name: 'F', stages: [{ name: 'A', required: [] }, { name: 'A', required: [] }] }])).toThrow(/processFlows\[0\]\.stages\[1\]\.name \(lead\.F\.A\): stage names must be unique/)
    const two = { entity: 'lead', stages: [{ name: 'A', required: [] }, { name: 'B', required: [] }] }
    expect(() => bad([{ ...two, name: 'F' }, { ...two, name: 'G' }])).toThrow(/processFlows\[1\]\.entity \(lead\.G\): lead already has a flow: one flow per entity/)
  })

  it('see a record\'s fields, texts, statecode and owner, on the server and the device alike', () => {
    const input = ruleInput({
      meta: { entity: 'account', id: 'a1', ownerid: 'team/t-north', owningbusinessunit: 'bu-north', statecode: 1, modifiedby: 'u1' },
      fields: { name: 'Contoso' }, texts: { description: 'long' }, notes: { n1: { subject: 's' } }
    })
    expect(input).toEqual({ name: 'Contoso', description: 'long', statecode: 1, ownerid: 'team/t-north' })
    const teamOwned: BusinessRule = { entity: 'account', name: 'team accounts', condition: { and: [{ field: 'ownerid', op: 'begins-with', value: 'team/' }, { field: 'statecode', op: 'eq', value: 1 }] }, actions: [{ type: 'lock', field: 'name' }] }
    expect([...evaluateRules([teamOwned], 'account', input).locked]).toEqual(['name'])
  })
})
