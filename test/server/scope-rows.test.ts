// The server's scope index against the reference: random organizations, roles, teams, shares, hierarchy
// settings and offline profiles (every rule kind, custom conditions, data filters, relationships); random
// creates, assigns, edits, deletes and secured-field writes committed to real storage (SQLite, or
// PostgreSQL with FIELDSYNC_STORE=pg), with model changes and time passing in between. At every
// checkpoint each user's scope from the index (kept current from the feed) equals computeScope over every
// projected row. Seeded: SEED=<n> replays.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { fieldPermission, ModelIndex } from '../../src/authz/decide.ts'
import { DEPTHS, emptyModel, type Role, type SecurityModel, type Share } from '../../src/authz/model.ts'
import type { Org } from '../../src/authz/org.ts'
import { computeScope } from '../../src/authz/scope.ts'
import { parseProfile, type OfflineProfile } from '../../src/profiles/profile.ts'
import { profileOf } from '../../src/server/device-metadata.ts'
import { offlineScope, ScopeRowIndex } from '../../src/server/scope-rows.ts'
import { openTestStores } from '../helpers/test-store.ts'
import { parseFieldDocName, type DocName } from '../../src/ids.ts'
import type { Row } from '../../src/projection/rows.ts'
import { chance, int, pick, withSeed, type Gen } from '../helpers/seed.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const catalog = buildCatalog()
const cleanups = useCleanups()
const ENTITIES = ['account', 'contact', 'opportunity', 'lead'] as const
type Entity = typeof ENTITIES[number]
const NAME: Record<Entity, string> = { account: 'name', contact: 'fullname', opportunity: 'name', lead: 'companyname' }
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5']
const TEAMS = ['t1', 't2']
const UNITS = ['root', 'a', 'b', 'a1']
const IDS = Array.from({ length: 16 }, (_, i) => `r${i}`)
const DAY = 86_400_000

const randomRole = (gen: Gen, id: string): Role => ({
  id, name: id, admin: false,
  privileges: Object.fromEntries(ENTITIES.filter(() => chance(gen, 0.9)).map(e => [e, chance(gen, 0.9) ? { read: pick(gen, DEPTHS) } : { write: 'user' as const }]))
})

const randomOrg = (gen: Gen): Org => ({
  businessUnits: [{ id: 'root', name: 'root', parentId: null }, { id: 'a', name: 'a', parentId: 'root' }, { id: 'b', name: 'b', parentId: 'root' }, { id: 'a1', name: 'a1', parentId: 'a' }],
  users: USERS.map((u, i) => ({ id: u, login: u, fullName: u, businessUnitId: pick(gen, UNITS), managerId: i === 0 || chance(gen, 0.2) ? null : pick(gen, USERS.slice(0, i)) })),
  teams: TEAMS.map(t => ({ id: t, name: t, businessUnitId: pick(gen, UNITS), members: USERS.filter(() => chance(gen, 0.4)) }))
})

const condition = (gen: Gen, entity: Entity): unknown => pick(gen, [
  { field: NAME[entity], op: 'contains', value: pick(gen, ['a', 'b', 'x']) },
  { field: 'statecode', op: pick(gen, ['eq', 'ne']), value: int(gen, 0, 1) },
  { field: 'ownerid', op: 'eq', value: `systemuser/${pick(gen, USERS)}` },
  { field: 'modifiedon', op: pick(gen, ['ge', 'lt']), value: new Date(Date.UTC(2026, 10, int(gen, 1, 28))).toISOString() },
  { field: 'telephone1', op: pick(gen, ['null', 'not-null']) },
  ...(entity === 'account' ? [{ field: 'revenue', op: 'gt', value: int(gen, 0, 100) }] : []),
  ...(entity === 'contact' ? [{ field: 'parentcustomerid', op: 'not-null' }] : [])
])

const randomRules = (gen: Gen, entity: Entity): unknown[] => {
  const r = int(gen, 0, 9)
  if (r === 0) return [{ kind: 'all' }]
  if (r === 1) return [{ kind: 'related-only' }]
  const rules: unknown[] = []
  if (chance(gen, 0.6)) rules.push({ kind: 'ownership', mine: chance(gen, 0.7), myTeams: chance(gen, 0.5), myBusinessUnit: chance(gen, 0.3) })
  if (chance(gen, 0.4)) rules.push({ kind: 'shared' })
  if (chance(gen, 0.4)) rules.push({ kind: 'hierarchy' })
  if (chance(gen, 0.3)) rules.push({ kind: 'custom', conditions: Array.from({ length: int(gen, 1, 3) }, () => condition(gen, entity)) })
  return rules.length > 0 ? rules : [{ kind: 'ownership', mine: true }]
}

/** A random valid offline profile (drawn again until the profile rules accept it). */
const randomProfile = (gen: Gen, id: string, users: string[]): OfflineProfile => {
  for (;;) {
    const entities = ENTITIES.filter(() => chance(gen, 0.7))
    if (entities.length === 0) continue
    const body = {
      id, name: id, users,
      entities: Object.fromEntries(entities.map(e => [e, {
        rules: randomRules(gen, e),
        modifiedWithinDays: chance(gen, 0.6) ? null : int(gen, 1, 60),
        relationships: catalog.relationships.filter(r => r.from === e && r.to !== e && r.attribute !== undefined && (entities as string[]).includes(r.to) && chance(gen, 0.4)).map(r => r.name)
      }]))
    }
    try { return parseProfile(catalog, body) } catch { /* drawn again */ }
  }
}

const randomProfiles = (gen: Gen): OfflineProfile[] => {
  const a = USERS.filter(() => chance(gen, 0.6))
  return [randomProfile(gen, 'p1', a), randomProfile(gen, 'p2', USERS.filter(u => !a.includes(u)))]
}

const randomModel = (gen: Gen): SecurityModel => ({
  ...emptyModel(randomOrg(gen)),
  roles: [randomRole(gen, 'r0'), randomRole(gen, 'r1'), randomRole(gen, 'r2')],
  userRoles: Object.fromEntries(USERS.map(u => [u, chance(gen, 0.9) ? [pick(gen, ['r0', 'r1', 'r2'])] : []])),
  teamRoles: { t1: [pick(gen, ['r0', 'r1', 'r2'])] },
  hierarchy: { enabled: chance(gen, 0.6), depth: int(gen, 1, 3) },
  securedFields: ['account.revenue'],
  fieldProfiles: [{ id: 'fp', name: 'fp', users: USERS.filter(() => chance(gen, 0.5)), teams: [], permissions: { 'account.revenue': { read: true, update: true, create: true } } }],
  profiles: randomProfiles(gen)
})

/** A random change of the model: roles, assignments, teams, units, managers, hierarchy, shares, profiles. */
const changeModel = (gen: Gen, m: SecurityModel): SecurityModel => {
  const next = { ...m, version: m.version + 1 }
  switch (int(gen, 0, 8)) {
    case 0: return { ...next, roles: m.roles.map(r => chance(gen, 0.5) ? randomRole(gen, r.id) : r) }
    case 1: return { ...next, userRoles: { ...m.userRoles, [pick(gen, USERS)]: chance(gen, 0.8) ? [pick(gen, ['r0', 'r1', 'r2'])] : [] } }
    case 2: return { ...next, org: { ...m.org, teams: m.org.teams.map(t => chance(gen, 0.5) ? { ...t, members: USERS.filter(() => chance(gen, 0.4)) } : t) } }
    case 3: return { ...next, org: { ...m.org, users: m.org.users.map(u => chance(gen, 0.3) ? { ...u, businessUnitId: pick(gen, UNITS) } : u) } }
    case 4: return { ...next, org: randomOrg(gen) }
    case 5: return { ...next, hierarchy: { enabled: !m.hierarchy.enabled, depth: int(gen, 1, 3) } }
    case 6: return { ...next, profiles: randomProfiles(gen) }
    case 7: return { ...next, fieldProfiles: m.fieldProfiles.map(p => ({ ...p, users: USERS.filter(() => chance(gen, 0.5)) })) }
    default: {
      const record = `${pick(gen, ENTITIES)}/${pick(gen, IDS)}`
      const principal = chance(gen, 0.7) ? `systemuser/${pick(gen, USERS)}` : `team/${pick(gen, TEAMS)}`
      const rest = m.shares.filter(s => !(s.record === record && s.principal === principal))
      return { ...next, shares: chance(gen, 0.7) ? [...rest, { record, principal, access: pick(gen, ['read', 'readwrite'] as const) } satisfies Share] : rest }
    }
  }
}

describe('the scope index', () => {
  it('gives every user the scope computeScope gives over every row, through random changes of records and privileges', async () => {
    await withSeed(async gen => {
      const dir = mkdtempSync(join(tmpdir(), 'fieldsync-scope-rows-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const t = await openTestStores(dir, true, catalog, 1024, {}, { empty: true })
      cleanups.push(async () => { await t.close(); await t.drop() })
      const { storage, projection } = t
      // (the adapter's own reads for the index; the test's for the reference)
      const index = new ScopeRowIndex(catalog, t.stores.projection, t.stores.storage)
      let model = randomModel(gen)
      let now = Date.UTC(2026, 10, 27)
      const empty = Y.encodeStateAsUpdate(new Y.Doc())
      const owner = (): { ownerid: string, owningbusinessunit: string } => {
        const ix = new ModelIndex(model)
        const ref = chance(gen, 0.8) ? `systemuser/${pick(gen, USERS)}` : `team/${pick(gen, TEAMS)}`
        const unit = ref.startsWith('team/') ? ix.model.org.teams.find(t => `team/${t.id}` === ref)!.businessUnitId : ix.user(ref.slice('systemuser/'.length))!.businessUnitId
        return { ownerid: ref, owningbusinessunit: chance(gen, 0.9) ? unit : pick(gen, UNITS) }
      }
      const lookup = (target: Entity): string | null => chance(gen, 0.6) ? `${target}/${pick(gen, IDS)}` : null
      const randomRow = (entity: Entity, id: string): Row => ({
        id, ...owner(), statecode: int(gen, 0, 1), createdby: pick(gen, USERS), modifiedby: pick(gen, USERS),
        createdon: new Date(now - 40 * DAY).toISOString(), modifiedon: new Date(now - int(gen, 0, 40) * DAY).toISOString(),
        [NAME[entity]]: pick(gen, ['alpha', 'beta', 'xray', 'delta']), telephone1: chance(gen, 0.5) ? '+47 1' : null,
        ...(entity === 'account' ? { parentaccountid: lookup('account'), primarycontactid: lookup('contact'), originatingleadid: lookup('lead') } : {}),
        ...(entity === 'contact' ? { parentcustomerid: lookup('account'), originatingleadid: lookup('lead') } : {}),
        ...(entity === 'opportunity' ? { parentaccountid: lookup('account'), parentcontactid: lookup('contact'), originatingleadid: lookup('lead') } : {}),
        ...(entity === 'lead' ? { parentaccountid: lookup('account'), parentcontactid: lookup('contact') } : {})
      })
      const write = (entity: Entity, id: string, values: Row | null, partial?: boolean): Promise<unknown> =>
        storage.append(`${entity}/${id}` as DocName, empty, { row: { entity, id, values, partial } })

      /** Every user's scope both ways, the index's prepared for several users at once. */
      const checkpoint = async (step: number): Promise<void> => {
        const ix = new ModelIndex(model)
        const head = storage.head()
        const at = new Date(now)
        await Promise.all(USERS.map(async userId => {
          const profile = profileOf(model, userId)
          if (profile === undefined) return
          const readableFields = model.securedFields.filter(f => { const [e, a] = f.split('.'); return fieldPermission(ix, userId, e, a).read })
          const expected = computeScope(catalog, profile, ix, userId, e => projection.all(e), at)
          for (const f of readableFields) {
            const [e, a] = f.split('.')
            for (const d of storage.fieldDocuments(e, a)) if (expected.has(parseFieldDocName(d)!.record)) expected.add(d)
          }
          const fields = readableFields.filter(f => f.split('.')[0] in profile.entities)
          await index.prepare(profile, fields, head)
          const actual = offlineScope(index, catalog, profile, ix, userId, fields, at)
          expect([...actual].sort(), `step ${step}, ${userId}`).toEqual([...expected].sort())
        }))
      }

      // Most records exist from the start; the steps change them.
      for (const e of ENTITIES) for (const id of IDS) if (chance(gen, 0.7)) await write(e, id, randomRow(e, id))
      await checkpoint(-1)
      const STEPS = 300
      for (let step = 0; step < STEPS; step++) {
        const entity = pick(gen, ENTITIES)
        const id = pick(gen, IDS)
        const r = int(gen, 0, 19)
        if (r < 7) await write(entity, id, randomRow(entity, id)) // create, or edit every column
        else if (r < 9) await write(entity, id, { ...owner(), modifiedon: new Date(now).toISOString() }, true) // assign
        else if (r < 10) await write(entity, id, null) // delete
        else if (r < 12) await storage.append(`account/${id}/revenue` as DocName, empty, { row: { entity: 'account', id, values: { revenue: int(gen, 0, 100) }, partial: true } })
        else if (r < 16) model = changeModel(gen, model)
        else if (r < 17) now += int(gen, 0, 3) * DAY
        else await checkpoint(step)
      }
      await checkpoint(STEPS)
    })
  })
})
