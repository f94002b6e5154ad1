import { describe, expect, it } from 'vitest'
import { buildCatalog, CatalogError, loadCatalog, parseCustomEntities } from '../../src/docs/catalog.ts'
import { BUILT_IN_ENTITIES } from '../../src/docs/entities.ts'
import { checkValue } from '../../src/docs/values.ts'
import * as v from 'valibot'
import { attributeOf, allows, EntityDefSchema } from '../../src/docs/catalog-types.ts'

const known = new Set(BUILT_IN_ENTITIES.map(e => e.name))
const parse = (json: unknown): ReturnType<typeof parseCustomEntities> => parseCustomEntities('custom.json', JSON.stringify(json), known)
const attrs = [{ name: 'x_name', type: 'text' }]

describe('entity catalog', () => {
  it('has the offline entities of DESIGN.md with their commands', () => {
    const c = buildCatalog()
    expect(allows(c.entities.get('lead')!, 'qualify')).toBe(true)
    expect(allows(c.entities.get('appointment')!, 'convert-to-case')).toBe(true)
    expect(c.entities.get('activitypointer')!.commands).toEqual(['read', 'delete'])
    for (const e of ['product', 'attachment', 'connection', 'connectionrole', 'email', 'team', 'systemuser']) {
      expect(c.entities.get(e)!.commands, e).toEqual(['read'])
    }
    for (const e of ['account', 'incident', 'competitor', 'competitoraddress', 'contact', 'opportunity', 'opportunityproduct', 'phonecall', 'position', 'task']) {
      expect(c.entities.get(e)!.commands, e).toEqual(['create', 'read', 'update', 'delete'])
    }
    expect(c.relationships).toContainEqual({ name: 'contact_parentcustomerid_account', kind: '1:N', from: 'account', to: 'contact', attribute: 'parentcustomerid' })
    expect(c.relationships.filter(r => r.kind === 'N:N' && r.from === 'opportunity').map(r => r.to)).toContain('competitor')
  })

  it('loads the shipped custom entities file', () => {
    const c = loadCatalog('config/custom-entities.json')
    const e = c.entities.get('fs_inspection')!
    expect(e.custom).toBe(true)
    expect(allows(e, 'mark-complete')).toBe(true)
    expect(attributeOf(e, 'fs_accountid')?.targets).toEqual(['account'])
  })

  it.each([
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_site', type: 'strng' }] }] }, /^custom\.json: entities\[0\]\.attributes\[1\]\.type \(x_a\.x_site\): expected one of text, memo, .*, got "strng"$/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_l', type: 'lookup', targets: ['spaceship'] }] }] }, /^custom\.json: entities\[0\]\.attributes\[1\]\.targets\[0\] \(x_a\.x_l\): lookup to unknown entity "spaceship"$/],
    [{ entities: [{ name: 'account', attributes: attrs }] }, /^custom\.json: entities\[0\]\.name \(account\): duplicate entity name "account"$/],
    [{ entities: [{ name: 'x_a', attributes: attrs }, { name: 'x_a', attributes: attrs }] }, /^custom\.json: entities\[1\]\.name \(x_a\): duplicate entity name "x_a"$/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_name', type: 'whole' }] }] }, /entities\[0\]\.attributes\[1\]\.name \(x_a\.x_name\): duplicate attribute name "x_name"/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_o', type: 'optionset', options: [{ value: 1, label: 'a' }, { value: 1, label: 'b' }] }] }] }, /attributes\[1\]\.options\[1\]\.value \(x_a\.x_o\): duplicate option value 1/],
    [{ entities: [{ name: 'x_a', attributes: [{ name: 'x_n', type: 'whole' }] }] }, /entities\[0\]\.attributes\[0\] \(x_a\.x_n\): the first attribute is the primary name and must be of type "text"/],
    [{ entities: [{ name: 'Bad Name', attributes: attrs }] }, /^custom\.json: entities\[0\]\.name \(Bad Name\): expected a lowercase name matching .*, got "Bad Name"$/],
    [{ entities: [{ name: 'x_a', attributes: attrs }], manyToMany: [{ name: 'r', from: 'x_a', to: 'nothing' }] }, /^custom\.json: manyToMany\[0\]\.to \(r\): unknown entity "nothing"$/],
    // wrong types, missing keys, misspelt keys, per-type requirements
    [5, /^custom\.json: top level: expected an object with "entities", got 5$/],
    [[], /^custom\.json: top level: expected an object with "entities", got Array$/],
    [{ entities: {} }, /^custom\.json: entities: expected an array of entities, got Object$/],
    [{ entities: [{ attributes: attrs }] }, /^custom\.json: entities\[0\]\.name: missing$/],
    [{ entities: [{ name: 'x_a', attributes: [] }] }, /entities\[0\]\.attributes \(x_a\): expected a non-empty array of attributes/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_n', type: 5 }] }] }, /attributes\[1\]\.type \(x_a\.x_n\): expected one of .*, got 5$/],
    [{ entities: [{ name: 'x_a', attributes: [{ name: 'x_name', type: 'text', maxLength: '200' }] }] }, /attributes\[0\]\.maxLength \(x_a\.x_name\): expected a positive integer, got "200"/],
    [{ entities: [{ name: 'x_a', attributes: [{ name: 'x_name', type: 'text', maxLength: 0 }] }] }, /attributes\[0\]\.maxLength \(x_a\.x_name\): maxLength must be a positive integer/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_o', type: 'optionset' }] }] }, /attributes\[1\]\.options \(x_a\.x_o\): an optionset needs a non-empty "options" array/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_o', type: 'optionset', options: [{ value: 1.5, label: 'a' }] }] }] }, /attributes\[1\]\.options\[0\]\.value \(x_a\.x_o\): expected an integer, got 1\.5/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_l', type: 'lookup', targets: [7] }] }] }, /attributes\[1\]\.targets\[0\] \(x_a\.x_l\): expected a lowercase name, got 7/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_l', type: 'lookup' }] }] }, /attributes\[1\]\.targets \(x_a\.x_l\): a lookup needs a non-empty "targets" array/],
    [{ entities: [{ name: 'x_a', attributes: [{ name: 'x_name', type: 'text', lable: 'Name' }] }] }, /attributes\[0\]\.lable \(x_a\.x_name\): unknown key/],
    [{ entities: [{ name: 'x_a', attributes: attrs }], manyToMany: [{ name: 'r', from: 'x_a' }] }, /^custom\.json: manyToMany\[0\]\.to \(r\): missing$/]
  ])('refuses a bad custom entity file with an error naming the file and the path (%#)', (json, message) => {
    expect(() => parse(json)).toThrow(CatalogError)
    expect(() => parse(json)).toThrow(message)
  })

  it('reports every problem of a file at once, one line each', () => {
    const json = { entities: [{ name: 'x_a', attributes: [{ name: 'x_name', type: 'text', maxLength: -1 }, { name: 'x_b', type: 'strng' }] }], manyToMany: 3 }
    expect(() => parse(json)).toThrow(/^custom\.json: entities\[0\]\.attributes\[0\]\.maxLength .*\ncustom\.json: entities\[0\]\.attributes\[1\]\.type .*\ncustom\.json: manyToMany: expected an array/)
  })

  it('fills in what a file may leave out: labels, text lengths', () => {
    const { entities } = parse({ entities: [{ name: 'x_a', attributes: [{ name: 'x_name', type: 'text' }, { name: 'x_notes', type: 'memo', label: 'Notes' }, { name: 'x_n', type: 'whole' }] }] })
    expect(entities[0]).toMatchObject({ name: 'x_a', label: 'x_a', primaryName: 'x_name', custom: true })
    expect(entities[0].attributes).toEqual([
      { name: 'x_name', type: 'text', label: 'x_name', maxLength: 200 },
      { name: 'x_notes', type: 'memo', label: 'Notes', maxLength: 100_000 },
      { name: 'x_n', type: 'whole', label: 'x_n' }
    ])
  })

  it('the built-in entities fit the entity schema the file is parsed with', () => {
    for (const e of BUILT_IN_ENTITIES) expect(v.safeParse(EntityDefSchema, e).issues, e.name).toBeUndefined()
  })

  it('names the file when it is not JSON or missing', () => {
    expect(() => parseCustomEntities('custom.json', '{ nope', known)).toThrow(/custom\.json: not valid JSON/)
    expect(() => loadCatalog('/nonexistent/custom.json')).toThrow(/\/nonexistent\/custom\.json: cannot read/)
  })
})

describe('attribute values', () => {
  const account = buildCatalog().entities.get('account')!
  const a = (n: string) => attributeOf(account, n)!
  it.each([
    ['name', 'Contoso', true], ['name', 42, false], ['name', 'x'.repeat(161), false],
    ['numberofemployees', 12, true], ['numberofemployees', 1.5, false], ['numberofemployees', -1, false],
    ['revenue', 10.25, true], ['revenue', 10.255, false], ['revenue', '10', false],
    ['donotemail', true, true], ['donotemail', 'yes', false],
    ['lastonholdtime', '2026-02-28', true], ['lastonholdtime', '2026-02-30', false], ['lastonholdtime', '28.02.2026', false],
    ['industrycode', 3, true], ['industrycode', 99, false],
    ['parentaccountid', 'account/a1', true], ['parentaccountid', 'contact/c1', false], ['parentaccountid', 'account', false]
  ])('%s = %j fits: %s', (name, value, fits) => {
    expect(checkValue(a(name), value) === null).toBe(fits)
  })
})
