// Business rules: conditions (field comparisons joined by and/or) and actions (set value, set default,
// set required, lock or unlock a field, show an error). The device runs them while editing (form state)
// and before saving; the server projection runs the same code and drops a save that breaks one.

import type { Catalog } from '../docs/catalog-types.ts'
import { checkValue } from '../docs/values.ts'
import { matches, type Filter } from './views.ts'

export type RuleAction =
  | { readonly type: 'set-value', readonly field: string, readonly value: string | number | boolean }
  | { readonly type: 'set-default', readonly field: string, readonly value: string | number | boolean }
  | { readonly type: 'set-required', readonly field: string, readonly required: boolean }
  | { readonly type: 'lock', readonly field: string }
  | { readonly type: 'unlock', readonly field: string }
  | { readonly type: 'show-error', readonly field?: string, readonly message: string }

export interface BusinessRule {
  readonly entity: string
  readonly name: string
  /** when absent the rule always applies */
  readonly condition?: Filter
  readonly actions: readonly RuleAction[]
  /** the message a broken rule reports (defaults to the rule's name) */
  readonly message?: string
}

export interface FormState {
  /** the values with set-value and set-default applied */
  readonly values: Record<string, unknown>
  readonly required: ReadonlySet<string>
  readonly locked: ReadonlySet<string>
  readonly errors: readonly { readonly rule: string, readonly field: string | null, readonly message: string }[]
}

export class RuleError extends Error {
  override name = 'RuleError'
}

/** Validates rule declarations; errors name the rule and the field. */
export const validateRules = (catalog: Catalog, rules: readonly BusinessRule[]): void => {
  for (const r of rules) {
    const at = `businessRules.${r.entity}.${r.name}`
    const e = catalog.entities.get(r.entity)
    if (e === undefined) throw new RuleError(`${at}: unknown entity`)
    if (!Array.isArray(r.actions) || r.actions.length === 0) throw new RuleError(`${at}: needs actions`)
    r.actions.forEach((a, i) => {
      const aat = `${at}.actions[${i}]`
      if (!['set-value', 'set-default', 'set-required', 'lock', 'unlock', 'show-error'].includes(a.type)) throw new RuleError(`${aat}: unknown action ${JSON.stringify(a.type)}`)
      if (a.type === 'show-error') { if (typeof a.message !== 'string' || a.message === '') throw new RuleError(`${aat}: show-error needs a message`); return }
      const attr = e.attributes.find(x => x.name === a.field)
      if (attr === undefined) throw new RuleError(`${aat}: ${r.entity} has no field "${a.field}"`)
      if ((a.type === 'set-value' || a.type === 'set-default') && checkValue(attr, a.value) !== null) throw new RuleError(`${aat}: ${checkValue(attr, a.value)}`)
    })
  }
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
