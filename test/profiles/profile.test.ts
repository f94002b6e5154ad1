import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { parseProfile, ProfileError, profileWarnings } from '../../src/profiles/profile.ts'
import { computeScope } from '../../src/authz/scope.ts'
import { ModelIndex } from '../../src/authz/decide.ts'
import * as admin from '../../src/authz/admin.ts'
import type { SecurityModel } from '../../src/authz/model.ts'
import { demoModel, demoProfiles } from '../../src/server/demo.ts'
import type { Row } from '../../src/projection/rows.ts'

const catalog = buildCatalog()
const profile = (entities: Record<string, unknown>) => ({ id: 'p', name: 'P', users: [], entities })
const mine = { kind: 'ownership', mine: true }

describe('offline profile validation', () => {
  it('accepts the demo profiles and defaults the data filter to 10 days', () => {
    for (const p of demoProfiles(catalog)) expect(() => parseProfile(catalog, p)).not.toThrow()
    expect(parseProfile(catalog, profile({ account: { rules: [mine] } })).entities.account.modifiedWithinDays).toBe(10)
  })

  it('accepts shared and hierarchy rules next to ownership and custom rules', () => {
    const p = parseProfile(catalog, profile({ account: { rules: [{ kind: 'shared' }, { kind: 'hierarchy' }, mine] } }))
    expect(p.entities.account.rules).toEqual([{ kind: 'shared' }, { kind: 'hierarchy' }, { kind: 'ownership', mine: true, myTeams: false, myBusinessUnit: false }])
    // What the parser returns parses to itself (the admin API stores it and GET /profiles returns it).
    expect(parseProfile(catalog, p)).toEqual(p)
  })

  it('warns about a hierarchy rule while hierarchy security is off', () => {
    const p = parseProfile(catalog, profile({ account: { rules: [mine, { kind: 'hierarchy' }] } }))
    expect(profileWarnings(p, true)).toEqual([])
    expect(profileWarnings(p, false)).toEqual([expect.stringMatching(/^entities\.account\.rules\[1\]: hierarchy security is off/)])
  })

  it('warns about business-unit ownership', () => {
    const warnings = profileWarnings(parseProfile(catalog, profile({ product: { rules: [{ kind: 'ownership', myBusinessUnit: true }] } })), true)
    expect(warnings[0]).toMatch(/entities\.product\.rules\[0\].*small master data/)
  })

  it.each([
    [profile({ spaceship: { rules: [mine] } }), 'entities.spaceship', /unknown or not offline-enabled/],
    [profile({ account: { rules: [] } }), 'entities.account.rules', /at least one rule/],
    [profile({ account: { rules: [{ kind: 'all' }, mine] } }), 'entities.account.rules', /"all" must be the only rule/],
    [profile({ account: { rules: [mine] }, contact: { rules: [{ kind: 'related-only' }, mine] } }), 'entities.contact.rules', /"related-only" must be the only rule/],
    [profile({ contact: { rules: [{ kind: 'related-only' }] } }), 'entities.contact.rules', /related-only needs a profile relationship that reaches contact/],
    [profile({ account: { rules: [{ kind: 'ownership' }] } }), 'entities.account.rules[0]', /at least one of mine, myTeams, myBusinessUnit/],
    [profile({ account: { rules: [{ kind: 'custom', conditions: [1, 2, 3, 4].map(() => ({ field: 'name', op: 'eq', value: 'x' })) }] } }), 'entities.account.rules[0].conditions', /at most 3 conditions/],
    [profile({ account: { rules: [{ kind: 'custom', conditions: [{ field: 'nothing', op: 'eq', value: 1 }] }] } }), 'entities.account.rules[0].conditions[0]', /no attribute "nothing"/],
    [profile({ account: { rules: [{ kind: 'custom', conditions: [{ field: 'name', op: 'like', value: 1 }] }] } }), 'entities.account.rules[0].conditions[0].op', /unknown op/],
    [profile({ account: { rules: [{ kind: 'teleport' }] } }), 'entities.account.rules[0].kind', /unknown rule kind "teleport" \(all, related-only, ownership, shared, hierarchy, custom\)/],
    [profile({ account: { rules: ['shared'] } }), 'entities.account.rules[0]', /expected an object with "kind"/],
    [profile({ account: { rules: [{ kind: 'shared', mine: true }] } }), 'entities.account.rules[0].mine', /unknown key "mine" in a "shared" rule/],
    [profile({ account: { rules: [{ kind: 'hierarchy', depth: 2 }] } }), 'entities.account.rules[0].depth', /unknown key "depth" in a "hierarchy" rule/],
    [profile({ account: { rules: [{ kind: 'all' }, { kind: 'hierarchy' }] } }), 'entities.account.rules', /"all" must be the only rule/],
    [profile({ account: { rules: [mine] }, contact: { rules: [{ kind: 'related-only' }, { kind: 'shared' }] } }), 'entities.contact.rules', /"related-only" must be the only rule/],
    [profile({ account: { rules: [{ kind: 'ownership', myTeam: true }] } }), 'entities.account.rules[0].myTeam', /unknown key "myTeam" in an ownership rule/],
    [profile({ account: { rules: [{ kind: 'ownership', mine: 'yes' }] } }), 'entities.account.rules[0].mine', /true or false/],
    [profile({ account: { rules: [{ kind: 'custom', conditions: [{ field: 'name', op: 'eq' }] }] } }), 'entities.account.rules[0].conditions[0]', /op eq needs a value/],
    [profile({ account: { rules: [mine], relationship: [] } }), 'entities.account.relationship', /unknown key "relationship"/],
    [profile({ account: { rules: [mine], modifiedWithinDays: '5' } }), 'entities.account.modifiedWithinDays', /whole number of days from 0 to 36500, or null/],
    [profile({ account: { rules: [mine], relationships: 'contact_parentcustomerid_account' } }), 'entities.account.relationships', /array of relationship names/],
    [{ id: 'p', name: 'P', entities: {} }, 'entities', /at least one entity/],
    [{ id: 'p p', name: 'P', entities: { account: { rules: [mine] } } }, 'id', /1-64/],
    ['a profile', 'profile', /JSON object/],
    [profile({ account: { rules: [mine], relationships: ['account_parentaccountid_account'] } }), 'entities.account.relationships', /self-references/],
    [profile({ account: { rules: [mine], relationships: ['contact_parentcustomerid_account'] } }), 'entities.account.relationships', /contact, which the profile does not include/],
    [profile({ account: { rules: [mine], relationships: ['nope'] } }), 'entities.account.relationships', /no relationship "nope"/],
    [profile({ account: { rules: [mine], relationships: ['contact_parentcustomerid_account', 'opportunity_parentaccountid_account'] }, contact: { rules: [mine] }, opportunity: { rules: [mine] } }), 'entities.account.relationships', /at most one 1:N or N:N/],
    [profile({ account: { rules: [mine], relationships: Array.from({ length: 11 }, () => 'x') } }), 'entities.account.relationships', /at most 10 relationships/],
    [profile({ account: { rules: [mine], relationships: ['contact_parentcustomerid_account'] }, contact: { rules: [mine], relationships: ['contact_parentcustomerid_account'] } }), 'entities.account.relationships', /circular reference: account -> contact -> account/],
    [profile({ account: { rules: [mine], modifiedWithinDays: -1 } }), 'entities.account.modifiedWithinDays', /whole number of days/],
    [profile({ account: { rules: [mine], modifiedWithinDays: 1e9 } }), 'entities.account.modifiedWithinDays', /from 0 to 36500/],
  ])('refuses a bad profile naming the entity and rule (%#)', (p, field, message) => {
    try {
      parseProfile(catalog, p)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ProfileError)
      expect((e as ProfileError).field).toBe(field)
      expect((e as Error).message).toMatch(message)
    }
  })
})

describe('offline scope', () => {
  const ix = new ModelIndex(demoModel(catalog))
  const row = (id: string, ownerid: string, bu: string, extra: Row = {}): Row => ({ id, ownerid, owningbusinessunit: bu, modifiedon: '2026-11-20T00:00:00.000Z', ...extra })
  const rows: Record<string, Row[]> = {
    account: [row('a1', 'systemuser/u-alice', 'bu-north'), row('a2', 'systemuser/u-nina', 'bu-north'), row('a3', 'systemuser/u-carol', 'bu-south'), row('a4', 'systemuser/u-alice', 'bu-north', { modifiedon: '2026-01-01T00:00:00.000Z' })],
    contact: [row('c1', 'systemuser/u-nina', 'bu-north', { parentcustomerid: 'account/a1' }), row('c2', 'systemuser/u-carol', 'bu-south', { parentcustomerid: 'account/a1' }), row('c3', 'systemuser/u-nina', 'bu-north', { parentcustomerid: 'account/a2' })],
    product: [row('p1', 'systemuser/u-avery', 'bu-contoso')]
  }
  const rowsOf = (e: string): Row[] => rows[e] ?? []
  const now = new Date('2026-11-27T00:00:00.000Z')

  it('is the rules, the data filter and the relationships, within read privilege', () => {
    const p = parseProfile(catalog, profile({
      account: { rules: [mine], relationships: ['contact_parentcustomerid_account'] },
      contact: { rules: [{ kind: 'related-only' }] },
      product: { rules: [{ kind: 'all' }], modifiedWithinDays: null }
    }))
    // a4 is too old; c1 comes with a1; c2 is related but alice cannot read it (other unit); c3's account is not in scope.
    expect([...computeScope(catalog, p, ix, 'u-alice', rowsOf, now)].sort()).toEqual(['account/a1', 'contact/c1', 'product/p1'])
    const custom = parseProfile(catalog, profile({ account: { rules: [{ kind: 'custom', conditions: [{ field: 'ownerid', op: 'eq', value: 'systemuser/u-nina' }] }] } }))
    expect([...computeScope(catalog, custom, ix, 'u-alice', rowsOf, now)]).toEqual(['account/a2'])
    // erin reads everything: a business-unit rule at her unit finds nothing, "all" finds every fresh account.
    const all = parseProfile(catalog, profile({ account: { rules: [{ kind: 'all' }] } }))
    expect([...computeScope(catalog, all, ix, 'u-erin', rowsOf, now)].sort()).toEqual(['account/a1', 'account/a2', 'account/a3'])
  })

  const scopeOf = (model: SecurityModel, userId: string, rules: unknown[], more: Record<string, Row[]> = {}): string[] =>
    [...computeScope(catalog, parseProfile(catalog, profile({ account: { rules } })), new ModelIndex(model), userId, e => [...rowsOf(e), ...(more[e] ?? [])], now)].sort()

  it('shared: records shared with the user or one of the user\'s teams, if the user may read them', () => {
    const m0 = demoModel(catalog)
    // a3 is carol's (bu-south): alice reads it only through the share. a2 is nina's: alice reads it (her
    // unit) but no ownership rule of hers reaches it; the share with her team does.
    let m = admin.setShare(m0, 'account/a3', { principal: 'systemuser/u-alice', access: 'read' })
    m = admin.setShare(m, 'account/a2', { principal: 'team/t-north', access: 'read' })
    m = admin.setShare(m, 'account/a1', { principal: 'systemuser/u-nina', access: 'read' })
    expect(scopeOf(m0, 'u-alice', [{ kind: 'shared' }])).toEqual([])
    expect(scopeOf(m, 'u-alice', [{ kind: 'shared' }])).toEqual(['account/a2', 'account/a3'])
    expect(scopeOf(m, 'u-alice', [{ kind: 'shared' }, mine])).toEqual(['account/a1', 'account/a2', 'account/a3'])
    // A share with someone who may not read the entity sends nothing: dan has no privilege on opportunity.
    const opp = [row('o1', 'systemuser/u-alice', 'bu-north')]
    const shared = admin.setShare(m0, 'opportunity/o1', { principal: 'systemuser/u-dan', access: 'read' })
    const p = parseProfile(catalog, profile({ opportunity: { rules: [{ kind: 'shared' }] } }))
    expect([...computeScope(catalog, p, new ModelIndex(shared), 'u-dan', e => e === 'opportunity' ? opp : [], now)]).toEqual([])
    expect([...computeScope(catalog, p, new ModelIndex(admin.setShare(shared, 'opportunity/o1', { principal: 'systemuser/u-carol', access: 'read' })), 'u-carol', e => e === 'opportunity' ? opp : [], now)]).toEqual(['opportunity/o1'])
  })

  it('hierarchy: records owned by the users below, as deep as hierarchy security reaches', () => {
    const m = demoModel(catalog) // depth 2: avery -> bob -> alice, nina, carol
    const bobs = { account: [row('a5', 'systemuser/u-bob', 'bu-sales'), row('a6', 'team/t-north', 'bu-north')] }
    const hierarchy = [{ kind: 'hierarchy' }]
    expect(scopeOf(m, 'u-bob', hierarchy, bobs)).toEqual(['account/a1', 'account/a2', 'account/a3'])
    expect(scopeOf(m, 'u-bob', [mine], bobs)).toEqual(['account/a5'])
    expect(scopeOf(m, 'u-alice', hierarchy, bobs)).toEqual([])
    expect(scopeOf(m, 'u-avery', hierarchy, bobs)).toEqual(['account/a1', 'account/a2', 'account/a3', 'account/a5'])
    expect(scopeOf(admin.setHierarchy(m, { enabled: true, depth: 1 }), 'u-avery', hierarchy, bobs)).toEqual(['account/a5'])
    expect(scopeOf(admin.setHierarchy(m, { enabled: false }), 'u-bob', hierarchy, bobs)).toEqual([])
  })
})
