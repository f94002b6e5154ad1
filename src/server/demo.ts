// The demo organization and a few hundred records, the same on every machine (fixed seed).

import * as Y from 'yjs'
import * as prng from 'lib0/prng'
import type { Org, User } from '../authz/org.ts'
import type { Depth, Privilege, Role, SecurityModel } from '../authz/model.ts'
import { emptyModel, PRIVILEGES } from '../authz/model.ts'
import * as admin from '../authz/admin.ts'
import type { AttributeDef, Catalog } from '../docs/catalog-types.ts'
import { createRecord, readRecord } from '../docs/record.ts'
import { userOwned } from '../docs/ownership.ts'
import { rowOf } from '../projection/rows.ts'
import type { FieldValue } from '../docs/values.ts'
import { asRecordId, docName, type DocName } from '../ids.ts'
import type { RecordStorage } from './storage/port.ts'

export const DEMO_ORG: Org = {
  businessUnits: [
    { id: 'bu-contoso', name: 'Contoso', parentId: null },
    { id: 'bu-sales', name: 'Sales', parentId: 'bu-contoso' },
    { id: 'bu-north', name: 'Sales North', parentId: 'bu-sales' },
    { id: 'bu-south', name: 'Sales South', parentId: 'bu-sales' },
    { id: 'bu-service', name: 'Field Service', parentId: 'bu-contoso' }
  ],
  users: [
    { id: 'u-avery', login: 'avery', fullName: 'Avery Admin', businessUnitId: 'bu-contoso', managerId: null },
    { id: 'u-bob', login: 'bob', fullName: 'Bob Baker (sales manager)', businessUnitId: 'bu-sales', managerId: 'u-avery' },
    { id: 'u-alice', login: 'alice', fullName: 'Alice Adams (sales rep)', businessUnitId: 'bu-north', managerId: 'u-bob' },
    { id: 'u-nina', login: 'nina', fullName: 'Nina Novak (sales rep)', businessUnitId: 'bu-north', managerId: 'u-bob' },
    { id: 'u-carol', login: 'carol', fullName: 'Carol Chen (sales rep)', businessUnitId: 'bu-south', managerId: 'u-bob' },
    { id: 'u-dan', login: 'dan', fullName: 'Dan Diaz (field technician)', businessUnitId: 'bu-service', managerId: 'u-avery' },
    { id: 'u-erin', login: 'erin', fullName: 'Erin Evans (auditor, read only)', businessUnitId: 'bu-contoso', managerId: 'u-avery' }
  ],
  teams: [
    { id: 't-north', name: 'North reps', businessUnitId: 'bu-north', members: ['u-alice', 'u-nina', 'u-bob'] },
    { id: 't-service', name: 'Service desk', businessUnitId: 'bu-service', members: ['u-dan'] }
  ]
}

const grant = (entities: readonly string[], privileges: Partial<Record<Privilege, Depth>>): Role['privileges'] =>
  Object.fromEntries(entities.map(e => [e, privileges]))
const all = (depth: Depth): Partial<Record<Privilege, Depth>> => Object.fromEntries(PRIVILEGES.map(p => [p, depth]))

const SALES = ['account', 'contact', 'lead', 'opportunity', 'opportunityproduct', 'competitor', 'competitoraddress', 'phonecall', 'task', 'appointment', 'activitypointer', 'fs_inspection']
const SERVICE = ['incident', 'task', 'phonecall', 'appointment', 'activitypointer', 'fs_inspection']
const READ_ONLY = ['product', 'email', 'attachment', 'connection', 'connectionrole', 'team', 'systemuser', 'position']
/** Read-only reference data: everyone reads it, and may point a lookup at it (a lookup needs appendTo on its target). */
const REFERENCE_DATA: Partial<Record<Privilege, Depth>> = { read: 'organization', appendTo: 'organization' }

/**
 * The demo's security: an administrator (avery); reps who write their own records and read their unit's
 * (alice, nina); a rep with business-unit depth (carol); a manager who reaches his reports' records
 * through hierarchy security, and whose device holds them (bob); a technician whose role comes from his
 * team (dan); an auditor who may read but not write (erin). account.revenue is a secured field only the
 * Finance profile may set.
 */
export const demoModel = (catalog: Catalog): SecurityModel => {
  const entities = [...catalog.entities.keys()]
  const known = (list: readonly string[]): string[] => list.filter(e => catalog.entities.has(e))
  const roles: Role[] = [
    { id: 'role-admin', name: 'System Administrator', admin: true, privileges: grant(entities, all('organization')) },
    {
      id: 'role-sales', name: 'Salesperson', admin: false, privileges: {
        ...grant(known(SALES), { create: 'user', read: 'businessUnit', write: 'user', delete: 'user', append: 'user', appendTo: 'user', assign: 'user', share: 'user' }),
        ...grant(known(READ_ONLY), REFERENCE_DATA)
      }
    },
    {
      id: 'role-sales-bu', name: 'Sales Lead (business unit)', admin: false, privileges: {
        ...grant(known(SALES), { create: 'businessUnit', read: 'businessUnit', write: 'businessUnit', delete: 'user', append: 'businessUnit', appendTo: 'businessUnit', assign: 'businessUnit', share: 'businessUnit' }),
        ...grant(known(READ_ONLY), REFERENCE_DATA)
      }
    },
    {
      id: 'role-sales-manager', name: 'Sales Manager', admin: false, privileges: {
        ...grant(known(SALES), { create: 'user', read: 'parentChild', write: 'user', delete: 'user', append: 'user', appendTo: 'user', assign: 'parentChild', share: 'user' }),
        ...grant(known(READ_ONLY), REFERENCE_DATA)
      }
    },
    {
      id: 'role-technician', name: 'Field Technician', admin: false, privileges: {
        ...grant(known(SERVICE), { create: 'user', read: 'businessUnit', write: 'user', delete: 'user', append: 'user', appendTo: 'user' }),
        ...grant(['account', 'contact'], { read: 'organization', appendTo: 'organization' }),
        ...grant(known(READ_ONLY), REFERENCE_DATA)
      }
    },
    { id: 'role-auditor', name: 'Auditor (read only)', admin: false, privileges: grant(entities, { read: 'organization' }) }
  ]
  // Built through the admin API's validated changes, so the demo is a model the API would accept.
  let m = emptyModel()
  const apply = (f: (m: SecurityModel) => SecurityModel): void => { m = f(m) }
  for (const b of DEMO_ORG.businessUnits) apply(x => admin.addBusinessUnit(x, b))
  for (const u of DEMO_ORG.users) apply(x => admin.addUser(x, { ...u, managerId: undefined }))
  for (const u of DEMO_ORG.users) if (u.managerId !== null) apply(x => admin.updateUser(x, u.id, { managerId: u.managerId }))
  for (const t of DEMO_ORG.teams) apply(x => admin.addTeam(x, t))
  for (const r of roles) apply(x => admin.putRole(x, catalog, r))
  const userRoles: Record<string, string[]> = { 'u-avery': ['role-admin'], 'u-alice': ['role-sales'], 'u-nina': ['role-sales'], 'u-carol': ['role-sales-bu'], 'u-bob': ['role-sales-manager'], 'u-erin': ['role-auditor'] }
  for (const [u, rs] of Object.entries(userRoles)) apply(x => admin.setRoles(x, 'user', u, { roles: rs }))
  apply(x => admin.setRoles(x, 'team', 't-service', { roles: ['role-technician'] }))
  apply(x => admin.setHierarchy(x, { enabled: true, depth: 2 }))
  apply(x => admin.setSecuredField(x, catalog, { field: 'account.revenue', secured: true }))
  for (const p of demoProfiles(catalog)) apply(x => admin.putProfile(x, catalog, p))
  apply(x => admin.putFieldProfile(x, catalog, { id: 'fp-finance', name: 'Finance', users: ['u-avery', 'u-bob'], teams: [], permissions: { 'account.revenue': { read: true, update: true, create: true } } }))
  return m
}

/**
 * Offline profiles of the demo: field sales (reps and their manager) and field service (the technician).
 * Every device also gets what is shared with its user or the user's teams; a sales manager's device gets
 * the records of the people below him (hierarchy security), which his reps' devices do not have.
 */
export const demoProfiles = (catalog: Catalog): unknown[] => {
  const ownOrShared = [{ kind: 'ownership', mine: true, myTeams: true }, { kind: 'shared' }]
  const ownSharedOrBelow = [...ownOrShared, { kind: 'hierarchy' }]
  const salesEntities: Record<string, unknown> = {
    account: { rules: ownSharedOrBelow, modifiedWithinDays: null, relationships: ['contact_parentcustomerid_account'] },
    contact: { rules: [{ kind: 'related-only' }], modifiedWithinDays: null },
    lead: { rules: ownSharedOrBelow, modifiedWithinDays: null },
    opportunity: { rules: ownSharedOrBelow, modifiedWithinDays: null, relationships: ['opportunity_parentaccountid_account'] },
    task: { rules: ownSharedOrBelow, modifiedWithinDays: null },
    phonecall: { rules: ownSharedOrBelow, modifiedWithinDays: null },
    appointment: { rules: ownSharedOrBelow, modifiedWithinDays: null },
    product: { rules: [{ kind: 'all' }], modifiedWithinDays: null },
    competitor: { rules: [{ kind: 'all' }], modifiedWithinDays: null }
  }
  const service: Record<string, unknown> = {
    incident: { rules: ownOrShared, modifiedWithinDays: null, relationships: ['incident_customerid_account'] },
    account: { rules: [{ kind: 'related-only' }], modifiedWithinDays: null },
    task: { rules: ownOrShared, modifiedWithinDays: null },
    appointment: { rules: ownOrShared, modifiedWithinDays: null },
    product: { rules: [{ kind: 'all' }], modifiedWithinDays: null }
  }
  if (catalog.entities.has('fs_inspection')) {
    service.fs_inspection = { rules: ownOrShared, modifiedWithinDays: null }
    salesEntities.fs_inspection = { rules: ownSharedOrBelow, modifiedWithinDays: null }
  }
  return [
    { id: 'field-sales', name: 'Field sales', users: ['u-alice', 'u-nina', 'u-carol', 'u-bob'], entities: salesEntities },
    { id: 'field-service', name: 'Field service', users: ['u-dan'], entities: service }
  ]
}

/**
 * A new organization outside demo mode: one root unit and one administrator (`admin`), so that the admin
 * API can build the rest.
 */
export const bootstrapModel = (catalog: Catalog): SecurityModel => {
  let m = emptyModel()
  m = admin.addBusinessUnit(m, { id: 'bu-root', name: 'Organization' })
  m = admin.addUser(m, { id: 'u-admin', login: 'admin', fullName: 'Administrator', businessUnitId: 'bu-root' })
  m = admin.putRole(m, catalog, { id: 'role-admin', name: 'System Administrator', admin: true, privileges: grant([...catalog.entities.keys()], all('organization')) })
  return admin.setRoles(m, 'user', 'u-admin', { roles: ['role-admin'] })
}

const COMPANY = ['Contoso', 'Fabrikam', 'Northwind', 'Adventure Works', 'Litware', 'Tailspin', 'Wingtip', 'Proseware', 'Fourth Coffee', 'Alpine Ski House', 'Coho Winery', 'Woodgrove']
const SUFFIX = ['Ltd', 'GmbH', 'Inc', 'Group', 'Partners', 'Labs']
const FIRST = ['Ana', 'Ben', 'Chloe', 'Diego', 'Eva', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas', 'Kira', 'Liam', 'Mara', 'Noah']
const LAST = ['Berg', 'Costa', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Hansen', 'Ito', 'Jensen', 'Kowalski', 'Lopez', 'Meyer']
const CITY = ['Oslo', 'Lyon', 'Porto', 'Graz', 'Leeds', 'Turin', 'Ghent', 'Bergen']

/** How many records of each entity the demo has. */
export const DEMO_COUNTS: Readonly<Record<string, number>> = {
  account: 60, contact: 90, lead: 40, opportunity: 40, incident: 25, task: 20, phonecall: 15,
  appointment: 10, competitor: 6, product: 12, email: 10, fs_inspection: 10
}

const owners: readonly User[] = DEMO_ORG.users.filter(u => ['alice', 'nina', 'carol', 'dan', 'bob'].includes(u.login))

/** Writes the demo records to storage; returns their names. */
export const seedDemoRecords = async (storage: RecordStorage, catalog: Catalog, seed = 7): Promise<DocName[]> => {
  const gen = prng.create(seed)
  const pick = <T>(list: readonly T[]): T => list[prng.uint32(gen, 0, list.length - 1)]
  const made = new Map<string, string[]>()
  const ids = (entity: string): string[] => made.get(entity) ?? []
  const valueFor = (entity: string, a: AttributeDef, i: number): FieldValue | undefined => {
    switch (a.type) {
      case 'text': {
        if (a.name === 'name' || a.name === 'companyname') return entity === 'product' ? `${pick(['Pump', 'Valve', 'Sensor', 'Filter'])} ${100 + i}` : `${pick(COMPANY)} ${pick(SUFFIX)}`
        if (a.name === 'firstname') return pick(FIRST)
        if (a.name === 'lastname') return pick(LAST)
        if (a.name === 'fullname') return `${pick(FIRST)} ${pick(LAST)}`
        if (a.name.startsWith('emailaddress')) return `info${i}@example.com`
        if (a.name.startsWith('telephone') || a.name === 'mobilephone' || a.name === 'phonenumber') return `+47 555 ${String(1000 + i)}`
        if (a.name === 'address1_city') return pick(CITY)
        if (a.name === 'subject' || a.name === 'title' || a.name === 'fs_name') return `${pick(['Follow up', 'Site visit', 'Renewal', 'Install', 'Quote', 'Repair'])} #${i}`
        return prng.real53(gen) < 0.5 ? undefined : `${a.label} ${i}`.slice(0, a.maxLength ?? 200)
      }
      case 'memo': return prng.real53(gen) < 0.6 ? undefined : `Notes on ${entity} ${i}: ${pick(['met on site', 'asked for a quote', 'needs a call back', 'happy customer'])}.`
      case 'whole': return prng.uint32(gen, Math.max(a.min ?? 0, 0), Math.min(a.max ?? 100, 100))
      case 'decimal': return prng.uint32(gen, 0, 10_000) / 100
      case 'money': return prng.uint32(gen, 1_000, 5_000_000)
      case 'boolean': return prng.real53(gen) < 0.3
      case 'date': return `2026-${String(prng.uint32(gen, 1, 12)).padStart(2, '0')}-${String(prng.uint32(gen, 1, 28)).padStart(2, '0')}`
      case 'datetime': return `2026-${String(prng.uint32(gen, 1, 12)).padStart(2, '0')}-${String(prng.uint32(gen, 1, 28)).padStart(2, '0')}T${String(prng.uint32(gen, 8, 17)).padStart(2, '0')}:00:00.000Z`
      case 'optionset': return pick(a.options ?? []).value
      case 'lookup': {
        const candidates = (a.targets ?? []).filter(t => ids(t).length > 0)
        if (candidates.length === 0 || prng.real53(gen) < 0.2) return undefined
        const t = pick(candidates)
        return `${t}/${pick(ids(t))}`
      }
    }
  }
  const writes: Promise<unknown>[] = []
  const names: DocName[] = []
  let n = 0
  for (const [entityName, count] of Object.entries(DEMO_COUNTS)) {
    const entity = catalog.entities.get(entityName)
    if (entity === undefined) continue
    for (let i = 1; i <= count; i++) {
      n++
      const id = asRecordId(`${entityName.slice(0, 3)}${String(i).padStart(4, '0')}`)
      const owner = pick(owners)
      const values: Record<string, FieldValue> = {}
      for (const a of entity.attributes) {
        const v = valueFor(entityName, a, i)
        if (v !== undefined) values[a.name] = v
      }
      const doc = new Y.Doc()
      const at = new Date(Date.UTC(2026, 10, 1) + n * 3_600_000).toISOString()
      createRecord(doc, entity, { id, ...userOwned(owner.id, owner.businessUnitId), values }, { by: owner.id, at })
      const name = docName(entityName, id)
      names.push(name)
      writes.push(storage.append(name, Y.encodeStateAsUpdate(doc), { row: { entity: entityName, id, values: rowOf(entity, readRecord(doc, entity)) } }))
      doc.destroy()
      made.set(entityName, [...ids(entityName), id])
    }
  }
  await Promise.all(writes)
  return names
}
