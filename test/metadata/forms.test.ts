import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { parseMetadata } from '../../src/metadata/metadata.ts'
import { deviceMetadata } from '../../src/server/device-metadata.ts'
import { Security } from '../../src/server/security.ts'
import { SqliteSecurityStore } from '../../src/server/storage/sqlite-security.ts'
import { openSqlite } from '../../src/server/storage/sqlite-db.ts'
import { demoModel } from '../../src/server/demo.ts'
import type { DeviceMetadata } from '../../src/client/offline-rules.ts'

const catalog = buildCatalog()
const metadata = parseMetadata('config/metadata.json', readFileSync('config/metadata.json', 'utf8'), catalog)

describe('forms', () => {
  it('are validated at start, naming the form and the field', () => {
    const bad = (f: unknown): void => { parseMetadata('m.json', JSON.stringify({ views: [], forms: [f] }), catalog) }
    expect(() => bad({ entity: 'spaceship', name: 'F', kind: 'main', fields: ['name'] })).toThrow(/m\.json: forms\[0\]\.entity \(spaceship\.F\): unknown entity/)
    expect(() => bad({ entity: 'account', name: 'F', kind: 'main', fields: ['name', 'nope'] })).toThrow(/forms\[0\]\.fields\[1\] \(account\.F\): account has no field "nope"/)
    expect(() => bad({ entity: 'account', name: 'F', kind: 'main', fields: ['name', 'name'] })).toThrow(/forms\[0\]\.fields\[1\] \(account\.F\): "name" is listed twice/)
    expect(() => bad({ entity: 'account', name: 'F', kind: 'sideways', fields: ['name'] })).toThrow(/forms\[0\]\.kind \(account\.F\): expected one of main, quick-create, quick-view, got "sideways"/)
    expect(() => bad({ entity: 'account', name: 'F', kind: 'main', fields: [] })).toThrow(/forms\[0\]\.fields \(account\.F\): a form needs fields/)
    expect(() => parseMetadata('m.json', JSON.stringify({ views: [], forms: {} }), catalog)).toThrow(/^m\.json: forms: expected an array of forms, got Object$/)
  })

  it('lead qualification is configured with the records it creates, validated', () => {
    const q = (v: unknown) => parseMetadata('m.json', JSON.stringify({ views: [], leadQualification: v }), catalog).leadQualification
    expect(q({ create: ['account', 'opportunity'] })).toEqual({ create: ['account', 'opportunity'] })
    expect(q(undefined)).toEqual({ create: ['account', 'contact', 'opportunity'] })
    expect(() => q({ create: ['account', 'incident'] })).toThrow(/m\.json: leadQualification\.create\[1\]: expected one of account, contact, opportunity, got "incident"/)
    expect(() => q({ create: ['account', 'account'] })).toThrow(/leadQualification\.create: "account" is listed twice/)
    expect(() => q({})).toThrow(/leadQualification\.create: missing/)
  })

  it('reach a device only for the entities its profile enables', () => {
    const security = new Security(new SqliteSecurityStore(openSqlite(':memory:')), demoModel(catalog))
    const forAlice = JSON.parse(deviceMetadata(catalog, security, 'u-alice', metadata)) as DeviceMetadata
    const forDan = JSON.parse(deviceMetadata(catalog, security, 'u-dan', metadata)) as DeviceMetadata
    expect(new Set(forAlice.forms?.map(f => f.entity))).toEqual(new Set(['account', 'contact', 'lead', 'opportunity', 'appointment', 'task', 'phonecall']))
    expect(forDan.forms?.map(f => f.entity)).not.toContain('lead')
    expect(forDan.forms?.map(f => f.entity)).toContain('incident')
    expect(forAlice.leadQualification).toEqual({ create: ['account', 'contact', 'opportunity'] })
    expect(forDan.leadQualification).toBeUndefined()
  })
})
