// System views and quick views: declared per entity, validated, and run on a device against its local
// index (filters with and/or, sort, paging). What cannot run offline is refused with its reason.

import * as v from 'valibot'
import type { Catalog, EntityDef } from '../docs/catalog-types.ts'
import { expected, list, oneOf, text, type PathKey, type Problem } from '../schema.ts'
import { ErrorCode, FieldsyncError } from '../errors.ts'

export const FILTER_OPS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'contains', 'begins-with', 'null', 'not-null'] as const
export type FilterOp = typeof FILTER_OPS[number]
/** Operators that test presence and take no value. */
const PRESENCE_OPS: readonly FilterOp[] = ['null', 'not-null']
const TEXT_OPS: readonly FilterOp[] = ['contains', 'begins-with']

/** A value a filter compares with or a rule sets. */
export const ScalarSchema = v.union([v.string(), v.number(), v.boolean()], expected('a string, number or boolean'))

// Written out because valibot cannot infer a recursive type; FilterSchema below is checked against it.
export type Filter =
  | { readonly and: readonly Filter[] }
  | { readonly or: readonly Filter[] }
  | { readonly field: string, readonly op: FilterOp, readonly value?: string | number | boolean }

const ConditionSchema = v.pipe(
  v.strictObject({ field: text('a field name'), op: v.picklist(FILTER_OPS, oneOf(FILTER_OPS)), value: v.optional(ScalarSchema) }),
  v.forward(v.check(c => PRESENCE_OPS.includes(c.op) === (c.value === undefined),
    issue => PRESENCE_OPS.includes(issue.input.op) ? `"${issue.input.op}" takes no value` : `"${issue.input.op}" needs a value to compare with`), ['value']),
  v.forward(v.check(c => !TEXT_OPS.includes(c.op) || typeof c.value === 'string', issue => `"${issue.input.op}" compares text: expected a string, got ${JSON.stringify(issue.input.value)}`), ['value']),
  v.readonly()
)

const isObject = (x: unknown): x is object => typeof x === 'object' && x !== null && !Array.isArray(x)

const NOT_A_FILTER = v.custom<never>(() => false, issue => `expected a filter: { "field", "op", "value" }, { "and": [filters] } or { "or": [filters] }, got ${issue.received}`)

/** A filter, told apart by its keys so that an error names the branch the author meant, not every branch. */
export const FilterSchema: v.GenericSchema<Filter> = v.lazy(input =>
  !isObject(input) ? NOT_A_FILTER : 'and' in input ? AndSchema : 'or' in input ? OrSchema : ConditionSchema)

const filters = v.pipe(list(FilterSchema, 'an array of filters'), v.minLength(1, 'and/or needs a non-empty list'))
const AndSchema = v.pipe(v.strictObject({ and: filters }), v.readonly())
const OrSchema = v.pipe(v.strictObject({ or: filters }), v.readonly())

export const VIEW_KINDS = ['system', 'quick', 'personal'] as const

export const ViewSchema = v.pipe(v.strictObject({
  name: text('a view name'),
  entity: text('an entity name'),
  /** system views and quick views run offline; personal views never do */
  kind: v.picklist(VIEW_KINDS, oneOf(VIEW_KINDS)),
  columns: v.pipe(list(text('a field name'), 'an array of field names'), v.minLength(1, 'a view needs columns')),
  filter: v.optional(FilterSchema),
  sort: v.optional(list(v.pipe(v.strictObject({
    field: text('a field name'),
    descending: v.optional(v.boolean(expected('true or false')))
  }, expected('{ "field", "descending" }')), v.readonly()), 'an array of { "field", "descending" }')),
  /** entities the view joins (all must be offline-enabled for it to run offline) */
  linkedEntities: v.optional(list(v.pipe(v.string(expected('an entity name')), v.regex(/^[a-z][a-z0-9_]*$/, issue => `bad entity name ${issue.received}`)), 'an array of entity names'))
}, expected('a view object')), v.readonly())
export type ViewDef = v.InferOutput<typeof ViewSchema>

/** Entities whose views are unavailable offline (DESIGN.md). */
export const NO_OFFLINE_VIEWS: readonly string[] = [
  'email', 'task', 'fax', 'letter', 'serviceappointment', 'campaignresponse', 'campaignactivity', 'recurringappointmentmaster', 'socialactivity'
]

/** Why a view cannot run on a device (declarations are checked at start, by the metadata parse). */
export class ViewError extends FieldsyncError {
  override name = 'ViewError'
  readonly reason: 'personal-view' | 'entity-views-offline-unavailable' | 'linked-entity-not-offline' | 'unknown-view'
  constructor (reason: ViewError['reason'], message: string) {
    super(ErrorCode.viewUnavailable, `${reason}: ${message}`)
    this.reason = reason
  }
}

const SYSTEM_FIELDS = ['ownerid', 'owningbusinessunit', 'statecode', 'createdon', 'modifiedon', 'createdby', 'modifiedby']

const hasField = (e: EntityDef, field: string): boolean => e.attributes.some(a => a.name === field) || SYSTEM_FIELDS.includes(field)

/** Problems with the fields a (parsed) filter names on `entity`; paths start at `at`. */
export const filterProblems = (e: EntityDef, f: Filter, at: readonly PathKey[]): Problem[] => {
  if ('and' in f) return f.and.flatMap((x, i) => filterProblems(e, x, [...at, 'and', i]))
  if ('or' in f) return f.or.flatMap((x, i) => filterProblems(e, x, [...at, 'or', i]))
  return hasField(e, f.field) ? [] : [{ path: [...at, 'field'], message: `${e.name} has no field "${f.field}"` }]
}

/** What the view schema cannot see: entities and fields that exist, one view per name and entity. Paths start at the list. */
export const viewProblems = (catalog: Catalog, views: readonly ViewDef[]): Problem[] => {
  const problems: Problem[] = []
  const names = new Set<string>()
  views.forEach((view, i) => {
    if (names.has(`${view.entity}/${view.name}`)) problems.push({ path: [i, 'name'], message: `duplicate view name (${view.entity} has another view "${view.name}")` })
    names.add(`${view.entity}/${view.name}`)
    const e = catalog.entities.get(view.entity)
    if (e === undefined) { problems.push({ path: [i, 'entity'], message: `unknown entity "${view.entity}"` }); return }
    view.columns.forEach((c, j) => { if (!hasField(e, c)) problems.push({ path: [i, 'columns', j], message: `${e.name} has no field "${c}"` }) })
    view.sort?.forEach((s, j) => { if (!hasField(e, s.field)) problems.push({ path: [i, 'sort', j, 'field'], message: `${e.name} has no field "${s.field}"` }) })
    if (view.filter !== undefined) problems.push(...filterProblems(e, view.filter, [i, 'filter']))
  })
  return problems
}

/** Throws ViewError when `view` cannot run offline on a device whose profile enables `offline` entities. */
export const checkOffline = (view: ViewDef, offline: ReadonlySet<string>): void => {
  if (view.kind === 'personal') throw new ViewError('personal-view', `"${view.name}" is a personal view; only system and quick views work offline`)
  if (NO_OFFLINE_VIEWS.includes(view.entity)) throw new ViewError('entity-views-offline-unavailable', `views of ${view.entity} are not available offline`)
  const missing = [view.entity, ...(view.linkedEntities ?? [])].filter(e => !offline.has(e))
  if (missing.length > 0) throw new ViewError('linked-entity-not-offline', `"${view.name}" needs ${missing.join(', ')}, which this device's profile does not take offline`)
}

type Value = unknown

/** Empty values first; text compares case-insensitively, as a person reads a sorted list. */
const compare = (a: Value, b: Value): number => {
  if (a === b) return 0
  if (a === undefined || a === null) return -1
  if (b === undefined || b === null) return 1
  const x = typeof a === 'string' ? a.toLowerCase() : a as number
  const y = typeof b === 'string' ? b.toLowerCase() : b as number
  return x < y ? -1 : x > y ? 1 : 0
}

export const matches = (values: Readonly<Record<string, Value>>, f: Filter): boolean => {
  if ('and' in f) return f.and.every(x => matches(values, x))
  if ('or' in f) return f.or.some(x => matches(values, x))
  const v = values[f.field]
  switch (f.op) {
    case 'null': return v === undefined || v === null
    case 'not-null': return v !== undefined && v !== null
    case 'eq': return v === f.value
    case 'ne': return v !== f.value
    case 'contains': return typeof v === 'string' && typeof f.value === 'string' && v.toLowerCase().includes(f.value.toLowerCase())
    case 'begins-with': return typeof v === 'string' && typeof f.value === 'string' && v.toLowerCase().startsWith(f.value.toLowerCase())
    case 'gt': return v !== undefined && v !== null && compare(v, f.value) > 0
    case 'ge': return v !== undefined && v !== null && compare(v, f.value) >= 0
    case 'lt': return v !== undefined && v !== null && compare(v, f.value) < 0
    case 'le': return v !== undefined && v !== null && compare(v, f.value) <= 0
  }
}

export interface ViewPage { readonly rows: readonly Record<string, Value>[], readonly total: number, readonly page: number, readonly pageSize: number }

/** Runs a view over indexed rows (`record` plus values): filter, sort, page; returns the view's columns. */
export const runView = (view: ViewDef, rows: readonly { record: string, values: Readonly<Record<string, Value>> }[], page = 1, pageSize = 50): ViewPage => {
  const hits = view.filter === undefined ? [...rows] : rows.filter(r => matches(r.values, view.filter!))
  const sort = view.sort ?? []
  hits.sort((a, b) => {
    for (const s of sort) {
      const c = compare(a.values[s.field], b.values[s.field])
      if (c !== 0) return s.descending === true ? -c : c
    }
    return a.record < b.record ? -1 : a.record > b.record ? 1 : 0
  })
  const start = (page - 1) * pageSize
  return {
    total: hits.length, page, pageSize,
    rows: hits.slice(start, start + pageSize).map(r => ({ record: r.record, ...Object.fromEntries(view.columns.map(c => [c, r.values[c] ?? null])) }))
  }
}
