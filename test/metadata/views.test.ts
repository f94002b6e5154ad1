import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { MetadataError, parseMetadata } from '../../src/metadata/metadata.ts'
import { checkOffline, runView, type ViewDef } from '../../src/metadata/views.ts'
import { search, SearchError, searchableFields } from '../../src/metadata/search.ts'

const catalog = buildCatalog()
const shipped = parseMetadata('config/metadata.json', readFileSync('config/metadata.json', 'utf8'), catalog)
const view = (name: string): ViewDef => shipped.views.find(v => v.name === name)!
const rows = [
  { record: 'account/a1', values: { name: 'Beta', numberofemployees: 80, address1_city: 'Oslo', statecode: 0 } },
  { record: 'account/a2', values: { name: 'alpha', numberofemployees: 120, address1_city: 'Bergen', statecode: 0 } },
  { record: 'account/a3', values: { name: 'Gamma', numberofemployees: 500, address1_city: 'Lyon', statecode: 0 } },
  { record: 'account/a4', values: { name: 'Delta', numberofemployees: 10, address1_city: 'Oslo', statecode: 1 } }
]

describe('views', () => {
  it('filter with and/or, sort and page on the local index', () => {
    const large = runView(view('Large Accounts in Oslo or Bergen'), rows)
    expect(large.rows.map(r => r.record)).toEqual(['account/a2', 'account/a1'])
    expect(large.rows[0]).toEqual({ record: 'account/a2', name: 'alpha', numberofemployees: 120, address1_city: 'Bergen' })
    const active = runView(view('Active Accounts'), rows, 2, 2)
    expect(active).toMatchObject({ total: 3, page: 2, pageSize: 2 })
    expect(active.rows.map(r => r.record)).toEqual(['account/a3'])
  })

  it('refuse personal views, views of entities unavailable offline and views whose linked entities are not offline, naming the reason', () => {
    const offline = new Set(['account', 'contact', 'task'])
    expect(() => checkOffline(view('My Pinned Accounts'), offline)).toThrow(/personal-view/)
    expect(() => checkOffline(view('My Open Tasks'), offline)).toThrow(/entity-views-offline-unavailable: views of task/)
    expect(() => checkOffline(view('Accounts with Open Cases'), offline)).toThrow(/linked-entity-not-offline: .*incident/)
    expect(() => checkOffline(view('Active Accounts'), offline)).not.toThrow()
  })

  it('are validated at start with errors naming the file, the view and the field', () => {
    const bad = (views: unknown[]): void => { parseMetadata('m.json', JSON.stringify({ views }), catalog) }
    expect(() => bad([{ entity: 'spaceship', name: 'V', kind: 'system', columns: ['x'] }])).toThrow(/^m\.json: views\[0\]\.entity \(spaceship\.V\): unknown entity "spaceship"$/)
    expect(() => bad([{ entity: 'account', name: 'V', kind: 'system', columns: ['nope'] }])).toThrow(/views\[0\]\.columns\[0\] \(account\.V\): account has no field "nope"/)
    expect(() => bad([{ entity: 'account', name: 'V', kind: 'system', columns: ['name'], filter: { or: [{ field: 'name', op: 'like', value: 1 }] } }])).toThrow(/views\[0\]\.filter\.or\[0\]\.op \(account\.V\): expected one of eq, ne, .*, got "like"/)
    expect(() => bad([{ entity: 'account', name: 'V', kind: 'shared', columns: ['name'] }])).toThrow(MetadataError)
    expect(() => bad([{ entity: 'account', name: 'V', kind: 'shared', columns: ['name'] }])).toThrow(/views\[0\]\.kind \(account\.V\): expected one of system, quick, personal, got "shared"/)
    expect(() => bad([{ entity: 'account', name: 'V', kind: 'system', columns: ['name'] }, { entity: 'account', name: 'V', kind: 'quick', columns: ['name'] }])).toThrow(/views\[1\]\.name \(account\.V\): duplicate view name/)
  })
})

describe('offline search', () => {
  const account = catalog.entities.get('account')!
  const offline = new Set(['account'])
  it('looks in text fields only (never dates), case-insensitively, ranked by field order', () => {
    expect(searchableFields(account)).not.toContain('lastonholdtime')
    const data = [
      { record: 'account/x1', values: { name: 'Nordic Pumps', telephone1: '555' } },
      { record: 'account/x2', values: { name: 'Fabrikam', description: 'sells pumps in the nordics' } },
      { record: 'account/x3', values: { name: 'Contoso', lastonholdtime: '2026-01-01' } }
    ]
    expect(search(account, offline, data, 'PUMPS').map(h => [h.record, h.field])).toEqual([['account/x1', 'name'], ['account/x2', 'description']])
    expect(search(account, offline, data, '2026')).toEqual([])
  })
  it('is one offline entity at a time', () => {
    expect(() => search(catalog.entities.get('contact'), offline, [], 'x')).toThrow(/contact is not offline on this device/)
    expect(() => search(undefined, offline, [], 'x')).toThrow(SearchError)
    expect(() => search(account, offline, [], '  ')).toThrow(/empty/)
  })
})
