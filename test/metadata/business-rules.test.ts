import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { parseMetadata } from '../../src/metadata/metadata.ts'
import { evaluateRules, saveViolation } from '../../src/metadata/business-rules.ts'

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
  })
  it('are validated: single-entity, unique stages, known fields', () => {
    const bad = (f: unknown): void => { parseMetadata('m.json', JSON.stringify({ views: [], processFlows: f }), catalog) }
    expect(() => bad([{ entity: 'lead', name: 'F', stages: [{ name: 'A', required: [] }] }])).toThrow(/processFlows\[0\]\.stages \(lead\.F\): a flow needs at least two stages/)
    expect(() => bad([{ entity: 'lead', name: 'F', stages: [{ name: 'A', required: ['nope'] }, { name: 'B', required: [] }] }])).toThrow(/processFlows\[0\]\.stages\[0\]\.required\[0\] \(lead\.F\.A\): lead has no field "nope"/)
    expect(() => bad([{ entity: 'lead', name: 'F', stages: [{ name: 'A', required: [] }, { name: 'A', required: [] }] }])).toThrow(/processFlows\[0\]\.stages\[1\]\.name \(lead\.F\.A\): stage names must be unique/)
    const two = { entity: 'lead', stages: [{ name: 'A', required: [] }, { name: 'B', required: [] }] }
    expect(() => bad([{ ...two, name: 'F' }, { ...two, name: 'G' }])).toThrow(/processFlows\[1\]\.entity \(lead\.G\): lead already has a flow: one flow per entity/)
  })
})
