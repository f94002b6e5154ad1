// Which conflict strategy decides concurrent writes of a field: per attribute, else per entity, else the
// default (later-edit-wins). Metadata: `"conflicts": { "default": ..., "entities": { "account": ... },
// "attributes": { "account.revenue": ... } }` (README, "Conflicts").

import * as v from 'valibot'
import type { Catalog } from '../docs/catalog-types.ts'
import { laterEditWins, STRATEGIES, type ConflictStrategy } from '../projection/conflict-strategies.ts'

const Strategy = v.picklist(Object.keys(STRATEGIES), `a conflict strategy is one of ${Object.keys(STRATEGIES).join(', ')}`)

const PoliciesSchema = v.strictObject({
  default: v.optional(Strategy, laterEditWins.name),
  entities: v.optional(v.record(v.string(), Strategy), {}),
  attributes: v.optional(v.record(v.string(), Strategy), {})
})

export type ConflictPolicies = v.InferOutput<typeof PoliciesSchema>

export const DEFAULT_POLICIES: ConflictPolicies = { default: laterEditWins.name, entities: {}, attributes: {} }

export class ConflictPolicyError extends Error {
  override name = 'ConflictPolicyError'
}

/** Parses the `conflicts` section of the metadata; every entity and attribute it names must be in the catalog. */
export const parseConflictPolicies = (raw: unknown, catalog: Catalog): ConflictPolicies => {
  if (raw === undefined) return DEFAULT_POLICIES
  const parsed = v.safeParse(PoliciesSchema, raw)
  if (!parsed.success) {
    const issue = parsed.issues[0]
    const path = v.getDotPath(issue)
    throw new ConflictPolicyError(`conflicts${path === null ? '' : `.${path}`}: ${issue.message}`)
  }
  const policies = parsed.output
  for (const name of Object.keys(policies.entities)) {
    if (catalog.entities.get(name) === undefined) throw new ConflictPolicyError(`conflicts.entities.${name}: no entity ${name} in the catalog`)
  }
  for (const key of Object.keys(policies.attributes)) {
    const [entity, attribute, ...rest] = key.split('.')
    const def = catalog.entities.get(entity)
    if (rest.length > 0 || attribute === undefined) throw new ConflictPolicyError(`conflicts.attributes.${key}: name an attribute as <entity>.<attribute>`)
    if (def === undefined) throw new ConflictPolicyError(`conflicts.attributes.${key}: no entity ${entity} in the catalog`)
    const attr = def.attributes.find(a => a.name === attribute)
    if (attr === undefined) throw new ConflictPolicyError(`conflicts.attributes.${key}: ${entity} has no attribute ${attribute}`)
    if (attr.type === 'memo') throw new ConflictPolicyError(`conflicts.attributes.${key}: a multi-line text merges by character, it has no conflict strategy`)
  }
  return policies
}

/** The strategy of `entity`.`attribute`. */
export const strategyFor = (policies: ConflictPolicies, entity: string, attribute: string): ConflictStrategy =>
  STRATEGIES[policies.attributes[`${entity}.${attribute}`] ?? policies.entities[entity] ?? policies.default] ?? laterEditWins
