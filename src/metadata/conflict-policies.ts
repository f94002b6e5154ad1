// Which conflict strategy decides concurrent writes of a field: per attribute, else per entity, else the
// default (later-edit-wins). Metadata: `"conflicts": { "default": ..., "entities": { "account": ... },
// "attributes": { "account.revenue": ... } }` (README, "Conflicts").

import * as v from 'valibot'
import { attributeOf, type Catalog } from '../docs/catalog-types.ts'
import { laterEditWins, STRATEGIES, type ConflictStrategy } from './conflict-strategies.ts'
import { expected, oneOf, type Problem } from '../schema.ts'

const NAMES = Object.keys(STRATEGIES)
const Strategy = v.picklist(NAMES, oneOf(NAMES))

export const ConflictPoliciesSchema = v.strictObject({
  default: v.optional(Strategy, laterEditWins.name),
  entities: v.optional(v.record(v.string(), Strategy, expected('an object of entity name -> strategy')), {}),
  attributes: v.optional(v.record(v.string(), Strategy, expected('an object of "<entity>.<attribute>" -> strategy')), {})
}, expected('an object with "default", "entities" or "attributes"'))

export type ConflictPolicies = v.InferOutput<typeof ConflictPoliciesSchema>

export const DEFAULT_POLICIES: ConflictPolicies = { default: laterEditWins.name, entities: {}, attributes: {} }

/** Every entity and attribute the policies name must be in the catalog, and an attribute must be a scalar. */
export const conflictProblems = (catalog: Catalog, policies: ConflictPolicies): Problem[] => {
  const problems: Problem[] = []
  for (const name of Object.keys(policies.entities)) {
    if (catalog.entities.get(name) === undefined) problems.push({ path: ['entities', name], message: `no entity ${name} in the catalog` })
  }
  for (const key of Object.keys(policies.attributes)) {
    const path = ['attributes', key]
    const [entity, attribute, ...rest] = key.split('.')
    const def = catalog.entities.get(entity)
    const attr = def === undefined || attribute === undefined ? undefined : attributeOf(def, attribute)
    if (rest.length > 0 || attribute === undefined) problems.push({ path, message: 'name an attribute as <entity>.<attribute>' })
    else if (def === undefined) problems.push({ path, message: `no entity ${entity} in the catalog` })
    else if (attr === undefined) problems.push({ path, message: `${entity} has no attribute ${attribute}` })
    else if (attr.type === 'memo') problems.push({ path, message: 'a multi-line text merges by character: it has no conflict strategy' })
  }
  return problems
}

/** The strategy of `entity`.`attribute`. */
export const strategyFor = (policies: ConflictPolicies, entity: string, attribute: string): ConflictStrategy =>
  STRATEGIES[policies.attributes[`${entity}.${attribute}`] ?? policies.entities[entity] ?? policies.default] ?? laterEditWins
