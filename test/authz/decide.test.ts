import { describe, expect, it } from 'vitest'
import { fieldPermission, mayAccess, ModelIndex, readScope } from '../../src/authz/decide.ts'
import type { RecordOwnership } from '../../src/docs/ownership.ts'
import { emptyModel, type SecurityModel } from '../../src/authz/model.ts'
import type { Org } from '../../src/authz/org.ts'
import { chance, int, pick, withSeed } from '../helpers/seed.ts'

const org: Org = {
  businessUnits: [
    { id: 'root', name: 'Root', parentId: null }, { id: 'sales', name: 'Sales', parentId: 'root' },
    { id: 'north', name: 'North', parentId: 'sales' }, { id: 'south', name: 'South', parentId: 'sales' }, { id: 'svc', name: 'Service', parentId: 'root' }
  ],
  users: [
    { id: 'boss', login: 'boss', fullName: 'B', businessUnitId: 'root', managerId: null },
    { id: 'mgr', login: 'mgr', fullName: 'M', businessUnitId: 'sales', managerId: 'boss' },
    { id: 'rep', login: 'rep', fullName: 'R', businessUnitId: 'north', managerId: 'mgr' },
    { id: 'rep2', login: 'rep2', fullName: 'R2', businessUnitId: 'south', managerId: 'mgr' },
    { id: 'tech', login: 'tech', fullName: 'T', businessUnitId: 'svc', managerId: 'boss' }
  ],
  teams: [{ id: 'north-team', name: 'N', businessUnitId: 'north', members: ['rep', 'mgr'] }]
}
const rec = (ownerid: string, owningbusinessunit: string, name = 'account/x'): RecordOwnership => ({ name, ownerid, owningbusinessunit })
const model = (patch: Partial<SecurityModel>): ModelIndex => new ModelIndex({ ...emptyModel(org), hierarchy: { enabled: false, depth: 1 }, ...patch })
const role = (id: string, privileges: SecurityModel['roles'][number]['privileges']) => ({ id, name: id, admin: false, privileges })

describe('mayAccess', () => {
  it('reaches records by depth', () => {
    const at = (depth: 'user' | 'businessUnit' | 'parentChild' | 'organization') =>
      model({ roles: [role('r', { account: { write: depth } })], userRoles: { mgr: ['r'] } })
    const own = rec('systemuser/mgr', 'sales')
    const sameUnit = rec('systemuser/other', 'sales')
    const childUnit = rec('systemuser/rep', 'north')
    const elsewhere = rec('systemuser/tech', 'svc')
    const teamOwned = rec('team/north-team', 'north')
    const table = (ix: ModelIndex) => [own, sameUnit, childUnit, elsewhere, teamOwned].map(r => mayAccess(ix, 'mgr', 'write', 'account', r).allowed)
    expect(table(at('user'))).toEqual([true, false, false, false, true])
    expect(table(at('businessUnit'))).toEqual([true, true, false, false, false])
    expect(table(at('parentChild'))).toEqual([true, true, true, false, true])
    expect(table(at('organization'))).toEqual([true, true, true, true, true])
  })

  it('says why it refuses', () => {
    const ix = model({ roles: [role('r', { account: { write: 'user' } })], userRoles: { rep: ['r'] } })
    expect(mayAccess(ix, 'rep', 'delete', 'account', rec('systemuser/rep', 'north'))).toEqual({ allowed: false, why: 'no delete privilege on account' })
    expect(mayAccess(ix, 'rep', 'write', 'account', rec('systemuser/rep2', 'south'))).toEqual({ allowed: false, why: 'write privilege on account at user depth does not reach this record' })
    expect(mayAccess(ix, 'rep', 'write', 'account').allowed).toBe(true)
  })

  it('gives team roles at the team\'s business unit', () => {
    const ix = model({ roles: [role('r', { account: { read: 'businessUnit' } })], teamRoles: { 'north-team': ['r'] } })
    expect(mayAccess(ix, 'mgr', 'read', 'account', rec('systemuser/x', 'north')).allowed).toBe(true)
    expect(mayAccess(ix, 'mgr', 'read', 'account', rec('systemuser/x', 'sales')).allowed).toBe(false)
    expect(mayAccess(ix, 'tech', 'read', 'account', rec('systemuser/x', 'north')).allowed).toBe(false)
  })

  it('lets a manager reach reports\' records: direct reports fully, deeper ones read only, within the depth', () => {
    const base = { roles: [role('r', { account: { read: 'user', write: 'user' } })], userRoles: { boss: ['r'], mgr: ['r'] } } as const
    const on = model({ ...base, hierarchy: { enabled: true, depth: 2 } })
    expect(mayAccess(on, 'mgr', 'write', 'account', rec('systemuser/rep', 'north')).allowed).toBe(true)
    expect(mayAccess(on, 'boss', 'read', 'account', rec('systemuser/rep', 'north')).allowed).toBe(true)
    expect(mayAccess(on, 'boss', 'write', 'account', rec('systemuser/rep', 'north')).allowed).toBe(false)
    expect(mayAccess(model({ ...base, hierarchy: { enabled: true, depth: 1 } }), 'boss', 'read', 'account', rec('systemuser/rep', 'north')).allowed).toBe(false)
    expect(mayAccess(model({ ...base, hierarchy: { enabled: false, depth: 3 } }), 'mgr', 'read', 'account', rec('systemuser/rep', 'north')).allowed).toBe(false)
    // Hierarchy never grants a privilege the manager has at no depth.
    expect(mayAccess(on, 'mgr', 'delete', 'account', rec('systemuser/rep', 'north')).allowed).toBe(false)
  })

  it('honours shares with users and teams', () => {
    const ix = model({
      roles: [role('r', { account: { read: 'user', write: 'user' } })], userRoles: { rep: ['r'], tech: ['r'] },
      shares: [{ record: 'account/s1', principal: 'team/north-team', access: 'readwrite' }, { record: 'account/s2', principal: 'systemuser/tech', access: 'read' }]
    })
    expect(mayAccess(ix, 'rep', 'write', 'account', rec('systemuser/boss', 'root', 'account/s1')).allowed).toBe(true)
    expect(mayAccess(ix, 'tech', 'read', 'account', rec('systemuser/boss', 'root', 'account/s2')).allowed).toBe(true)
    expect(mayAccess(ix, 'tech', 'write', 'account', rec('systemuser/boss', 'root', 'account/s2')).allowed).toBe(false)
    expect(mayAccess(ix, 'tech', 'delete', 'account', rec('systemuser/boss', 'root', 'account/s1')).allowed).toBe(false)
  })

  it('grants through a share only a privilege the sharee\'s roles hold on the entity (own or team roles, any depth)', () => {
    const ix = model({
      roles: [role('reader', { account: { read: 'organization' } }), role('writer', { account: { read: 'user', write: 'user' } })],
      userRoles: { boss: ['reader'], rep2: ['writer'] },
      teamRoles: { 'north-team': ['reader'] },
      shares: [
        { record: 'account/s1', principal: 'systemuser/boss', access: 'readwrite' },
        { record: 'account/s1', principal: 'team/north-team', access: 'readwrite' },
        { record: 'account/s1', principal: 'systemuser/rep2', access: 'readwrite' },
        { record: 'account/s1', principal: 'systemuser/tech', access: 'read' }
      ]
    })
    const s1 = rec('systemuser/other', 'svc', 'account/s1')
    // read everywhere, but no write privilege: a read-write share does not make a writer
    expect(mayAccess(ix, 'boss', 'read', 'account', s1).allowed).toBe(true)
    expect(mayAccess(ix, 'boss', 'write', 'account', s1)).toEqual({ allowed: false, why: 'no write privilege on account' })
    // a team whose role has no write
    expect(mayAccess(ix, 'rep', 'write', 'account', s1).allowed).toBe(false)
    // write at user depth: the share widens its reach to this record
    expect(mayAccess(ix, 'rep2', 'write', 'account', s1).allowed).toBe(true)
    expect(mayAccess(ix, 'rep2', 'write', 'account', rec('systemuser/other', 'svc', 'account/s2')).allowed).toBe(false)
    // no privilege on the entity at all: a read share gives nothing, and readScope agrees
    expect(mayAccess(ix, 'tech', 'read', 'account', s1).allowed).toBe(false)
    expect(readScope(ix, 'tech', 'account').records.size).toBe(0)
    expect([...readScope(ix, 'rep2', 'account').records]).toEqual(['account/s1'])
  })
})

describe('field security', () => {
  it('grants a secured field only through a profile', () => {
    const ix = model({
      securedFields: ['account.revenue'],
      fieldProfiles: [{ id: 'p', name: 'P', users: ['mgr'], teams: ['north-team'], permissions: { 'account.revenue': { read: true, update: false, create: true } } }]
    })
    expect(fieldPermission(ix, 'tech', 'account', 'revenue')).toEqual({ read: false, update: false, create: false })
    expect(fieldPermission(ix, 'rep', 'account', 'revenue')).toEqual({ read: true, update: false, create: true })
    expect(fieldPermission(ix, 'tech', 'account', 'name')).toEqual({ read: true, update: true, create: true })
  })
})

describe('readScope', () => {
  it('contains exactly the records mayAccess lets a user read (seeded)', async () => {
    await withSeed(gen => {
      const depths = ['user', 'businessUnit', 'parentChild', 'organization'] as const
      for (let round = 0; round < 100; round++) {
        const roles = [role('a', { account: { read: pick(gen, depths) } }), role('b', { account: { read: pick(gen, depths) } })]
        const users = org.users.map(u => u.id)
        const userRoles = Object.fromEntries(users.filter(() => chance(gen, 0.5)).map(u => [u, [pick(gen, ['a', 'b'])]]))
        const teamRoles: Record<string, string[]> = chance(gen, 0.5) ? { 'north-team': ['b'] } : {}
        const shares = chance(gen, 0.5) ? [{ record: 'account/r3', principal: `systemuser/${pick(gen, users)}`, access: 'read' as const }] : []
        const ix = model({ roles, userRoles, teamRoles, shares, hierarchy: { enabled: chance(gen, 0.5), depth: int(gen, 1, 3) } })
        for (const u of users) {
          const scope = readScope(ix, u, 'account')
          for (let i = 0; i < 10; i++) {
            const owner = pick(gen, [...users.map(x => `systemuser/${x}`), 'team/north-team'])
            const r = rec(owner, pick(gen, org.businessUnits).id, `account/r${i}`)
            const inScope = scope.all || scope.businessUnits.has(r.owningbusinessunit) || scope.owners.has(r.ownerid) || scope.records.has(r.name)
            expect(inScope, JSON.stringify({ u, r })).toBe(mayAccess(ix, u, 'read', 'account', r).allowed)
          }
        }
      }
    })
  })
})
