import { describe, expect, it } from 'vitest'
import * as admin from '../../src/authz/admin.ts'
import { mayAccess, ModelIndex } from '../../src/authz/decide.ts'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { demoModel } from '../../src/server/demo.ts'

const catalog = buildCatalog()
const m0 = demoModel(catalog)

describe('admin changes', () => {
  it('bump the version and keep the model valid', () => {
    const m1 = admin.addBusinessUnit(m0, { id: 'bu-west', name: 'West', parentId: 'bu-sales' })
    expect(m1.version).toBe(m0.version + 1)
    const m2 = admin.addUser(m1, { id: 'u-walt', login: 'walt', fullName: 'Walt', businessUnitId: 'bu-west', managerId: 'u-bob' })
    const m3 = admin.setRoles(m2, 'user', 'u-walt', { roles: ['role-sales'] })
    expect(m3.userRoles['u-walt']).toEqual(['role-sales'])
    const m4 = admin.putRole(m3, catalog, { id: 'role-x', name: 'X', privileges: { account: { read: 'organization' } } })
    expect(m4.roles.find(r => r.id === 'role-x')?.privileges).toEqual({ account: { read: 'organization' } })
    const m5 = admin.setSecuredField(m4, catalog, { field: 'contact.birthdate', secured: true })
    expect(m5.securedFields).toContain('contact.birthdate')
    expect(admin.setSecuredField(m5, catalog, { field: 'contact.birthdate', secured: false }).securedFields).not.toContain('contact.birthdate')
    const m6 = admin.setShare(m5, 'account/acc0001', { principal: 'team/t-north', access: 'read' })
    expect(m6.shares).toContainEqual({ record: 'account/acc0001', principal: 'team/t-north', access: 'read' })
    expect(admin.setShare(m6, 'account/acc0001', { principal: 'team/t-north', access: null }).shares).toEqual([])
  })

  it.each([
    [() => admin.addBusinessUnit(m0, { name: 'X', parentId: 'nope' }), 'parentId', /no business unit "nope"/],
    [() => admin.addBusinessUnit(m0, { name: 'X' }), 'parentId', /root unit/],
    [() => admin.addBusinessUnit(m0, { name: '' }), 'name', /non-empty string/],
    [() => admin.addUser(m0, { login: 'alice', fullName: 'A', businessUnitId: 'bu-north' }), 'login', /"alice" exists/],
    [() => admin.addUser(m0, { login: 'Bad Login', fullName: 'A', businessUnitId: 'bu-north' }), 'login', /lowercase/],
    [() => admin.updateUser(m0, 'u-avery', { managerId: 'u-alice' }), 'managerId', /cycle/],
    [() => admin.addTeam(m0, { name: 'T', businessUnitId: 'bu-north', members: ['ghost'] }), 'members', /no user "ghost"/],
    [() => admin.putRole(m0, catalog, { name: 'R', privileges: { spaceship: { read: 'user' } } }), 'privileges.spaceship', /unknown entity/],
    [() => admin.putRole(m0, catalog, { name: 'R', privileges: { account: { fly: 'user' } } }), 'privileges.account.fly', /unknown privilege/],
    [() => admin.putRole(m0, catalog, { name: 'R', privileges: { account: { read: 'galaxy' } } }), 'privileges.account.read', /unknown depth/],
    [() => admin.setRoles(m0, 'user', 'u-alice', { roles: ['role-none'] }), 'roles', /no role/],
    [() => admin.setHierarchy(m0, { enabled: true, depth: 0 }), 'depth', /1 to 10/],
    [() => admin.setSecuredField(m0, catalog, { field: 'account.nothing', secured: true }), 'field', /no attribute/],
    [() => admin.putFieldProfile(m0, catalog, { name: 'P', permissions: { 'account.revenue': { read: 'yes' } } }), 'permissions.account.revenue.read', /true or false/],
    [() => admin.setShare(m0, 'account/a', { principal: 'robot/1', access: 'read' }), 'principal', /systemuser/],
    [() => admin.setShare(m0, 'account/a', { principal: 'systemuser/u-carol/x', access: 'read' }), 'principal', /systemuser/],
    [() => admin.setShare(m0, 'account/a', { principal: 'team/t-north/', access: 'read' }), 'principal', /systemuser/],
    [() => admin.setSecuredField(m0, catalog, { field: 'account.revenue.x', secured: true }), 'field', /<entity>.<attribute>/],
    [() => admin.putFieldProfile(m0, catalog, { name: 'P', permissions: { 'account.revenue.': { read: true } } }), 'permissions.account.revenue.', /<entity>.<attribute>/],
    [() => admin.setShare(m0, 'account/a', { principal: 'team/t-north', access: 'all' }), 'access', /readwrite/],
    [() => admin.addUser(m0, 'not an object'), 'body', /JSON object/]
  ])('refuses bad input naming the field (%#)', (f, field, message) => {
    try {
      f()
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(admin.AdminError)
      expect((e as admin.AdminError).field).toBe(field)
      expect((e as Error).message).toMatch(message)
    }
  })
})

describe('sign-in fields of a user (issue 13)', () => {
  it('disabled: kept until changed; a disabled user holds no privileges and is no administrator', () => {
    const off = admin.updateUser(m0, 'u-avery', { disabled: true })
    expect(off.org.users.find(u => u.id === 'u-avery')?.disabled).toBe(true)
    expect(admin.updateUser(off, 'u-avery', { fullName: 'Avery A.' }).org.users.find(u => u.id === 'u-avery')?.disabled).toBe(true)
    const ix = new ModelIndex(off)
    expect(ix.isAdmin('u-avery')).toBe(false)
    expect(mayAccess(ix, 'u-avery', 'read', 'account').allowed).toBe(false)
    const on = new ModelIndex(admin.updateUser(off, 'u-avery', { disabled: false }))
    expect(on.isAdmin('u-avery')).toBe(true)
    expect(mayAccess(on, 'u-avery', 'read', 'account').allowed).toBe(true)
  })

  it('externalId: set, looked up, unique, cleared with null, kept when absent', () => {
    const m1 = admin.updateUser(m0, 'u-alice', { externalId: 'idp|alice' })
    expect(new ModelIndex(m1).userByExternalId('idp|alice')?.id).toBe('u-alice')
    expect(admin.updateUser(m1, 'u-alice', { fullName: 'Alice' }).org.users.find(u => u.id === 'u-alice')?.externalId).toBe('idp|alice')
    expect(admin.updateUser(m1, 'u-alice', { externalId: 'idp|alice' }).org.users.find(u => u.id === 'u-alice')?.externalId).toBe('idp|alice')
    expect(() => admin.updateUser(m1, 'u-bob', { externalId: 'idp|alice' })).toThrow(/externalId: "idp\|alice" exists/)
    const cleared = admin.updateUser(m1, 'u-alice', { externalId: null })
    expect('externalId' in cleared.org.users.find(u => u.id === 'u-alice')!).toBe(false)
    expect(new ModelIndex(cleared).userByExternalId('idp|alice')).toBeUndefined()
    expect(() => admin.updateUser(m1, 'u-bob', { externalId: '' })).toThrow(/externalId/)
    expect(() => admin.addUser(m1, { login: 'zed', fullName: 'Z', businessUnitId: 'bu-north', externalId: 'idp|alice' })).toThrow(/externalId/)
  })

  it('passwords an administrator sets: 12 to 1024 characters, for a known user', () => {
    expect(admin.parsePasswordChange(m0, 'u-alice', { password: 'twelve chars' })).toEqual({ password: 'twelve chars' })
    expect(() => admin.parsePasswordChange(m0, 'u-alice', { password: 'eleven char' })).toThrow('password: shorter than 12 characters')
    expect(() => admin.parsePasswordChange(m0, 'u-alice', { password: 12345678901234 })).toThrow(/password: expected a string/)
    expect(() => admin.parsePasswordChange(m0, 'u-nobody', { password: 'twelve chars' })).toThrow(/id: no user/)
  })
})
