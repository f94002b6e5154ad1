// The shape of the entity catalog: entities, their attributes and types, relationships and offline commands.

export type AttributeType =
  | 'text' // single line string
  | 'memo' // multi-line text, a Y.Text so concurrent edits merge character by character
  | 'whole' // integer
  | 'decimal'
  | 'money'
  | 'boolean'
  | 'date' // YYYY-MM-DD
  | 'datetime' // ISO 8601 UTC, e.g. 2026-11-27T09:00:00.000Z
  | 'optionset' // integer option value
  | 'lookup' // reference to a record: `<entity>/<id>`

export const ATTRIBUTE_TYPES: readonly AttributeType[] = [
  'text', 'memo', 'whole', 'decimal', 'money', 'boolean', 'date', 'datetime', 'optionset', 'lookup'
]

export interface OptionDef { readonly value: number, readonly label: string }

export interface AttributeDef {
  readonly name: string
  readonly type: AttributeType
  readonly label: string
  /** text and memo: most characters (default 200 for text, 100,000 for memo) */
  readonly maxLength?: number
  /** whole, decimal, money */
  readonly min?: number
  readonly max?: number
  /** decimal and money: digits after the point (default 2 for money, 4 for decimal) */
  readonly precision?: number
  /** optionset */
  readonly options?: readonly OptionDef[]
  /** lookup: the entities it may point at */
  readonly targets?: readonly string[]
}

/** What a user may do with an entity while offline (DESIGN.md, "Rules the system must follow"). */
export type OfflineCommand =
  | 'create' | 'read' | 'update' | 'delete'
  | 'qualify' | 'disqualify' | 'convert-to-case'
  | 'edit' | 'mark-complete' | 'refresh' | 'convert-to-opportunity'

export interface EntityDef {
  readonly name: string
  readonly label: string
  /** the attribute shown as the record's name */
  readonly primaryName: string
  readonly attributes: readonly AttributeDef[]
  readonly commands: readonly OfflineCommand[]
  readonly custom: boolean
  /** activities share the activity pointer */
  readonly activity?: boolean
  /** the activity pointer: a read/delete view over the activity entities, with no records of its own
   * (src/docs/activity-pointer.ts) */
  readonly pointer?: boolean
}

export type RelationshipKind = 'N:1' | '1:N' | 'N:N'

export interface RelationshipDef {
  readonly name: string
  readonly kind: RelationshipKind
  /** the entity the relationship is seen from */
  readonly from: string
  readonly to: string
  /** N:1 and 1:N: the lookup attribute (on `from` for N:1, on `to` for 1:N) */
  readonly attribute?: string
}

export interface Catalog {
  readonly entities: ReadonlyMap<string, EntityDef>
  readonly relationships: readonly RelationshipDef[]
}

export const attributeOf = (entity: EntityDef, name: string): AttributeDef | undefined =>
  entity.attributes.find(a => a.name === name)

export const allows = (entity: EntityDef, command: OfflineCommand): boolean => entity.commands.includes(command)
