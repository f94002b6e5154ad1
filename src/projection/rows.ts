// The relational projection of a record: one row per live record, a typed column per attribute.

import type { AttributeType, EntityDef } from '../docs/catalog-types.ts'
import { exists, isDeleted, type RecordState } from '../docs/record.ts'
import type { MetaKey } from '../docs/system-fields.ts'

import { sqlValue, type Row, type SqlValue } from '../docs/row.ts'
export { sqlValue, type Row, type SqlValue }

export type ColumnKind = 'text' | 'integer' | 'real'

/** The columns every projected table has before its attributes. */
export const SYSTEM_COLUMNS: readonly { name: MetaKey, kind: ColumnKind }[] = [
  { name: 'id', kind: 'text' }, { name: 'ownerid', kind: 'text' }, { name: 'owningbusinessunit', kind: 'text' },
  { name: 'statecode', kind: 'integer' }, { name: 'activestage', kind: 'text' }, { name: 'createdby', kind: 'text' }, { name: 'createdon', kind: 'text' },
  { name: 'modifiedby', kind: 'text' }, { name: 'modifiedon', kind: 'text' }
]

const KIND: Readonly<Record<AttributeType, ColumnKind>> = {
  text: 'text', memo: 'text', whole: 'integer', decimal: 'real', money: 'real', boolean: 'integer',
  date: 'text', datetime: 'text', optionset: 'integer', lookup: 'text'
}

export const tableName = (entity: string): string => `rec_${entity}`

export const columnsOf = (entity: EntityDef): { name: string, kind: ColumnKind }[] => [
  ...SYSTEM_COLUMNS,
  ...entity.attributes.filter(a => !SYSTEM_COLUMNS.some(s => s.name === a.name)).map(a => ({ name: a.name, kind: KIND[a.type] }))
]

const SYSTEM_NAMES: ReadonlySet<string> = new Set(SYSTEM_COLUMNS.map(c => c.name))
const projected = new WeakMap<EntityDef, { name: string, memo: boolean }[]>()

/**
 * The row of a record state, or null when the record does not exist or is deleted. Attributes in `omit`
 * (secured fields, kept in their own documents) are left out, so the row keeps what they hold.
 */
export const rowOf = (entity: EntityDef, s: RecordState, omit?: ReadonlySet<string>): Row | null => {
  if (!exists(s) || isDeleted(s)) return null
  let attrs = projected.get(entity)
  if (attrs === undefined) {
    attrs = entity.attributes.filter(a => !SYSTEM_NAMES.has(a.name)).map(a => ({ name: a.name, memo: a.type === 'memo' }))
    projected.set(entity, attrs)
  }
  const row: Row = {}
  for (const c of SYSTEM_COLUMNS) row[c.name] = sqlValue(s.meta[c.name])
  for (const a of attrs) if (omit === undefined || !omit.has(a.name)) row[a.name] = sqlValue(a.memo ? s.texts[a.name] : s.fields[a.name])
  return row
}
