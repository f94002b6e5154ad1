// Filters over a record's values: a view's filter, a business rule's condition and a profile's custom
// rule (conditions joined by and/or). Their operators, their schema, the fields they may name, and the
// one matcher, which compares either as a person reads a record's values or as a projected row stores them.

import * as v from 'valibot'
import type { EntityDef } from './catalog-types.ts'
import { sqlValue } from './row.ts'
import { FILTER_SYSTEM_FIELDS } from './system-fields.ts'
import { expected, isObject, list, oneOf, text, type PathKey, type Problem } from '../schema.ts'

export const FILTER_OPS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'contains', 'begins-with', 'null', 'not-null'] as const
export type FilterOp = typeof FILTER_OPS[number]
/** Operators that test presence and take no value. */
export const PRESENCE_OPS: readonly FilterOp[] = ['null', 'not-null']
/** Operators that compare text. */
const TEXT_OPS: readonly FilterOp[] = ['contains', 'begins-with']

/** A value a filter compares with or a rule sets. */
export const ScalarSchema = v.union([v.string(), v.number(), v.boolean()], expected('a string, number or boolean'))
export type Scalar = v.InferOutput<typeof ScalarSchema>

export interface Condition { readonly field: string, readonly op: FilterOp, readonly value?: Scalar }

// Written out because valibot cannot infer a recursive type; FilterSchema below is checked against it.
export type Filter =
  | { readonly and: readonly Filter[] }
  | { readonly or: readonly Filter[] }
  | Condition

const ConditionSchema = v.pipe(
  v.strictObject({ field: text('a field name'), op: v.picklist(FILTER_OPS, oneOf(FILTER_OPS)), value: v.optional(ScalarSchema) }),
  v.forward(v.check(c => PRESENCE_OPS.includes(c.op) === (c.value === undefined),
    issue => PRESENCE_OPS.includes(issue.input.op) ? `"${issue.input.op}" takes no value` : `"${issue.input.op}" needs a value to compare with`), ['value']),
  v.forward(v.check(c => !TEXT_OPS.includes(c.op) || typeof c.value === 'string', issue => `"${issue.input.op}" compares text: expected a string, got ${JSON.stringify(issue.input.value)}`), ['value']),
  v.readonly()
)

const NOT_A_FILTER = v.custom<never>(() => false, issue => `expected a filter: { "field", "op", "value" }, { "and": [filters] } or { "or": [filters] }, got ${issue.received}`)

/** A filter, told apart by its keys so that an error names the branch the author meant, not every branch. */
export const FilterSchema: v.GenericSchema<Filter> = v.lazy(input =>
  !isObject(input) ? NOT_A_FILTER : 'and' in input ? AndSchema : 'or' in input ? OrSchema : ConditionSchema)

const filters = v.pipe(list(FilterSchema, 'an array of filters'), v.minLength(1, 'and/or needs a non-empty list'))
const AndSchema = v.pipe(v.strictObject({ and: filters }), v.readonly())
const OrSchema = v.pipe(v.strictObject({ or: filters }), v.readonly())

/** Whether a filter on `e` may name `field`: one of its attributes, or a system field. */
export const filterable = (e: EntityDef, field: string): boolean =>
  e.attributes.some(a => a.name === field) || (FILTER_SYSTEM_FIELDS as readonly string[]).includes(field)

/** Problems with the fields a (parsed) filter names on `entity`; paths start at `at`. */
export const filterProblems = (e: EntityDef, f: Filter, at: readonly PathKey[]): Problem[] => {
  if ('and' in f) return f.and.flatMap((x, i) => filterProblems(e, x, [...at, 'and', i]))
  if ('or' in f) return f.or.flatMap((x, i) => filterProblems(e, x, [...at, 'or', i]))
  return filterable(e, f.field) ? [] : [{ path: [...at, 'field'], message: `${e.name} has no field "${f.field}"` }]
}

/** Empty values first; text compares case-insensitively, as a person reads a sorted list (and views sort). */
export const readingOrder = (a: unknown, b: unknown): number => {
  if (a === b) return 0
  if (a === undefined || a === null) return -1
  if (b === undefined || b === null) return 1
  const x = typeof a === 'string' ? a.toLowerCase() : a as number
  const y = typeof b === 'string' ? b.toLowerCase() : b as number
  return x < y ? -1 : x > y ? 1 : 0
}

/** JavaScript's own order of stored (SQL) values, as `<` and `>` see them: text by code unit; NaN when they do not compare. */
const storedOrder = (a: unknown, b: unknown): number => {
  const x = a as number
  const y = b as number
  return x < y ? -1 : x > y ? 1 : x >= y ? 0 : NaN
}

/** How a filter compares its value with a record's. */
export interface Comparing {
  /** the filter's value as the compared values hold it */
  readonly operand: (value: Scalar) => unknown
  /** the order of gt, ge, lt and le (NaN: neither) */
  readonly order: (a: unknown, b: unknown) => number
}

/** A record's values (a device's index, a form's values): booleans as booleans, text ordered as a person reads it. */
export const RECORD_VALUES: Comparing = { operand: value => value, order: readingOrder }
/** A projected row (`Row`): booleans as 1 and 0, text ordered by code unit, as SQLite orders it. */
export const ROW_VALUES: Comparing = { operand: sqlValue, order: storedOrder }

const present = (x: unknown): boolean => x !== undefined && x !== null

/** Whether `values` pass the filter `f`. */
export const matches = (values: Readonly<Record<string, unknown>>, f: Filter, comparing: Comparing = RECORD_VALUES): boolean => {
  if ('and' in f) return f.and.every(x => matches(values, x, comparing))
  if ('or' in f) return f.or.some(x => matches(values, x, comparing))
  const v = values[f.field]
  const want = f.value === undefined ? undefined : comparing.operand(f.value)
  switch (f.op) {
    case 'null': return !present(v)
    case 'not-null': return present(v)
    case 'eq': return v === want
    case 'ne': return v !== want
    case 'contains': return typeof v === 'string' && typeof want === 'string' && v.toLowerCase().includes(want.toLowerCase())
    case 'begins-with': return typeof v === 'string' && typeof want === 'string' && v.toLowerCase().startsWith(want.toLowerCase())
    case 'gt': return present(v) && comparing.order(v, want) > 0
    case 'ge': return present(v) && comparing.order(v, want) >= 0
    case 'lt': return present(v) && comparing.order(v, want) < 0
    case 'le': return present(v) && comparing.order(v, want) <= 0
  }
}

/** The fields a filter compares. */
export const filterFields = (f: Filter): string[] =>
  'and' in f ? f.and.flatMap(filterFields) : 'or' in f ? f.or.flatMap(filterFields) : [f.field]
