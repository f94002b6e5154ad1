// System views and quick views: declared per entity, validated, and run on a device against its local
// index (filters with and/or, src/docs/filters.ts; sort, paging). What cannot run offline is refused with its reason.

import * as v from 'valibot'
import type { Catalog } from '../docs/catalog-types.ts'
import { filterable, filterProblems, FilterSchema, matches, readingOrder } from '../docs/filters.ts'
import { expected, list, oneOf, text, type Problem } from '../schema.ts'
import { ErrorCode, FieldsyncError } from '../errors.ts'

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

/** What the view schema cannot see: entities and fields that exist, one view per name and entity. Paths start at the list. */
export const viewProblems = (catalog: Catalog, views: readonly ViewDef[]): Problem[] => {
  const problems: Problem[] = []
  const names = new Set<string>()
  views.forEach((view, i) => {
    if (names.has(`${view.entity}/${view.name}`)) problems.push({ path: [i, 'name'], message: `duplicate view name (${view.entity} has another view "${view.name}")` })
    names.add(`${view.entity}/${view.name}`)
    const e = catalog.entities.get(view.entity)
    if (e === undefined) { problems.push({ path: [i, 'entity'], message: `unknown entity "${view.entity}"` }); return }
    view.columns.forEach((c, j) => { if (!filterable(e, c)) problems.push({ path: [i, 'columns', j], message: `${e.name} has no field "${c}"` }) })
    view.sort?.forEach((s, j) => { if (!filterable(e, s.field)) problems.push({ path: [i, 'sort', j, 'field'], message: `${e.name} has no field "${s.field}"` }) })
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

export interface ViewPage { readonly rows: readonly Record<string, Value>[], readonly total: number, readonly page: number, readonly pageSize: number }

/** Runs a view over indexed rows (`record` plus values): filter, sort, page; returns the view's columns. */
export const runView = (view: ViewDef, rows: readonly { record: string, values: Readonly<Record<string, Value>> }[], page = 1, pageSize = 50): ViewPage => {
  const hits = view.filter === undefined ? [...rows] : rows.filter(r => matches(r.values, view.filter!))
  const sort = view.sort ?? []
  hits.sort((a, b) => {
    for (const s of sort) {
      const c = readingOrder(a.values[s.field], b.values[s.field])
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
