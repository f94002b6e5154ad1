// Business rules: conditions (field comparisons joined by and/or) and actions (set value, set default,
// set required, lock or unlock a field, show an error). The device runs them while editing (form state)
// and before saving; the server projection runs the same code and drops a save that breaks one.

import * as v from 'valibot'
import type { Catalog } from '../docs/catalog-types.ts'
import { checkValue } from '../docs/values.ts'
import { expected, list, text, type Problem } from '../schema.ts'
import { filterProblems, FilterSchema, matches, ScalarSchema } from './views.ts'

const field = text('a field name')
const action = <const TEntries extends v.ObjectEntries>(entries: TEntries) => v.pipe(v.strictObject(entries), v.readonly())

export const RULE_ACTION_TYPES = ['set-value', 'set-default', 'set-required', 'lock', 'unlock', 'show-error'] as const

export const RuleActionSchema = v.variant('type', [
  action({ type: v.literal('set-value'), field, value: ScalarSchema }),
  action({ type: v.literal('set-default'), field, value: ScalarSchema }),
  action({ type: v.literal('set-required'), field, required: v.boolean(expected('true or false')) }),
  action({ type: v.literal('lock'), field }),
  action({ type: v.literal('unlock'), field }),
  action({ type: v.literal('show-error'), field: v.optional(field), message: text('a message') })
], expected(`an action whose "type" is one of ${RULE_ACTION_TYPES.join(', ')}`))
export type RuleAction = v.InferOutput<typeof RuleActionSchema>

export const BusinessRuleSchema = v.pipe(v.strictObject({
  entity: text('an entity name'),
  name: text('a rule name'),
  /** when absent the rule always applies */
  condition: v.optional(FilterSchema),
  actions: v.pipe(list(RuleActionSchema, 'an array of actions'), v.minLength(1, 'a rule needs actions')),
  /** the message a broken rule reports (defaults to the rule's name) */
  message: v.optional(text('a message'))
}, expected('a business rule object')), v.readonly())
export type BusinessRule = v.InferOutput<typeof BusinessRuleSchema>

export interface FormState {
  /** the values with set-value and set-default applied */
  readonly values: Record<string, unknown>
  readonly required: ReadonlySet<string>
  readonly locked: ReadonlySet<string>
  readonly errors: readonly { readonly rule: string, readonly field: string | null, readonly message: string }[]
}

/** What the rule schema cannot see: the entity and fields exist, set values fit their fields. Paths start at the list. */
export const ruleProblems = (catalog: Catalog, rules: readonly BusinessRule[]): Problem[] => {
  const problems: Problem[] = []
  rules.forEach((r, i) => {
    const e = catalog.entities.get(r.entity)
    if (e === undefined) { problems.push({ path: [i, 'entity'], message: `unknown entity "${r.entity}"` }); return }
    if (r.condition !== undefined) problems.push(...filterProblems(e, r.condition, [i, 'condition']))
    r.actions.forEach((a, j) => {
      if (a.field === undefined) return
      const attr = e.attributes.find(x => x.name === a.field)
      if (attr === undefined) { problems.push({ path: [i, 'actions', j, 'field'], message: `${r.entity} has no field "${a.field}"` }); return }
      const wrong = a.type === 'set-value' || a.type === 'set-default' ? checkValue(attr, a.value) : null
      if (wrong !== null) problems.push({ path: [i, 'actions', j, 'value'], message: wrong })
    })
  })
  return problems
}

const empty = (v: unknown): boolean => v === undefined || v === null || v === ''

/** The form state of a record's values under the entity's rules (rules apply in order). */
export const evaluateRules = (rules: readonly BusinessRule[], entity: string, input: Readonly<Record<string, unknown>>): FormState => {
  const values: Record<string, unknown> = { ...input }
  const required = new Set<string>()
  const locked = new Set<string>()
  const errors: { rule: string, field: string | null, message: string }[] = []
  for (const r of rules) {
    if (r.entity !== entity) continue
    if (r.condition !== undefined && !matches(values, r.condition)) continue
    for (const a of r.actions) {
      switch (a.type) {
        case 'set-value': values[a.field] = a.value; break
        case 'set-default': if (empty(values[a.field])) values[a.field] = a.value; break
        case 'set-required': if (a.required) required.add(a.field); else required.delete(a.field); break
        case 'lock': locked.add(a.field); break
        case 'unlock': locked.delete(a.field); break
        case 'show-error': errors.push({ rule: r.name, field: a.field ?? null, message: a.message }); break
      }
    }
  }
  return { values, required, locked, errors }
}

/**
 * Why saving `after` (changed from `before` in `changedFields`) breaks a rule, or null: an error a rule
 * shows, a required field left empty, or a locked field changed.
 */
export const saveViolation = (rules: readonly BusinessRule[], entity: string, before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>, changedFields: readonly string[]): string | null => {
  const state = evaluateRules(rules, entity, after)
  if (state.errors.length > 0) return state.errors[0].message
  for (const f of state.required) if (empty(after[f])) return `${f} is required`
  const lockedBefore = evaluateRules(rules, entity, before).locked
  for (const f of changedFields) if (lockedBefore.has(f) && state.locked.has(f)) return `${f} is locked`
  return null
}
