// A user's offline scope from an index of the projected rows (by owner, business unit and lookup value)
// instead of every row: the same rules as computeScope (src/authz/scope.ts, the reference), but each rule
// reads only the rows it can match, so a scope costs about what it holds, not the size of the tables. Pure.

import type { Catalog } from '../docs/catalog-types.ts'
import { isPointer } from '../docs/activity-pointer.ts'
import { readScope, type ModelIndex, type ReadScope } from './decide.ts'
import type { Row } from '../docs/row.ts'
import { principalRef } from '../ids.ts'
import type { OfflineProfile, ProfileEntity } from '../profiles/profile.ts'
import { followable, fresh, meOf, modifiedSince, readable, ruleMatches, type Me } from './scope.ts'

/** The projected rows of the profile's entities, by name (`<entity>/<id>`) and indexed. */
export interface ScopeRows {
  /** the row of a record, if it has one */
  row (name: string): Row | undefined
  /** every row of the entity */
  names (entity: string): Iterable<string>
  /** rows whose `String(ownerid)` is `owner` */
  ownedBy (entity: string, owner: string): Iterable<string>
  /** rows whose `String(owningbusinessunit)` is `unit` */
  inUnit (entity: string, unit: string): Iterable<string>
  /** rows whose lookup `attribute` holds `target` (a record name) */
  referring (entity: string, attribute: string, target: string): Iterable<string>
}

/** The row names of `entity` the user may read, under `rs` (a superset is fine: each is checked). */
const readableNames = function * (rows: ScopeRows, entity: string, rs: ReadScope): Iterable<string> {
  if (rs.all) { yield * rows.names(entity); return }
  for (const b of rs.businessUnits) yield * rows.inUnit(entity, b)
  for (const o of rs.owners) yield * rows.ownedBy(entity, o)
  yield * rs.records
}

/** The rows each rule of the entity can match (a superset: each is checked against the rules). */
const candidates = function * (ix: ModelIndex, rows: ScopeRows, entity: string, pe: ProfileEntity, rs: ReadScope, me: Me): Iterable<string> {
  for (const rule of pe.rules) {
    switch (rule.kind) {
      case 'all': case 'custom': yield * readableNames(rows, entity, rs); break
      case 'related-only': break
      case 'ownership':
        if (rule.mine) yield * rows.ownedBy(entity, principalRef('systemuser', me.userId))
        if (rule.myTeams) for (const p of me.principals) if (p.startsWith('team/')) yield * rows.ownedBy(entity, p)
        if (rule.myBusinessUnit) yield * rows.inUnit(entity, me.businessUnitId)
        break
      case 'shared':
        for (const p of me.principals) for (const s of ix.sharesTo(p)) if (s.record.startsWith(`${entity}/`)) yield s.record
        break
      case 'hierarchy': for (const r of me.reports) yield * rows.ownedBy(entity, r); break
    }
  }
}

/** The names of the records in a user's offline scope: what computeScope gives over the same rows. */
export const scopeFromRows = (catalog: Catalog, profile: OfflineProfile, ix: ModelIndex, userId: string, rows: ScopeRows, now: Date): Set<string> => {
  const scope = new Set<string>()
  const me = meOf(ix, userId)
  if (me === undefined) return scope
  // The activity pointer has no records of its own: its activities come through their own entities.
  const scopes = new Map<string, ReadScope | null>()
  for (const entity of Object.keys(profile.entities)) scopes.set(entity, isPointer(catalog.entities.get(entity)) ? null : readScope(ix, userId, entity))
  /** The readable row of `entity` named `name`, if any. */
  const readableRow = (entity: string, name: string): Row | undefined => {
    const rs = scopes.get(entity)
    if (rs === undefined || rs === null || !name.startsWith(`${entity}/`)) return undefined
    const row = rows.row(name)
    return row !== undefined && readable(rs, name, row) ? row : undefined
  }
  const added: string[] = []
  for (const [entity, pe] of Object.entries(profile.entities)) {
    const rs = scopes.get(entity)
    if (rs === undefined || rs === null) continue
    const since = modifiedSince(pe.modifiedWithinDays, now)
    for (const name of candidates(ix, rows, entity, pe, rs, me)) {
      if (scope.has(name)) continue
      const row = readableRow(entity, name)
      if (row === undefined || !fresh(since, row) || !pe.rules.some(r => ruleMatches(ix, r, name, row, me))) continue
      scope.add(name)
      added.push(name)
    }
  }
  // Relationships bring related readable records along (whatever their age), each record's own in turn.
  const relationshipsOf = new Map(Object.entries(profile.entities).map(([entity, pe]) => [entity, pe.relationships
    .map(relName => catalog.relationships.find(r => r.from === entity && r.name === relName))
    .filter(rel => rel !== undefined && rel.attribute !== undefined && scopes.has(rel.to) && followable(me, rel.kind === 'N:1' ? entity : rel.to, rel.attribute))]))
  const bring = (entity: string, name: string): void => {
    if (scope.has(name) || readableRow(entity, name) === undefined) return
    scope.add(name)
    added.push(name)
  }
  while (added.length > 0) {
    const name = added.pop()!
    const entity = name.slice(0, name.indexOf('/'))
    for (const rel of relationshipsOf.get(entity) ?? []) {
      const attribute = rel!.attribute!
      if (rel!.kind === 'N:1') {
        const ref = rows.row(name)?.[attribute]
        if (typeof ref === 'string') bring(rel!.to, ref)
      } else if (rel!.kind === '1:N') {
        for (const t of rows.referring(rel!.to, attribute, name)) bring(rel!.to, t)
      }
    }
  }
  return scope
}
