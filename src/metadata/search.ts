// Offline search: one offline entity at a time over its searchable text fields (never dates),
// case-insensitive, ranked by the order of the fields that match.

import type { EntityDef } from '../docs/catalog-types.ts'
import { ErrorCode, FieldsyncError } from '../errors.ts'

export class SearchError extends FieldsyncError {
  override name = 'SearchError'
  constructor (message: string, options?: ErrorOptions) {
    super(ErrorCode.searchUnavailable, message, options)
  }
}

/** The fields search looks in: single- and multi-line text, in catalog order (dates never). */
export const searchableFields = (entity: EntityDef): string[] =>
  entity.attributes.filter(a => a.type === 'text' || a.type === 'memo').map(a => a.name)

export interface SearchHit { readonly record: string, readonly field: string, readonly rank: number, readonly values: Readonly<Record<string, unknown>> }

/**
 * Searches `rows` of `entity` for `text`. A record ranks by the first searchable field that contains the
 * text (earlier fields first); ties keep record order.
 */
export const search = (entity: EntityDef | undefined, offline: ReadonlySet<string>, rows: readonly { record: string, values: Readonly<Record<string, unknown>> }[], text: string, limit = 50): SearchHit[] => {
  if (entity === undefined) throw new SearchError('unknown entity')
  if (!offline.has(entity.name)) throw new SearchError(`${entity.name} is not offline on this device: search one offline entity at a time`)
  const needle = text.trim().toLowerCase()
  if (needle === '') throw new SearchError('search text is empty')
  const fields = searchableFields(entity)
  const hits: SearchHit[] = []
  for (const r of rows) {
    for (let i = 0; i < fields.length; i++) {
      const v = r.values[fields[i]]
      if (typeof v === 'string' && v.toLowerCase().includes(needle)) { hits.push({ record: r.record, field: fields[i], rank: i, values: r.values }); break }
    }
  }
  hits.sort((a, b) => a.rank - b.rank || (a.record < b.record ? -1 : 1))
  return hits.slice(0, limit)
}
