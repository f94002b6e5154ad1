// Which records a user's device holds: the profile's rules, the organization data filter and the
// profile's relationships, intersected with read privilege (a share or hierarchy rule reaches only what
// the user may read, as every rule). Pure.

import type { Catalog } from '../docs/catalog-types.ts'
import { isPointer } from '../docs/activity-pointer.ts'
import { fieldPermission, readScope, type ModelIndex, type ReadScope } from './decide.ts'
import type { Row } from '../docs/row.ts'
import { principalRef } from '../ids.ts'
import { unexpectedCase } from '../errors.ts'
import type { OfflineProfile, ProfileRule } from '../profiles/profile.ts'
import { matches, ROW_VALUES } from '../docs/filters.ts'

/** Who the user is, for the rules: the user, the principals they act as, their unit, the owners below them. */
export interface Me {
  readonly userId: string
  /** `systemuser/<me>` and `team/<each of my teams>` */
  readonly principals: ReadonlySet<string>
  readonly businessUnitId: string
  /** `systemuser/<id>` of every user below me within the hierarchy security depth (empty when it is off) */
  readonly reports: ReadonlySet<string>
  /** the secured fields (`<entity>.<attribute>`) I may not read: a rule sees them empty, as I do */
  readonly unreadable: ReadonlySet<string>
}

/** The row as `me` may see it: the secured fields of `entity` I may not read are empty. */
const seenBy = (me: Me, entity: string, row: Row, fields: Iterable<string>): Row => {
  let out = row
  for (const f of fields) if (me.unreadable.has(`${entity}.${f}`) && out[f] !== null) out = { ...out, [f]: null }
  return out
}

/** Whether a relationship's lookup (on `entity`) is one `me` may read: one that is not brings nothing. */
export const followable = (me: Me, entity: string, attribute: string): boolean => !me.unreadable.has(`${entity}.${attribute}`)

export const ruleMatches = (ix: ModelIndex, rule: ProfileRule, name: string, row: Row, me: Me): boolean => {
  switch (rule.kind) {
    case 'all': return true
    case 'related-only': return false
    case 'ownership':
      return (rule.mine && row.ownerid === principalRef('systemuser', me.userId)) ||
        (rule.myTeams && typeof row.ownerid === 'string' && row.ownerid.startsWith('team/') && me.principals.has(row.ownerid)) ||
        (rule.myBusinessUnit && row.owningbusinessunit === me.businessUnitId)
    case 'shared': return ix.sharesOf(name).some(s => me.principals.has(s.principal))
    case 'hierarchy': return typeof row.ownerid === 'string' && me.reports.has(row.ownerid)
    case 'custom': {
      // A condition on a secured field the user may not read would tell the user its value.
      const seen = me.unreadable.size === 0 ? row : seenBy(me, name.slice(0, name.indexOf('/')), row, rule.conditions.map(c => c.field))
      return rule.conditions.every(c => matches(seen, c, ROW_VALUES))
    }
  }
}

/** The users below `userId`, as deep as the model's hierarchy security reaches (the depth mayAccess reads at). */
const reportsOf = (ix: ModelIndex, userId: string): Set<string> => {
  const h = ix.model.hierarchy
  const out = new Set<string>()
  if (!h.enabled) return out
  for (const u of ix.model.org.users) {
    const level = ix.reportLevel(userId, u.id)
    if (level > 0 && level <= h.depth) out.add(principalRef('systemuser', u.id))
  }
  return out
}

/** Who `userId` is for the rules, or undefined when there is no such user. */
export const meOf = (ix: ModelIndex, userId: string): Me | undefined => {
  const user = ix.user(userId)
  if (user === undefined) return undefined
  const unreadable = new Set(ix.model.securedFields.filter(f => !fieldPermission(ix, userId, f.slice(0, f.indexOf('.')), f.slice(f.indexOf('.') + 1)).read))
  return { userId, principals: ix.principalsOf(userId), businessUnitId: user.businessUnitId, reports: reportsOf(ix, userId), unreadable }
}

/** Whether the row `name` of an entity is within the user's read scope `rs` of that entity. */
export const readable = (rs: ReadScope, name: string, row: Row): boolean =>
  rs.all || rs.businessUnits.has(String(row.owningbusinessunit)) || rs.owners.has(String(row.ownerid)) || rs.records.has(name)

/** The oldest `modifiedon` the organization data filter keeps (null: no filter). */
export const modifiedSince = (modifiedWithinDays: number | null, now: Date): string | null =>
  modifiedWithinDays === null ? null : new Date(now.getTime() - modifiedWithinDays * 86_400_000).toISOString()

/** Whether a row passes the organization data filter `since`. */
export const fresh = (since: string | null, row: Row): boolean => since === null || (typeof row.modifiedon === 'string' && row.modifiedon >= since)

/**
 * The names (`<entity>/<id>`) of the records in a user's offline scope, from every row of each of the
 * profile's entities: the reference (src/authz/indexed-scope.ts computes the same from an index). `rowsOf` gives every projected
 * row of an entity; `now` anchors the organization data filter.
 */
export const computeScope = (catalog: Catalog, profile: OfflineProfile, ix: ModelIndex, userId: string, rowsOf: (entity: string) => readonly Row[], now: Date): Set<string> => {
  const me = meOf(ix, userId)
  const scope = new Set<string>()
  if (me === undefined) return scope
  const readableRows = new Map<string, Map<string, Row>>()
  for (const entity of Object.keys(profile.entities)) {
    // The activity pointer has no records of its own: its activities come through their own entities.
    if (isPointer(catalog.entities.get(entity))) { readableRows.set(entity, new Map()); continue }
    const rs = readScope(ix, userId, entity)
    const m = new Map<string, Row>()
    for (const row of rowsOf(entity)) {
      const name = `${entity}/${String(row.id)}`
      if (readable(rs, name, row)) m.set(name, row)
    }
    readableRows.set(entity, m)
  }
  for (const [entity, pe] of Object.entries(profile.entities)) {
    const since = modifiedSince(pe.modifiedWithinDays, now)
    for (const [name, row] of readableRows.get(entity)!) {
      if (!fresh(since, row)) continue
      if (pe.rules.some(r => ruleMatches(ix, r, name, row, me))) scope.add(name)
    }
  }
  // Relationships bring related readable records along; relationships are acyclic, so this settles.
  for (let pass = 0, grew = true; grew && pass <= Object.keys(profile.entities).length; pass++) {
    grew = false
    for (const [entity, pe] of Object.entries(profile.entities)) {
      for (const relName of pe.relationships) {
        const rel = catalog.relationships.find(r => r.from === entity && r.name === relName)
        if (rel === undefined || rel.attribute === undefined) continue // N:N associations are not projected
        if (!followable(me, rel.kind === 'N:1' ? entity : rel.to, rel.attribute)) continue
        const targets = readableRows.get(rel.to)
        if (targets === undefined) continue
        for (const [name, row] of readableRows.get(entity)!) {
          if (!scope.has(name)) continue
          if (rel.kind === 'N:1') {
            const ref = row[rel.attribute]
            if (typeof ref === 'string' && targets.has(ref) && !scope.has(ref)) { scope.add(ref); grew = true }
          }
        }
        if (rel.kind === '1:N') {
          for (const [tname, trow] of targets) {
            const ref = trow[rel.attribute]
            if (!scope.has(tname) && typeof ref === 'string' && scope.has(ref) && ref.startsWith(`${entity}/`)) { scope.add(tname); grew = true }
          }
        }
      }
    }
  }
  return scope
}
