// Business rules: conditions (field comparisons joined by and/or) and actions (set value, set default,
// set required, lock or unlock a field, show an error). The device runs them while editing (form state)
// and before saving; the server projection runs the same code and drops a save that breaks one.

import * as v from 'valibot'
import type { Catalog } from '../docs/catalog-types.ts'
import { checkValue } from '../docs/values.ts'
import { attributeValues, type RecordState } from '../docs/record.ts'
import { expected, list, text, type Problem } from '../schema.ts'
import { filterFields, filterProblems, FilterSchema, matches, ScalarSchema } from '../docs/filters.ts'

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
  /** the fields a set-value or set-default action wrote into `values` */
  readonly set: ReadonlySet<string>
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

const rulesByEntity = new WeakMap<readonly BusinessRule[], Map<string, readonly BusinessRule[]>>()

/** An entity's rules, in their order (worked out once per rules list and entity: every save asks). */
export const rulesOf = (rules: readonly BusinessRule[], entity: string): readonly BusinessRule[] => {
  let byEntity = rulesByEntity.get(rules)
  if (byEntity === undefined) { byEntity = new Map(); rulesByEntity.set(rules, byEntity) }
  let own = byEntity.get(entity)
  if (own === undefined) { own = rules.filter(r => r.entity === entity); byEntity.set(entity, own) }
  return own
}

const fieldsOfRules = new WeakMap<readonly BusinessRule[], Map<string, ReadonlySet<string>>>()

/** The fields an entity's rules read or set: their conditions' and their actions' (metadata is fixed while
 * a server runs, so this is worked out once per rules list and entity). */
export const ruleFields = (rules: readonly BusinessRule[], entity: string): ReadonlySet<string> => {
  let byEntity = fieldsOfRules.get(rules)
  if (byEntity === undefined) { byEntity = new Map(); fieldsOfRules.set(rules, byEntity) }
  let fields = byEntity.get(entity)
  if (fields === undefined) {
    fields = new Set(rules.filter(r => r.entity === entity).flatMap(r => [...(r.condition === undefined ? [] : filterFields(r.condition)), ...r.actions.flatMap(a => a.field === undefined ? [] : [a.field])]))
    byEntity.set(entity, fields)
  }
  return fields
}

/** The values business rules see in a record: fields, texts, statecode and owner (the server's decisions and the device's forms alike). */
export const ruleInput = (s: RecordState): Record<string, unknown> => {
  // (attributeValues, copied once: every update's decision reads the rules' input twice.)
  const input: Record<string, unknown> = attributeValues(s)
  input.statecode = s.meta.statecode
  input.ownerid = s.meta.ownerid
  return input
}

const keysRead = new WeakMap<readonly BusinessRule[], Map<string, readonly string[]>>()

/**
 * `ruleInput(s)` (`meta: false`: `attributeValues(s)`) with only the keys the entity's rules read, their
 * fields and statecode and owner: the rules decide the same on it. (The server decides every update with
 * them; a record has dozens of fields and its rules read a few.)
 */
export const ruleInputOf = (rules: readonly BusinessRule[], entity: string, s: RecordState, meta = true): Record<string, unknown> => {
  let byEntity = keysRead.get(rules)
  if (byEntity === undefined) { byEntity = new Map(); keysRead.set(rules, byEntity) }
  let keys = byEntity.get(entity)
  if (keys === undefined) {
    keys = [...ruleFields(rules, entity)].filter(k => k !== 'statecode' && k !== 'ownerid')
    byEntity.set(entity, keys)
  }
  const input: Record<string, unknown> = {}
  // (As attributeValues: a text wins over a field of the same name.)
  for (const k of keys) {
    const v = s.texts[k] ?? s.fields[k]
    if (v !== undefined) input[k] = v
  }
  if (meta) { input.statecode = s.meta.statecode; input.ownerid = s.meta.ownerid }
  return input
}

const empty = (v: unknown): boolean => v === undefined || v === null || v === ''

/**
 * The form state of a record's values under the entity's rules (rules apply in order, each seeing what
 * the earlier ones set). `defaults: false` leaves set-default out (a save of an existing record: a
 * default is written when a record is created, README "Business rules").
 */
export const evaluateRules = (rules: readonly BusinessRule[], entity: string, input: Readonly<Record<string, unknown>>, { defaults = true } = {}): FormState => {
  const s = evaluate(rules, entity, input, defaults)
  return { values: s.values === input ? { ...input } : s.values, set: s.set ?? new Set(), required: s.required ?? new Set(), locked: s.locked ?? new Set(), errors: s.errors ?? [] }
}

/** What evaluateRules finds, made only as far as the rules act: `values` is `input` itself until a rule
 * sets one (then a copy), and a set or list no action touches is left undefined. (The server runs the
 * rules on every update; most rules act on few records.) */
interface Evaluated {
  readonly values: Readonly<Record<string, unknown>>
  readonly set?: Set<string>
  readonly required?: Set<string>
  readonly locked?: Set<string>
  readonly errors?: { rule: string, field: string | null, message: string }[]
}

const evaluate = (rules: readonly BusinessRule[], entity: string, input: Readonly<Record<string, unknown>>, defaults: boolean): Evaluated => {
  let values = input
  let set: Set<string> | undefined
  let required: Set<string> | undefined
  let locked: Set<string> | undefined
  let errors: { rule: string, field: string | null, message: string }[] | undefined
  const write = (field: string, value: unknown): void => {
    if (values === input) values = { ...input }
    ;(values as Record<string, unknown>)[field] = value
    ;(set ??= new Set()).add(field)
  }
  for (const r of rules) {
    if (r.entity !== entity) continue
    if (r.condition !== undefined && !matches(values, r.condition)) continue
    for (const a of r.actions) {
      switch (a.type) {
        case 'set-value': write(a.field, a.value); break
        case 'set-default': if (defaults && empty(values[a.field])) write(a.field, a.value); break
        case 'set-required': if (a.required) (required ??= new Set()).add(a.field); else required?.delete(a.field); break
        case 'lock': (locked ??= new Set()).add(a.field); break
        case 'unlock': locked?.delete(a.field); break
        case 'show-error': (errors ??= []).push({ rule: r.name, field: a.field ?? null, message: a.message }); break
      }
    }
  }
  return { values, set, required, locked, errors }
}

/**
 * The values the rules write when a record is saved with `values` (`creating`: a new record, so
 * set-default applies too): each field a set-value (or set-default) action sets to something other than
 * what `values` holds. The device writes them with the user's change; the server writes those a saved
 * update left otherwise (src/projection/rule-writes.ts).
 */
export const ruleValues = (rules: readonly BusinessRule[], entity: string, values: Readonly<Record<string, unknown>>, creating: boolean): Record<string, string | number | boolean> => {
  const state = evaluateRules(rules, entity, values, { defaults: creating })
  const out: Record<string, string | number | boolean> = {}
  for (const f of state.set) {
    const v = state.values[f]
    if (v !== values[f] && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) out[f] = v
  }
  return out
}

/**
 * Why saving `after` (changed from `before` in `changedFields`) breaks a rule, or null: an error a rule
 * shows, a required field left empty, or a locked field changed. A locked field changed to the value a
 * rule sets it to is no violation: that is the rule's own write (so a field locked at a stale value can
 * take the rule's value, and a device that wrote it is not refused for it).
 */
export const saveViolation = (rules: readonly BusinessRule[], entity: string, before: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>), after: Readonly<Record<string, unknown>>, changedFields: readonly string[]): string | null => {
  const state = evaluate(rules, entity, after, true)
  if (state.errors !== undefined && state.errors.length > 0) return state.errors[0].message
  for (const f of state.required ?? []) if (empty(after[f])) return `${f} is required`
  const locked = state.locked
  // (What was locked before matters only for a field locked now.)
  if (locked === undefined || locked.size === 0) return null
  const lockedBefore = evaluate(rules, entity, typeof before === 'function' ? before() : before, true).locked
  const rulesOwn = (f: string): boolean => state.set?.has(f) === true && state.values[f] === after[f]
  for (const f of changedFields) if (lockedBefore?.has(f) === true && locked.has(f) && !rulesOwn(f)) return `${f} is locked`
  return null
}
