import { describe, expect, it } from 'vitest'
import { buildCatalog, CatalogError, loadCatalog, parseCustomEntities } from '../../src/docs/catalog.ts'
import { BUILT_IN_ENTITIES } from '../../src/docs/entities.ts'
import { checkValue } from '../../src/docs/values.ts'
import { attributeOf, allows } from '../../src/docs/catalog-types.ts'

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
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_site', type: 'strng' }] }] }, /custom\.json: entities\[0\]\.attributes\[1\] \(x_a\.x_site\): unknown type "strng"/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_l', type: 'lookup', targets: ['spaceship'] }] }] }, /x_a\.x_l.*lookup to unknown entity "spaceship"/],
    [{ entities: [{ name: 'account', attributes: attrs }] }, /entities\[0\]\.name: duplicate entity name "account"/],
    [{ entities: [{ name: 'x_a', attributes: attrs }, { name: 'x_a', attributes: attrs }] }, /entities\[1\]\.name: duplicate entity name "x_a"/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_name', type: 'whole' }] }] }, /duplicate attribute name "x_name"/],
    [{ entities: [{ name: 'x_a', attributes: [...attrs, { name: 'x_o', type: 'optionset', options: [{ value: 1, label: 'a' }, { value: 1, label: 'b' }] }] }] }, /duplicate option value 1/],
    [{ entities: [{ name: 'x_a', attributes: [{ name: 'x_n', type: 'whole' }] }] }, /primary name and must be of type "text"/],
    [{ entities: [{ name: 'Bad Name', attributes: attrs }] }, /entities\[0\]\.name: expected a lowercase name/],
    [{ entities: [{ name: 'x_a', attributes: attrs }], manyToMany: [{ name: 'r', from: 'x_a', to: 'nothing' }] }, /manyToMany\[0\]: unknown entity "nothing"/]
  ])('refuses a bad custom entity file with an error naming the field (%#)', (json, message) => {
    expect(() => parse(json)).toThrow(CatalogError)
    expect(() => parse(json)).toThrow(message)
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
