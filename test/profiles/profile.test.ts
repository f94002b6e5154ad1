import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { parseProfile, ProfileError } from '../../src/profiles/profile.ts'
import { computeScope } from '../../src/profiles/scope.ts'
import { ModelIndex } from '../../src/authz/decide.ts'
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

  it('warns about business-unit ownership', () => {
    const warnings: string[] = []
    parseProfile(catalog, profile({ product: { rules: [{ kind: 'ownership', myBusinessUnit: true }] } }), warnings)
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
    [profile({ account: { rules: [{ kind: 'custom', conditions: [{ field: 'name', op: 'like', value: 1 }] }] } }), 'entities.account.rules[0].conditions[0]', /unknown op/],
    [profile({ account: { rules: [{ kind: 'teleport' }] } }), 'entities.account.rules[0]', /unknown rule kind/],
    [profile({ account: { rules: [mine], relationships: ['account_parentaccountid_account'] } }), 'entities.account.relationships', /self-references/],
    [profile({ account: { rules: [mine], relationships: ['contact_parentcustomerid_account'] } }), 'entities.account.relationships', /contact, which the profile does not include/],
    [profile({ account: { rules: [mine], relationships: ['nope'] } }), 'entities.account.relationships', /no relationship "nope"/],
    [profile({ account: { rules: [mine], relationships: ['contact_parentcustomerid_account', 'opportunity_parentaccountid_account'] }, contact: { rules: [mine] }, opportunity: { rules: [mine] } }), 'entities.account.relationships', /at most one 1:N or N:N/],
    [profile({ account: { rules: [mine], relationships: Array.from({ length: 11 }, () => 'x') } }), 'entities.account.relationships', /at most 10 relationships/],
    [profile({ account: { rules: [mine], relationships: ['contact_parentcustomerid_account'] }, contact: { rules: [mine], relationships: ['contact_parentcustomerid_account'] } }), 'entities.account.relationships', /circular reference: account -> contact -> account/],
    [profile({ account: { rules: [mine], modifiedWithinDays: -1 } }), 'entities.account.modifiedWithinDays', /whole number of days/]
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
})
