// Offline profiles: which records go to which device. Parsed from JSON and validated with every rule of
// DESIGN.md; each error names the entity and the rule.

import type { Catalog, RelationshipDef } from '../docs/catalog-types.ts'
import { isValidId } from '../ids.ts'
import { FieldError } from '../errors.ts'

export type ConditionOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'contains' | 'null' | 'not-null'
export const CONDITION_OPS: readonly ConditionOp[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'contains', 'null', 'not-null']

export interface Condition { readonly field: string, readonly op: ConditionOp, readonly value?: string | number | boolean }

export type ProfileRule =
  | { readonly kind: 'all' }
  | { readonly kind: 'related-only' }
  | { readonly kind: 'ownership', readonly mine: boolean, readonly myTeams: boolean, readonly myBusinessUnit: boolean }
  | { readonly kind: 'custom', readonly conditions: readonly Condition[] }

export interface ProfileEntity {
  readonly rules: readonly ProfileRule[]
  /** organization data filter: only records modified in the last N days; null for none */
  readonly modifiedWithinDays: number | null
  /** relationship names (from the catalog) this entity brings related records through */
  readonly relationships: readonly string[]
}

export interface OfflineProfile {
  readonly id: string
  readonly name: string
  /** the users who sync with this profile */
  readonly users: readonly string[]
  readonly entities: Readonly<Record<string, ProfileEntity>>
}

export class ProfileError extends FieldError {
  override name = 'ProfileError'
}

export const DEFAULT_MODIFIED_WITHIN_DAYS = 10
const MAX_RELATIONSHIPS = 10
const MAX_CONDITIONS = 3

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Validates a profile; `warnings` collects what is allowed but discouraged. */
export const parseProfile = (catalog: Catalog, input: unknown, warnings: string[] = []): OfflineProfile => {
  if (!isObj(input)) throw new ProfileError('profile', 'expected a JSON object')
  const id = input.id
  if (typeof id !== 'string' || !isValidId(id)) throw new ProfileError('id', 'expected 1-64 of [A-Za-z0-9_-]')
  if (typeof input.name !== 'string' || input.name.trim() === '') throw new ProfileError('name', 'expected a non-empty string')
  const users = input.users ?? []
  if (!Array.isArray(users) || !users.every(u => typeof u === 'string')) throw new ProfileError('users', 'expected an array of user ids')
  if (!isObj(input.entities) || Object.keys(input.entities).length === 0) throw new ProfileError('entities', 'expected an object with at least one entity')
  const entities: Record<string, ProfileEntity> = {}
  const rels = new Map<string, RelationshipDef[]>()
  for (const r of catalog.relationships) rels.set(`${r.from}:${r.name}`, [...(rels.get(`${r.from}:${r.name}`) ?? []), r])
  const names = Object.keys(input.entities)
  for (const [entity, raw] of Object.entries(input.entities)) {
    const at = `entities.${entity}`
    const def = catalog.entities.get(entity)
    if (def === undefined) throw new ProfileError(at, `unknown or not offline-enabled entity "${entity}"`)
    if (!isObj(raw)) throw new ProfileError(at, 'expected an object with "rules"')
    const rulesIn = raw.rules
    if (!Array.isArray(rulesIn) || rulesIn.length === 0) throw new ProfileError(`${at}.rules`, 'each entity needs at least one rule')
    const rules = rulesIn.map((r, i): ProfileRule => {
      const rat = `${at}.rules[${i}]`
      if (!isObj(r)) throw new ProfileError(rat, 'expected an object with "kind"')
      switch (r.kind) {
        case 'all': return { kind: 'all' }
        case 'related-only': return { kind: 'related-only' }
        case 'ownership': {
          const [mine, myTeams, myBusinessUnit] = [r.mine === true, r.myTeams === true, r.myBusinessUnit === true]
          if (!mine && !myTeams && !myBusinessUnit) throw new ProfileError(rat, 'an ownership rule needs at least one of mine, myTeams, myBusinessUnit')
          if (myBusinessUnit) warnings.push(`${rat}: business-unit ownership sends every record of the unit; keep it for small master data`)
          return { kind: 'ownership', mine, myTeams, myBusinessUnit }
        }
        case 'custom': {
          if (!Array.isArray(r.conditions) || r.conditions.length === 0) throw new ProfileError(`${rat}.conditions`, 'a custom rule needs 1 to 3 conditions')
          if (r.conditions.length > MAX_CONDITIONS) throw new ProfileError(`${rat}.conditions`, `at most ${MAX_CONDITIONS} conditions, got ${r.conditions.length}`)
          const conditions = r.conditions.map((c, j): Condition => {
            const cat = `${rat}.conditions[${j}]`
            if (!isObj(c) || typeof c.field !== 'string') throw new ProfileError(cat, 'expected { "field", "op", "value" }')
            const attr = def.attributes.find(a => a.name === c.field)
            const system = ['ownerid', 'owningbusinessunit', 'statecode', 'createdon', 'modifiedon', 'createdby', 'modifiedby'].includes(c.field)
            if (attr === undefined && !system) throw new ProfileError(cat, `${entity} has no attribute "${c.field}"`)
            if (attr?.type === 'memo') throw new ProfileError(cat, `multi-line text "${c.field}" cannot be filtered`)
            if (!CONDITION_OPS.includes(c.op as ConditionOp)) throw new ProfileError(cat, `unknown op ${JSON.stringify(c.op)} (known: ${CONDITION_OPS.join(', ')})`)
            const needsValue = c.op !== 'null' && c.op !== 'not-null'
            if (needsValue && !['string', 'number', 'boolean'].includes(typeof c.value)) throw new ProfileError(cat, `op ${String(c.op)} needs a value`)
            return needsValue ? { field: c.field, op: c.op as ConditionOp, value: c.value as string | number | boolean } : { field: c.field, op: c.op as ConditionOp }
          })
          return { kind: 'custom', conditions }
        }
        default: throw new ProfileError(rat, `unknown rule kind ${JSON.stringify(r.kind)} (all, related-only, ownership, custom)`)
      }
    })
    for (const exclusive of ['all', 'related-only'] as const) {
      if (rules.some(r => r.kind === exclusive) && rules.length > 1) throw new ProfileError(`${at}.rules`, `"${exclusive}" must be the only rule`)
    }
    const days = raw.modifiedWithinDays === undefined ? DEFAULT_MODIFIED_WITHIN_DAYS : raw.modifiedWithinDays
    if (days !== null && (typeof days !== 'number' || !Number.isInteger(days) || days < 0)) throw new ProfileError(`${at}.modifiedWithinDays`, 'expected a whole number of days or null')
    const relIn = raw.relationships ?? []
    if (!Array.isArray(relIn) || !relIn.every(x => typeof x === 'string')) throw new ProfileError(`${at}.relationships`, 'expected an array of relationship names')
    if (relIn.length > MAX_RELATIONSHIPS) throw new ProfileError(`${at}.relationships`, `at most ${MAX_RELATIONSHIPS} relationships, got ${relIn.length}`)
    let toMany = 0
    for (const name of relIn as string[]) {
      const found = rels.get(`${entity}:${name}`)
      if (found === undefined) throw new ProfileError(`${at}.relationships`, `${entity} has no relationship "${name}"`)
      const r = found[0]
      if (r.to === entity) throw new ProfileError(`${at}.relationships`, `"${name}" refers to ${entity} itself; self-references are not allowed`)
      if (!names.includes(r.to)) throw new ProfileError(`${at}.relationships`, `"${name}" reaches ${r.to}, which the profile does not include (every entity a relationship touches must be offline)`)
      if (r.kind !== 'N:1') toMany++
    }
    if (toMany > 1) throw new ProfileError(`${at}.relationships`, 'at most one 1:N or N:N relationship per entity')
    entities[entity] = { rules, modifiedWithinDays: days as number | null, relationships: relIn as string[] }
  }
  // related-only needs a way in; the relationships between entities must not form a cycle.
  const edges = new Map<string, string[]>()
  for (const [e, pe] of Object.entries(entities)) {
    for (const name of pe.relationships) {
      const r = rels.get(`${e}:${name}`)![0]
      edges.set(e, [...(edges.get(e) ?? []), r.to])
    }
  }
  for (const [e, pe] of Object.entries(entities)) {
    if (pe.rules[0].kind === 'related-only' && ![...edges.values()].some(targets => targets.includes(e))) {
      throw new ProfileError(`entities.${e}.rules`, `related-only needs a profile relationship that reaches ${e}`)
    }
  }
  const state = new Map<string, 'open' | 'done'>()
  const visit = (e: string, path: string[]): void => {
    if (state.get(e) === 'done') return
    if (state.get(e) === 'open') throw new ProfileError(`entities.${e}.relationships`, `circular reference: ${[...path, e].join(' -> ')}`)
    state.set(e, 'open')
    for (const t of edges.get(e) ?? []) visit(t, [...path, e])
    state.set(e, 'done')
  }
  for (const e of Object.keys(entities)) visit(e, [])
  return { id, name: input.name, users: users as string[], entities }
}
