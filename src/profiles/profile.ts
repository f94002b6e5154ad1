// Offline profiles: which records go to which device. Parsed from JSON with a schema (the shapes and
// their types), then checked against the catalog and DESIGN.md's rules; each error names the field path.

import * as v from 'valibot'
import { attributeOf, type Catalog, type RelationshipDef } from '../docs/catalog-types.ts'
import { FILTER_OPS, filterable, PRESENCE_OPS, type FilterOp } from '../docs/filters.ts'
import { isValidId } from '../ids.ts'
import { FieldError } from '../errors.ts'
import { parseFields } from '../schema.ts'

export class ProfileError extends FieldError {
  override name = 'ProfileError'
}

export const DEFAULT_MODIFIED_WITHIN_DAYS = 10
const MAX_RELATIONSHIPS = 10
const MAX_CONDITIONS = 3

/** The filter operators a custom rule may use: all but begins-with. */
export const CONDITION_OPS = FILTER_OPS.filter((op): op is Exclude<FilterOp, 'begins-with'> => op !== 'begins-with')
export type ConditionOp = typeof CONDITION_OPS[number]
/** The rule kinds, as errors list them (checked against the schema's below). */
export const RULE_KINDS = ['all', 'related-only', 'ownership', 'shared', 'hierarchy', 'custom'] as const

const BOOLEAN = 'expected true or false'
/** Rules and conditions refuse unknown keys: a misspelt option would silently change which records leave the server. */
const noOtherKeys = (what: string) => (issue: v.StrictObjectIssue): string => `unknown key ${JSON.stringify(issue.input)} in ${what}`

const ConditionSchema = v.pipe(
  v.strictObject({
    field: v.string('expected the name of an attribute'),
    op: v.picklist(CONDITION_OPS, issue => `unknown op ${JSON.stringify(issue.input)} (known: ${CONDITION_OPS.join(', ')})`),
    value: v.optional(v.union([v.string(), v.number(), v.boolean()], 'expected a string, a number, true or false'))
  }, noOtherKeys('a condition')),
  v.check(c => PRESENCE_OPS.includes(c.op) || c.value !== undefined, issue => `op ${issue.input.op} needs a value`),
  v.readonly()
)
export type Condition = v.InferOutput<typeof ConditionSchema>

const bare = <K extends string>(kind: K) => v.pipe(v.strictObject({ kind: v.literal(kind) }, noOtherKeys(`a "${kind}" rule`)), v.readonly())

const RuleSchema = v.variant('kind', [
  /** every readable record; alone */
  bare('all'),
  /** only records a profile relationship brings; alone */
  bare('related-only'),
  v.pipe(
    v.strictObject({
      kind: v.literal('ownership'),
      mine: v.optional(v.boolean(BOOLEAN), false),
      myTeams: v.optional(v.boolean(BOOLEAN), false),
      myBusinessUnit: v.optional(v.boolean(BOOLEAN), false)
    }, noOtherKeys('an ownership rule')),
    v.check(r => r.mine || r.myTeams || r.myBusinessUnit, 'an ownership rule needs at least one of mine, myTeams, myBusinessUnit'),
    v.readonly()
  ),
  /** records shared with the user or one of the user's teams */
  bare('shared'),
  /** records owned by the users below the user, as deep as the model's hierarchy security reaches */
  bare('hierarchy'),
  v.pipe(
    v.strictObject({
      kind: v.literal('custom'),
      conditions: v.pipe(
        v.array(ConditionSchema, `a custom rule needs 1 to ${MAX_CONDITIONS} conditions`),
        v.minLength(1, `a custom rule needs 1 to ${MAX_CONDITIONS} conditions`),
        v.maxLength(MAX_CONDITIONS, issue => `at most ${MAX_CONDITIONS} conditions, got ${issue.input.length}`),
        v.readonly()
      )
    }, noOtherKeys('a custom rule')),
    v.readonly()
  )
], issue => issue.expected === 'Object'
  ? `expected an object with "kind" (${RULE_KINDS.join(', ')})`
  : `unknown rule kind ${JSON.stringify(issue.input)} (${RULE_KINDS.join(', ')})`)
export type ProfileRule = v.InferOutput<typeof RuleSchema>
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
// A compile error when RULE_KINDS and the schema's kinds differ.
void (true satisfies Same<ProfileRule['kind'], typeof RULE_KINDS[number]>)

/** `all` and `related-only` say on their own which records an entity sends. */
const alone = (kind: 'all' | 'related-only') => v.check<ProfileRule[], string>(rules => !rules.some(r => r.kind === kind) || rules.length === 1, `"${kind}" must be the only rule`)

/** The longest organization data filter (100 years): "modified since" must stay a date (null: no filter). */
export const MAX_MODIFIED_WITHIN_DAYS = 36_500
const DAYS = `expected a whole number of days from 0 to ${MAX_MODIFIED_WITHIN_DAYS}, or null for no filter`
const ProfileEntitySchema = v.pipe(
  v.strictObject({
    rules: v.pipe(v.array(RuleSchema, 'each entity needs at least one rule'), v.minLength(1, 'each entity needs at least one rule'), alone('all'), alone('related-only'), v.readonly()),
    /** organization data filter: only records modified in the last N days; null for none */
    modifiedWithinDays: v.optional(v.nullable(v.pipe(v.number(DAYS), v.integer(DAYS), v.minValue(0, DAYS), v.maxValue(MAX_MODIFIED_WITHIN_DAYS, DAYS))), DEFAULT_MODIFIED_WITHIN_DAYS),
    /** relationship names (from the catalog) this entity brings related records through */
    relationships: v.optional(v.pipe(
      v.array(v.string('expected a relationship name'), 'expected an array of relationship names'),
      v.maxLength(MAX_RELATIONSHIPS, issue => `at most ${MAX_RELATIONSHIPS} relationships, got ${issue.input.length}`),
      v.readonly()
    ), [])
  }, noOtherKeys('an entity of a profile (rules, modifiedWithinDays, relationships)')),
  v.readonly()
)
export type ProfileEntity = v.InferOutput<typeof ProfileEntitySchema>

const ENTITIES = 'expected an object with at least one entity'
const ProfileSchema = v.pipe(
  v.object({
    id: v.pipe(v.string('expected 1-64 of [A-Za-z0-9_-]'), v.check(isValidId, 'expected 1-64 of [A-Za-z0-9_-]')),
    name: v.pipe(v.string('expected a non-empty string'), v.check(s => s.trim() !== '', 'expected a non-empty string')),
    /** the users who sync with this profile */
    users: v.optional(v.pipe(v.array(v.string('expected a user id'), 'expected an array of user ids'), v.readonly()), []),
    entities: v.pipe(v.record(v.string(), ProfileEntitySchema, ENTITIES), v.check(e => Object.keys(e).length > 0, ENTITIES), v.readonly())
  }, 'expected a JSON object'),
  v.readonly()
)
export type OfflineProfile = v.InferOutput<typeof ProfileSchema>

const fail = (field: string, message: string): ProfileError => new ProfileError(field, message)

/** Validates a profile: its shape, then what the catalog and the other entities of the profile allow. */
export const parseProfile = (catalog: Catalog, input: unknown): OfflineProfile => {
  const profile = parseFields(ProfileSchema, input, fail, 'profile')
  const rels = new Map<string, RelationshipDef>()
  for (const r of catalog.relationships) if (!rels.has(`${r.from}:${r.name}`)) rels.set(`${r.from}:${r.name}`, r)
  const names = Object.keys(profile.entities)
  for (const [entity, pe] of Object.entries(profile.entities)) {
    const at = `entities.${entity}`
    const def = catalog.entities.get(entity)
    if (def === undefined) throw fail(at, `unknown or not offline-enabled entity "${entity}"`)
    pe.rules.forEach((r, i) => {
      if (r.kind !== 'custom') return
      r.conditions.forEach((c, j) => {
        const cat = `${at}.rules[${i}].conditions[${j}]`
        if (!filterable(def, c.field)) throw fail(cat, `${entity} has no attribute "${c.field}"`)
        if (attributeOf(def, c.field)?.type === 'memo') throw fail(cat, `multi-line text "${c.field}" cannot be filtered`)
      })
    })
    let toMany = 0
    for (const name of pe.relationships) {
      const r = rels.get(`${entity}:${name}`)
      if (r === undefined) throw fail(`${at}.relationships`, `${entity} has no relationship "${name}"`)
      if (r.to === entity) throw fail(`${at}.relationships`, `"${name}" refers to ${entity} itself; self-references are not allowed`)
      if (!names.includes(r.to)) throw fail(`${at}.relationships`, `"${name}" reaches ${r.to}, which the profile does not include (every entity a relationship touches must be offline)`)
      if (r.kind !== 'N:1') toMany++
    }
    if (toMany > 1) throw fail(`${at}.relationships`, 'at most one 1:N or N:N relationship per entity')
  }
  // related-only needs a way in; the relationships between entities must not form a cycle.
  const edges = new Map<string, string[]>()
  for (const [e, pe] of Object.entries(profile.entities)) edges.set(e, pe.relationships.map(name => rels.get(`${e}:${name}`)!.to))
  for (const [e, pe] of Object.entries(profile.entities)) {
    if (pe.rules[0].kind === 'related-only' && ![...edges.values()].some(targets => targets.includes(e))) {
      throw fail(`entities.${e}.rules`, `related-only needs a profile relationship that reaches ${e}`)
    }
  }
  const state = new Map<string, 'open' | 'done'>()
  const visit = (e: string, path: string[]): void => {
    if (state.get(e) === 'done') return
    if (state.get(e) === 'open') throw fail(`entities.${e}.relationships`, `circular reference: ${[...path, e].join(' -> ')}`)
    state.set(e, 'open')
    for (const t of edges.get(e) ?? []) visit(t, [...path, e])
    state.set(e, 'done')
  }
  for (const e of Object.keys(profile.entities)) visit(e, [])
  return profile
}

/**
 * What a valid profile allows but discourages, each naming its rule: business-unit ownership (every
 * record of the unit goes out), and a hierarchy rule while hierarchy security is off (it reaches nothing).
 */
export const profileWarnings = (profile: OfflineProfile, hierarchyEnabled: boolean): string[] => {
  const out: string[] = []
  for (const [entity, pe] of Object.entries(profile.entities)) {
    pe.rules.forEach((r, i) => {
      const rat = `entities.${entity}.rules[${i}]`
      if (r.kind === 'ownership' && r.myBusinessUnit) out.push(`${rat}: business-unit ownership sends every record of the unit; keep it for small master data`)
      if (r.kind === 'hierarchy' && !hierarchyEnabled) out.push(`${rat}: hierarchy security is off, so a hierarchy rule reaches no records`)
    })
  }
  return out
}
