// System views and quick views: declared per entity, validated, and run on a device against its local
// index (filters with and/or, sort, paging). What cannot run offline is refused with its reason.

import type { Catalog } from '../docs/catalog-types.ts'

export type FilterOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'contains' | 'begins-with' | 'null' | 'not-null'
export const FILTER_OPS: readonly FilterOp[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'contains', 'begins-with', 'null', 'not-null']

export type Filter =
  | { readonly and: readonly Filter[] }
  | { readonly or: readonly Filter[] }
  | { readonly field: string, readonly op: FilterOp, readonly value?: string | number | boolean }

export interface ViewDef {
  readonly name: string
  readonly entity: string
  /** system views and quick views run offline; personal views never do */
  readonly kind: 'system' | 'quick' | 'personal'
  readonly columns: readonly string[]
  readonly filter?: Filter
  readonly sort?: readonly { readonly field: string, readonly descending?: boolean }[]
  /** entities the view joins (all must be offline-enabled for it to run offline) */
  readonly linkedEntities?: readonly string[]
}

/** Entities whose views are unavailable offline (DESIGN.md). */
export const NO_OFFLINE_VIEWS: readonly string[] = [
  'email', 'task', 'fax', 'letter', 'serviceappointment', 'campaignresponse', 'campaignactivity', 'recurringappointmentmaster', 'socialactivity'
]

export class ViewError extends Error {
  override name = 'ViewError'
  readonly reason: 'personal-view' | 'entity-views-offline-unavailable' | 'linked-entity-not-offline' | 'unknown-view' | 'invalid-view'
  constructor (reason: ViewError['reason'], message: string) {
    super(`${reason}: ${message}`)
    this.reason = reason
  }
}

const SYSTEM_FIELDS = ['ownerid', 'owningbusinessunit', 'statecode', 'createdon', 'modifiedon', 'createdby', 'modifiedby']

const checkFilter = (catalog: Catalog, entity: string, f: Filter, at: string): void => {
  if ('and' in f || 'or' in f) {
    const list = 'and' in f ? f.and : f.or
    if (!Array.isArray(list) || list.length === 0) throw new ViewError('invalid-view', `${at}: and/or needs a non-empty list`)
    list.forEach((x, i) => checkFilter(catalog, entity, x, `${at}.${'and' in f ? 'and' : 'or'}[${i}]`))
    return
  }
  const e = catalog.entities.get(entity)!
  if (!e.attributes.some(a => a.name === f.field) && !SYSTEM_FIELDS.includes(f.field)) throw new ViewError('invalid-view', `${at}: ${entity} has no field "${f.field}"`)
  if (!FILTER_OPS.includes(f.op)) throw new ViewError('invalid-view', `${at}: unknown op ${JSON.stringify(f.op)}`)
}

/** Validates view declarations against the catalog; errors name the view and the field. */
export const validateViews = (catalog: Catalog, views: readonly ViewDef[]): void => {
  const names = new Set<string>()
  for (const v of views) {
    const at = `views.${v.entity}.${v.name}`
    if (!catalog.entities.has(v.entity)) throw new ViewError('invalid-view', `${at}: unknown entity`)
    if (names.has(`${v.entity}/${v.name}`)) throw new ViewError('invalid-view', `${at}: duplicate view name`)
    names.add(`${v.entity}/${v.name}`)
    if (!['system', 'quick', 'personal'].includes(v.kind)) throw new ViewError('invalid-view', `${at}: kind must be system, quick or personal`)
    if (!Array.isArray(v.columns) || v.columns.length === 0) throw new ViewError('invalid-view', `${at}: needs columns`)
    const e = catalog.entities.get(v.entity)!
    for (const c of v.columns) if (!e.attributes.some(a => a.name === c) && !SYSTEM_FIELDS.includes(c)) throw new ViewError('invalid-view', `${at}.columns: no field "${c}"`)
    for (const s of v.sort ?? []) if (!e.attributes.some(a => a.name === s.field) && !SYSTEM_FIELDS.includes(s.field)) throw new ViewError('invalid-view', `${at}.sort: no field "${s.field}"`)
    for (const l of v.linkedEntities ?? []) if (!catalog.entities.has(l) && !/^[a-z][a-z0-9_]*$/.test(l)) throw new ViewError('invalid-view', `${at}.linkedEntities: bad name "${l}"`)
    if (v.filter !== undefined) checkFilter(catalog, v.entity, v.filter, `${at}.filter`)
  }
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
