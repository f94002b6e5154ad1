import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { MetadataError, parseMetadata } from '../../src/metadata/metadata.ts'
import { stageMoveProblem } from '../../src/metadata/process-flows.ts'

const catalog = buildCatalog()
const parse = (json: unknown) => parseMetadata('config/metadata.json', JSON.stringify(json), catalog)

const view = (extra: object) => ({ views: [{ entity: 'account', name: 'V', kind: 'system', columns: ['name'], ...extra }] })
const rule = (extra: object) => ({ businessRules: [{ entity: 'account', name: 'R', actions: [{ type: 'lock', field: 'name' }], ...extra }] })
const flow = (...stages: unknown[]) => ({ processFlows: [{ entity: 'lead', name: 'F', stages }] })

describe('metadata parsing', () => {
  it.each([
    // process flows
    [flow({ name: 'A', required: ['subject'] }, { name: 'B', required: 5 }), /^config\/metadata\.json: processFlows\[0\]\.stages\[1\]\.required \(lead\.F\.B\): expected an array of field names, got 5$/],
    [flow({ name: 'A', required: ['subject', 7] }, { name: 'B' }), /^config\/metadata\.json: processFlows\[0\]\.stages\[0\]\.required\[1\] \(lead\.F\.A\): expected a field name, got 7$/],
    [flow({ name: 'A', requried: ['subject'] }, { name: 'B' }), /^config\/metadata\.json: processFlows\[0\]\.stages\[0\]\.requried \(lead\.F\.A\): unknown key/],
    [flow({ required: [] }, { name: 'B' }), /^config\/metadata\.json: processFlows\[0\]\.stages\[0\]\.name \(lead\.F\): missing$/],
    [{ processFlows: [{ entity: 'lead', name: '', stages: [{ name: 'A' }, { name: 'B' }] }] }, /^config\/metadata\.json: processFlows\[0\]\.name \(lead\.\): a flow name must not be empty$/],
    [{ processFlows: [{ entity: 'lead', name: 'F', stages: 'A, B' }] }, /^config\/metadata\.json: processFlows\[0\]\.stages \(lead\.F\): expected an array of stages, got "A, B"$/],
    // views and their filters
    [view({ filter: 5 }), /^config\/metadata\.json: views\[0\]\.filter \(account\.V\): expected a filter: .*, got 5$/],
    [view({ filter: { field: 'name', op: 'like', value: 'x' } }), /^config\/metadata\.json: views\[0\]\.filter\.op \(account\.V\): expected one of eq, ne, gt, ge, lt, le, contains, begins-with, null, not-null, got "like"$/],
    [view({ filter: { and: [{ field: 'name', op: 'eq', value: 'x' }, { field: 'nope', op: 'null' }] } }), /^config\/metadata\.json: views\[0\]\.filter\.and\[1\]\.field \(account\.V\): account has no field "nope"$/],
    [view({ filter: { or: [] } }), /^config\/metadata\.json: views\[0\]\.filter\.or \(account\.V\): and\/or needs a non-empty list$/],
    [view({ filter: { or: [5] } }), /^config\/metadata\.json: views\[0\]\.filter\.or\[0\] \(account\.V\): expected a filter: .*, got 5$/],
    [view({ filter: { field: 'name', op: 'eq' } }), /^config\/metadata\.json: views\[0\]\.filter\.value \(account\.V\): "eq" needs a value to compare with$/],
    [view({ filter: { field: 'name', op: 'null', value: 1 } }), /^config\/metadata\.json: views\[0\]\.filter\.value \(account\.V\): "null" takes no value$/],
    [view({ filter: { field: 'name', op: 'contains', value: 1 } }), /^config\/metadata\.json: views\[0\]\.filter\.value \(account\.V\): "contains" compares text: expected a string, got 1$/],
    [view({ filter: { field: 'name', op: 'eq', value: { x: 1 } } }), /^config\/metadata\.json: views\[0\]\.filter\.value \(account\.V\): expected a string, number or boolean, got Object$/],
    [view({ filter: { field: 'name', op: 'eq', value: 'x', and: [] } }), /\nconfig\/metadata\.json: views\[0\]\.filter\.field \(account\.V\): unknown key/],
    [view({ columns: 'name' }), /^config\/metadata\.json: views\[0\]\.columns \(account\.V\): expected an array of field names, got "name"$/],
    [view({ sort: [{ field: 'name', descending: 'yes' }] }), /^config\/metadata\.json: views\[0\]\.sort\[0\]\.descending \(account\.V\): expected true or false, got "yes"$/],
    [{ views: [{ entity: 'account', kind: 'system', columns: ['name'] }] }, /^config\/metadata\.json: views\[0\]\.name: missing$/],
    // business rules
    [rule({ actions: [{ type: 'set-required', field: 'name', required: 'yes' }] }), /^config\/metadata\.json: businessRules\[0\]\.actions\[0\]\.required \(account\.R\): expected true or false, got "yes"$/],
    [rule({ actions: [5] }), /^config\/metadata\.json: businessRules\[0\]\.actions\[0\] \(account\.R\): expected an action whose "type" is one of .*, got 5$/],
    [rule({ actions: [{ type: 'show-error' }] }), /^config\/metadata\.json: businessRules\[0\]\.actions\[0\]\.message \(account\.R\): missing$/],
    [rule({ actions: [] }), /^config\/metadata\.json: businessRules\[0\]\.actions \(account\.R\): a rule needs actions$/],
    [rule({ condition: { field: 'nope', op: 'eq', value: 1 } }), /^config\/metadata\.json: businessRules\[0\]\.condition\.field \(account\.R\): account has no field "nope"$/],
    [rule({ condition: 'revenue > 5' }), /^config\/metadata\.json: businessRules\[0\]\.condition \(account\.R\): expected a filter: .*, got "revenue > 5"$/],
    [rule({ entity: 'spaceship' }), /^config\/metadata\.json: businessRules\[0\]\.entity \(spaceship\.R\): unknown entity "spaceship"$/],
    // forms, the top level
    [{ forms: [{ entity: 'account', name: 'F', kind: 3, fields: ['name'] }] }, /^config\/metadata\.json: forms\[0\]\.kind \(account\.F\): expected one of main, quick-create, quick-view, got 3$/],
    [[], /^config\/metadata\.json: top level: expected an object with .*, got Array$/],
    [{ bussinessRules: [] }, /^config\/metadata\.json: bussinessRules: unknown key/],
    [{ businessRules: {} }, /^config\/metadata\.json: businessRules: expected an array of business rules, got Object$/]
  ])('refuses malformed metadata with an error naming the file and the path (%#)', (json, message) => {
    expect(() => parse(json)).toThrow(MetadataError)
    expect(() => parse(json)).toThrow(message)
  })

  it('reports every problem at once, one line each, schema problems before catalog ones', () => {
    const json = { views: [{ entity: 'account', name: 'V', kind: 'system', columns: ['name'], filter: 5 }], processFlows: [{ entity: 'lead', name: 'F', stages: [{ name: 'A', required: 5 }, { name: 'B' }] }] }
    expect(() => parse(json)).toThrow(/^config\/metadata\.json: views\[0\]\.filter .*\nconfig\/metadata\.json: processFlows\[0\]\.stages\[0\]\.required .*$/)
  })

  it('reads a stage without `required` as requiring nothing, so moving past it never fails', () => {
    const { processFlows } = parse(flow({ name: 'A' }, { name: 'B', required: ['subject'] }, { name: 'C' }))
    expect(processFlows[0].stages.map(s => s.required)).toEqual([[], ['subject'], []])
    expect(stageMoveProblem(processFlows[0], 'A', 'B', {})).toBeNull()
    expect(stageMoveProblem(processFlows[0], 'A', 'C', {})).toBe('stage B needs subject before moving on')
  })

  it('takes a file that declares only some sections, the rest empty', () => {
    const m = parse({ forms: [] })
    expect(m).toMatchObject({ views: [], businessRules: [], processFlows: [], forms: [], leadQualification: { create: ['account', 'contact', 'opportunity'] } })
  })

  it('names the file when it is not JSON', () => {
    expect(() => parseMetadata('m.json', '{ "views": [', catalog)).toThrow(/^m\.json: not valid JSON/)
  })
})
